// Package engine is rmqlog's Raft node: leader election, the replicated
// log, the commit rule, leadership transfer and the API a broker embeds.
// The Raft leader is the broker's master; followers are its slaves.
//
// # Shape
//
// The consensus decisions are pure code (raft.go, step.go, election.go,
// leader.go, follower.go, progress.go, quorum.go): a core that takes
// messages, ticks, proposals and the local fsynced index, and produces
// messages, a hard state (term and vote) and changes to its log. It has no
// goroutines, sockets, disks or clocks, so the simulator in sim_test.go
// runs the same code through thousands of faulty schedules from a seed.
//
// The Node (node.go) drives one core under one mutex:
//
//	appenders --Propose--> queue --kick--> loop --AppendBatch--> segment.Log (one write)
//	                                        |  \--> flush.Flusher (SYNC_FLUSH: group commit)
//	   ticker -----------------------------> |
//	   flusher durable index changes ------> |       core (raft)
//	   transport reader per connection ----> |         |  messages, hard state
//	                                         v         v
//	                     raft-state file (fsync)   one dispatcher per peer:
//	                     before any message        Append ranges become segment.Framed
//	                                               slices, written with one writev
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
