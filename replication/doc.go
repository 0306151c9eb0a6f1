// Package replication carries Raft messages between the members of one
// rmqlog group over TCP. It moves frames and knows nothing of Raft: package
// engine decides what to send and what a message means.
//
// # Connections
//
// Every connection is one-directional. Each node dials each other member
// once for its own outbound messages (a Peer) and accepts the connections
// the others dial to it; a response travels on the responder's own outbound
// link, never back on the connection the request came in on:
//
//	n0                                   n1
//	Peer("n1").Send ──── n0 -> n1 ────▶ accept, reader goroutine ─▶ Handler
//	Handler ◀─ reader goroutine ◀──── n1 -> n0 ──── Peer("n0").Send
//
// A connection opens with the handshake of package wire (group, dialer id,
// expected listener id); the listener refuses a wrong group, an unknown
// dialer or a wrong target with a status and a reason, then closes. After
// it, the dialer writes frames (wire.AppendHeader and the entries, one
// writev per message) and the listener's reader goroutine decodes them in
// order and calls the Handler. A malformed handshake or frame closes only
// that connection; the dialer redials on its next Send.
//
// # Goroutines and ownership
//
// A Transport starts one accept goroutine and one reader goroutine per
// inbound connection; Close stops and waits for all of them. Sending starts
// no goroutine: Peer.Send dials, writes and returns on the caller's
// goroutine (the engine's dispatcher for that member), bounded by
// Config.DialTimeout and Config.WriteTimeout, and fails fast for
// Config.RedialBackoff after a failed dial so that a dispatcher never spins
// on a dead member. docs/protocol.md has the bytes and what each message
// means.
package replication
