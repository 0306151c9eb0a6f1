// Package consumequeue is RocketMQ's consume queues for rmqlog's broker:
// per (topic, queue id), a dense array of fixed-size units, one per
// message, that turns a queue offset into the message's place in the
// commit log. It belongs to the broker (the services row of
// docs/architecture.md) and imports of rmqlog only segment, for the FS
// seam (segment.MemFS simulates crashes and faults in tests).
//
// # Where units come from
//
// Every node builds its units from committed Raft entries only, in log
// order (docs/broker.md, "Where queue offsets and physical offsets are
// assigned"): the leader stamped each message's queue offset and physical
// offset before the entry was framed, so the units are the same on every
// node. Put checks what the stamps promise: a queue's offsets arrive
// contiguous (0, 1, 2, ...; after retention a prefix is gone) and physical
// offsets increase along the log. A unit that breaks either is a
// contradiction (ErrContradiction naming topic, queue, expected and got),
// never renumbered (RocketMQ's putMessagePositionInfo logs "[BUG]logic
// queue order maybe wrong" and appends at its own position).
//
// # Files
//
//	dir/
//	  consumequeue.checkpoint          two slots (checkpoint.go)
//	  consumequeue/
//	    <topic>/                       a RocketMQ topic name ([%|a-zA-Z0-9_-], <= 127)
//	      <queueId>/                   decimal
//	        00000000000000000000       units [0, U)        U = UnitsPerFile (300000)
//	        00000000000006000000       units [U, 2U)       name = first unit * 20, 20 digits
//	        ...                        consecutive: a gap is ErrCorrupt
//
//	one file: U units of 20 bytes, preallocated (zeros)
//	+------------------+------------------+-----+------------------+-------------+
//	| unit first       | unit first+1     | ... | unit next-1      | zeros ...   |
//	+------------------+------------------+-----+------------------+-------------+
//
//	one unit (big endian, RocketMQ's CQ_STORE_UNIT_SIZE)
//	+-------------------------+-----------+--------------------+
//	| physical offset int64   | size int32| tags code int64    |
//	| 0                       | 8         | 12                 | 20
//	+-------------------------+-----------+--------------------+
//
// A unit of size 0 is empty (never written): a file's units end at the
// first one, as RocketMQ's recovery ends at the first unit without
// offset >= 0 and size > 0. A queue whose first unit is not at the start
// of its first file has blank units (0, MaxInt32, 0) before it, RocketMQ's
// fillPreBlank.
//
// # Durability and recovery
//
// Put writes units with WriteAt; Sync(appliedIndex) fsyncs the files
// written since the last Sync and the directories whose names changed,
// then writes appliedIndex into the checkpoint. Open reports that index;
// the caller then calls TruncateFrom(p), p the physical offset of the
// first message after it, which cuts every queue at the first unit that is
// empty, at or above p, or torn, and replays the log from the next entry.
// A torn unit is one written after the last Sync that a power cut left
// half on disk: bytes lost are zeros (files are preallocated and never
// reused), so a unit whose tail was lost shows size 0 or keeps its true
// physical offset (>= p), and one whose head was lost straddles a 512-byte
// sector with only zeros before the boundary. Any other unit below p that
// does not increase is ErrCorrupt: it was synced before the checkpoint.
//
// No checkpoint, a checkpoint with both slots damaged, or Options.Rebuild:
// Open empties every queue and reports index 0 with the reason, and the
// caller replays the whole log (a queue without units accepts any first
// offset, so a log whose prefix retention removed still replays). The
// store never refuses to start over its own checkpoint; its queues are
// derived data.
//
// # The checkpoint: two slots, not a rename
//
// The checkpoint is rewritten at every Sync, which the broker runs on its
// apply path. Two 32-byte slots with a CRC32C each, in separate sectors,
// written alternately in place, cost one fdatasync per Sync: a torn write
// damages only the slot being written, and the other still holds the
// previous index (a lower index only means a longer replay). Write-temp,
// fsync, rename, fsync-directory costs two fsyncs and a directory update
// per Sync for the same guarantee. The rename is used once, to create the
// file with both slots valid. (RocketMQ's StoreCheckpoint is one unchecked
// page written in place: a torn write there goes unnoticed.)
//
// # Retention and search
//
// DeleteBefore(p) removes whole files whose units all lie below p (never a
// queue's last) and moves the min offset to the first unit at or above p.
// SearchOffset finds the first offset whose message was stored at or
// after a time, reading store timestamps through a Lookup.
//
// # Errors
//
// ErrContradiction (the log and the queues disagree: stop applying),
// ErrCorrupt (Open or TruncateFrom: a file this package cannot have
// written; the message names it and says what to do), ErrFailed (an I/O
// error: sticky, restart), and ErrBelowMin/ErrBeyondMax for reads.
package consumequeue
