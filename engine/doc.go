// Package engine is rmqlog's Raft node: leader election, the replicated
// log, the commit rule, leadership transfer and the API a broker embeds.
// The Raft leader is the broker's master; followers are its slaves.
//
// # Shape
//
// The consensus decisions are pure code in package engine/raft: a core
// that takes messages, ticks, proposals and the local fsynced index, and
// returns messages, a hard state (term and vote) and its commit index as
// data (raft.Ready). It has no goroutines, sockets, disks or clocks, so
// its simulator runs the same code through thousands of faulty schedules
// from a seed; `make lint` keeps it so (docs/architecture.md).
//
// The Node (node.go) drives one core under one mutex, and owns every
// goroutine; the store (store.go) owns every byte on disk:
//
//	appenders --Propose--> queue --kick--> loop --ProposeBatch--> core --append--> store
//	                                        |                              (segment.Log: one write)
//	   ticker -----------------------------> |  Tick
//	   flusher durable index changes ------> |  DurableTo
//	   transport reader per connection ----> |  Step
//	                                         v
//	                               raft.Ready, carried out in order:
//	                               1. store.saveState (fsync) if the hard state changed
//	                               2. messages to one dispatcher per peer: Append
//	                                  ranges become segment.Framed slices, one writev
//	                               3. flusher.Request (SYNC_FLUSH group commit)
//	                               4. commit index, waiting appends, role changes
//
// Files: node.go (open, loop, Ready), store.go (the log's owner and lock
// order), propose.go (Propose, Append), read.go (Read, View, ReadIndex),
// status.go, manage.go (transfer, retention), dispatch.go (senders),
// hardstate.go (the raft-state file), core.go (the core's names the API
// shows).
//
// Election follows the Raft paper with PreVote (a node that cannot reach a
// majority never raises its term) and CheckQuorum (a leader that has not
// heard from a majority for an election timeout steps down, and nodes that
// hear a live leader refuse to vote). A new leader appends a no-op and is
// reported as Leader (writable) only once it commits: everything before it
// is committed then. The commit rule under each flush mode is written down
// in docs/durability.md; the peer protocol in docs/protocol.md.
//
// Replication: one dispatcher per follower streams batches (bounded by
// Config.MaxBatchBytes and MaxBatchCount) within a window of in-flight
// batches (WindowBatches, WindowBytes). While batches are in flight only
// full batches leave, so under load the entries of one round trip travel
// together. A reject, a broken connection or an ack missing for
// RetransmitTimeout resend exactly the range after the follower's match
// index. A follower that needs entries the leader deleted (retention) has
// its log restarted at the leader's first entry (segment.Log.Reset).
//
// # Errors
//
// Writes on a follower return a *NotLeaderError (errors.Is ErrNotLeader)
// naming the leader and its client address. A leader that loses its role
// before an entry commits returns ErrLeadershipLost: the outcome is
// unknown, never reported as success. A storage failure (a failed fsync,
// say) stops the node for good (Status().Err): it neither votes nor leads
// again until restarted, so it never acknowledges what may not be on disk.
package engine
