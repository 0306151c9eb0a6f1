// Package flush decides when appended log data becomes durable. It is the
// only code in rmqlog that calls Sync on the log (and so fsync/msync), in one
// of the two RocketMQ flush modes (flushDiskType):
//
//   - SYNC_FLUSH: group commit. Appenders call Request (or Wait) with the
//     index they need durable; one flusher goroutine runs Sync for all of them
//     at once. While a Sync runs, new requests accumulate, and the next Sync
//     covers every one of them. A Sync covers every entry appended before it
//     started, so its cost is shared by every writer that queued behind it.
//   - ASYNC_FLUSH: interval flush. Every Options.Interval
//     (flushIntervalCommitLog) the flusher syncs if anything was appended
//     since the last Sync. Requests are no-ops; Wait returns once a tick has
//     covered the index. Data acknowledged before a tick covers it (as the
//     engine does in this mode) is at risk for up to one interval.
//
// Group commit, with three appenders A, B and C and a Sync that takes a while:
//
//	appends:   A1        B2  C3          A4
//	requests:  |r1       |r2 |r3         |r4
//	flusher:   [sync #1 -> 1][sync #2 ---> 3][sync #3 -> 4]
//	released:              A1              B2 C3          A4
//
// Sync #1 starts as soon as r1 arrives and covers only entry 1. r2 and r3 arrive
// while it runs; they cost nothing but an atomic max and a wake-up. Sync #2
// starts the moment sync #1 returns and covers 2 and 3 together. The number of
// syncs per second is bounded by the disk, not by the number of writers, and a
// writer waits at most for the sync in progress plus its own.
//
// After each Sync the flusher publishes the durable index, releases the
// waiters it covers and only then, off that path, calls the log's Checkpoint
// (if the log implements Checkpointer), at most once per
// Options.CheckpointInterval.
//
// Errors are sticky and fail-stop: after a failed Sync or Checkpoint nothing
// is retried, nothing more is reported durable, and every current and later
// Wait for an index not yet durable returns the error. The owner (the engine) steps down rather than
// acknowledge data that may not be on disk.
package flush
