package consumequeue

import "errors"

// Errors, sorted by what the caller does with them.
var (
	// ErrContradiction: a Put that cannot follow what the store holds (a
	// queue offset that is not the queue's next, a physical offset that does
	// not increase). The log and the consume queues disagree: the caller
	// stops applying and reports it; nothing is renumbered.
	ErrContradiction = errors.New("consumequeue: contradiction")
	// ErrCorrupt: a file that cannot be what this package wrote (wrong size,
	// a gap between files, a unit going backwards below the checkpoint). Open
	// or TruncateFrom stops; the message names the file and what to do.
	ErrCorrupt = errors.New("consumequeue: corrupt")
	// ErrFailed wraps a storage I/O error after which the store is
	// fail-stop: every later call returns it; restart and recover.
	ErrFailed = errors.New("consumequeue: store failed")
	// ErrBelowMin: a read below the queue's min offset (retention removed
	// it); RocketMQ answers such a pull with OFFSET_TOO_SMALL.
	ErrBelowMin = errors.New("consumequeue: offset below the queue's min offset")
	// ErrBeyondMax: a read beyond the queue's max offset (RocketMQ's
	// OFFSET_OVERFLOW_BADLY). A read at max returns no units and no error.
	ErrBeyondMax = errors.New("consumequeue: offset beyond the queue's max offset")
	// ErrNoQueue: no queue of that topic and id.
	ErrNoQueue = errors.New("consumequeue: no such queue")
	// ErrInvalid: an argument out of range (topic name, queue id, size).
	ErrInvalid = errors.New("consumequeue: invalid argument")
	// ErrNotRecovered: Put, Get or Sync before TruncateFrom.
	ErrNotRecovered = errors.New("consumequeue: TruncateFrom has not run since Open")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("consumequeue: closed")
)
