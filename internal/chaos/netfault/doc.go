// Package netfault is an in-process, frame-aware TCP fault proxy for the
// peer (replication) links of an rmqlog group, for fault campaigns that run
// real rmqlog nodes on 127.0.0.1. It partitions, blocks one way, drops,
// duplicates, reorders and delays whole Raft frames, and never cuts a frame
// in half.
//
// # Wiring
//
// A Net owns one listener per ordered pair of nodes (from, to). Node from's
// peer list (dLegerPeers) names Addr(from, to) for every other node to,
// and its own real listen address for itself; each link forwards the
// connections it accepts to to's real peer address:
//
//	n0 ──dials Addr(n0,n1)──▶ [link n0->n1] ──▶ n1's peer listener
//	n1 ──dials Addr(n1,n0)──▶ [link n1->n0] ──▶ n0's peer listener
//
// A campaign builds each node's peer list with Peers(id):
//
//	n, err := netfault.New(map[string]string{"n0": "127.0.0.1:40911", ...}, netfault.Options{Seed: seed})
//	peers := n.Peers("n0") // n0: its own address; n1, n2: links n0->n1, n0->n2
//	...
//	n.Isolate("n0") // later n.Heal(); n.Stats() says what was done
//
// # Directions and answers
//
// The peer protocol (docs/protocol.md) makes every connection one-way: the
// dialer writes the hello and then frames; the listener writes only the
// handshake answer. A Raft response travels on the responder's own outbound
// connection, so a VoteResp from n1 to n0 crosses link n1->n0, not the
// connection of link n0->n1 that carried the Vote. The proxy nevertheless
// parses both byte streams of every connection the same way: handshake
// message first, then frames. Frames read from the dialer travel from->to;
// frames read from the listener (none, in protocol version 1) travel
// to->from. Every fault, partition and block is decided per frame and per
// direction of travel, so Block(a, b) drops every frame travelling from a
// to b whichever connection carries it, and leaves b -> a alone.
//
//	             link a->b (a dialed)
//	a ── hello, frames a->b ──▶ [reader ▶ faults(a->b) ▶ writer] ──▶ b
//	a ◀── answer, frames b->a ── [writer ◀ faults(b->a) ◀ reader] ◀── b
//
// Each direction has one reader goroutine (wire.ReadHello or
// wire.ReadAnswer, then wire.ReadFrame and wire.Decode, bounded by
// Options.MaxFrame) and one writer goroutine; a bounded channel between them
// is the back-pressure, so a delayed direction slows its sender as TCP
// would. The handshake bytes are forwarded untouched (the proxy records
// exactly what the wire parser consumed and writes those bytes), and are
// never dropped: a connection opened during a partition completes its
// handshake and is then blackholed.
//
// # Faults
//
//   - Partition, Isolate, Block: the frames are silently dropped (a
//     blackhole, as when TCP stalls in a real partition); connections are
//     neither reset nor refused. Heal restores forwarding on the existing
//     connections and new ones; the frames dropped meanwhile are lost and
//     Raft resends what it needs. A cut is checked when a frame is read and
//     again when it is due to be written, so frames held by a delay when
//     the cut begins are dropped too.
//   - Drop, Duplicate, Reorder (probabilities) and Delay + Jitter, for every
//     link (SetFaults) or one direction (SetLinkFaults, which takes
//     precedence). A duplicate is written twice in a row; a reordered frame
//     is held and written right after the next frame of its direction, or
//     alone after Options.ReorderWindow; a delay holds the direction's whole
//     stream, so frames keep their order (jitter never reorders).
//   - The randomness is seeded (Options.Seed): the k-th frame of the c-th
//     connection of a link meets the same fate for the same seed and
//     faults, however the goroutines are scheduled.
//
// A frame that breaks the checklist of docs/protocol.md (wire.Decode), or
// announces more than Options.MaxFrame bytes, closes that proxied
// connection (both sides) and is counted as Malformed; the Net goes on. The
// end of a stream is passed on as a half-close once the frames held for it
// are written.
//
// # Limitations
//
// The proxy reads the frames in clear: a peer link under TLS could not be
// parsed, so the campaign runs without peer TLS (rmqlog's peer links have
// none today). Connection-level events are not faults it injects: a node's
// close or reset reaches the other node even across a partition. The
// nodes' real addresses are fixed by New: a restarted node must listen on
// the same address again. The network between the proxy and the nodes is
// the loopback.
package netfault
