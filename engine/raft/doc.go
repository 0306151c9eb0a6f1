// Package raft is rmqlog's consensus core: leader election (PreVote,
// CheckQuorum, leadership transfer, a preferred leader), log replication
// with batching windows, the commit rule under SYNC_FLUSH and ASYNC_FLUSH,
// read confirmation (ReadIndex), and the repair and census rules that keep
// acknowledged entries after damage, power loss or a lost hard state
// (docs/durability.md).
//
// It is pure code: no goroutines, sockets, files or clocks. Its own
// imports exclude net, os, sync, time and syscall and rmqlog's I/O
// packages (segment, flush, replication); `make lint` checks it
// (docs/architecture.md). So the simulator in sim_test.go runs this same
// code through thousands of faulty schedules from a seed, and a driver
// (engine.Node) owns every goroutine, lock and file.
//
// # The only doors
//
// Input, always from one goroutine at a time (the driver holds its lock):
//
//	Step(m)          a message from a peer
//	Tick()           one tick of the clock: time arrives only as ticks
//	Propose, ProposeBatch, FlushAppends
//	                 the leader appends entries, then sends them in batches
//	DurableTo(i)     the local log is fsynced up to i
//	Unreachable(id)  a message to id could not be sent
//	Transfer(id), RequestRead(), Halt(err), Resume()
//
// Output, as data: Ready returns the messages to send, the hard state to
// persist first (SaveState), whether the log was rewritten (a truncation or
// reset: sync it), the commit index and the role. Persist-before-send is
// the order Ready's fields are carried out in (see Ready), not an order of
// calls inside the core. The core also writes to the Log it was given
// (appends, truncations, resets): its writes reach disk only when the
// driver syncs them, and count toward commit only once DurableTo says so
// (SYNC_FLUSH).
//
// # Files
//
//	raft.go       the Raft type, Config, Log, HardState, Ready, Status
//	step.go       the message switch and the term rules every message obeys
//	election.go   PreVote, votes and the tally (full house while repairing)
//	leader.go     replication, commit, transfer, the preferred leader
//	follower.go   appends, resets, heartbeats, refusing to overwrite commits
//	progress.go   the leader's view of each follower and its window
//	quorum.go     the commit arithmetic
//	census.go     a node whose hard state was lost learns every member's term
//	readindex.go  read confirmation rounds
package raft
