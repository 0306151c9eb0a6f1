// Package server runs an rmqlog node as a service: the engine Node, the
// client port (package client/proto's protocol on rmqlogClientPort),
// optionally a RocketMQ broker on the same node (package broker, RocketMQ's
// remoting protocol on listenPort), retention (fileReservedTime), the
// Prometheus metrics endpoint, and a graceful shutdown. cmd/rmqlog's serve
// command is a thin wrapper around Start.
//
// # The broker
//
// With Config.Broker set, Start creates the broker (its consume queues and
// tables open) before the node, installs its hooks (Stamp, OnRoleChange) in
// the engine config, opens the one node, then attaches the broker and
// serves remoting on its own port. The server owns that order because it
// owns the node's life: the broker must be created before the node opens
// and closed before it closes. (The import goes one way: server may import
// broker; broker never imports server, scripts/archcheck.sh.)
//
// # Connections
//
// Each client connection has two goroutines: a reader that decodes the
// frames as they arrive and starts their work (an append is proposed to the
// node at once, so appends from every connection share the log's batched
// writes), and a writer that answers in the order the requests arrived,
// waiting for each append's commit. At most MaxInflight requests are
// between them: beyond that the reader stops reading, and TCP pushes back
// on the client. A malformed frame closes that connection only, with the
// reason logged. A frame over the limit (maxMessageSize + 1 MiB) is skipped
// without being buffered and answered with CodeTooLarge, so the connection
// survives. Between bursts the reader holds no buffer: it waits for the
// socket to turn readable and reads into a pooled one (input.go).
//
// Appends take a path of their own (appends.go) that allocates nothing in
// steady state. The append requests the read buffer holds whole, one after
// the other (a client that pipelines sends many per write), are read as
// one run: copied into a pooled buffer, proposed together with a pooled
// engine.Proposal (ProposeWith: one proposal, one commit notification for
// the run), and answered together, encoded straight into the writer's
// buffer and sent with one write. Each request is still taken or refused as
// it would have been alone (a run the engine refuses as busy is proposed
// request by request). Buffer and proposal are reused once the engine is
// done with the payloads (their outcome is known). Other requests take the
// general path: a body of their own, a frame made for the answer. A run
// counts as its requests against MaxInflight.
//
// # Memory a client can make the node hold
//
// Per connection: a read and a write buffer (64 KiB each, pooled, held only
// while bytes flow: an idle connection holds neither); one request body at a
// time in the reader, grown as its bytes arrive (at most the frame limit);
// up to MaxInflight queued requests holding at most heldLimit (8 MiB) of
// request bodies and append buffers (a pooled buffer is at most twice the
// frames it holds; or one larger frame), of which only the one being answered
// has its answer built (reads are answered when their turn comes, at most
// 4 MiB plus one message for a range); and the bodies of its appends until
// they commit (all connections together are bounded by the engine's
// MaxPendingBytes, beyond which appends get CodeBusy). Connections are
// bounded by MaxConnections. A client that does not read its answers for
// writeTimeout (10 s) is logged and reset. internal/hostile measures these
// bounds against a running node.
//
// # Membership
//
// A member request (client/proto TypeMember, member.go) lists the
// configuration as this node sees it (a leader adds each member's match
// and lag), or changes it by one member: add a learner, promote one,
// remove a member. A change runs on its own goroutine, as a transfer does,
// and is answered once it commits (at most 5 s, then "outcome unknown");
// a node that does not lead answers not-leader naming the leader. The
// status document and the metrics carry the configuration too.
//
// # Shutdown
//
// Shutdown stops accepting, stops reading new requests, answers every
// request already read (waiting for in-flight appends to commit), hands
// leadership to another member if this node leads, closes the broker (its
// remoting connections end; RocketMQ clients resend elsewhere, and UNIQ_KEY
// suppression keeps a resent message single), then closes the node (its
// last fsync included).
package server
