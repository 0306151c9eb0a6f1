package segment

import (
	"errors"

	"github.com/rmqlog/rmqlog/record"
)

// Errors, sorted by what the caller does with them.
var (
	// ErrCorrupt is an alias of record.ErrCorrupt, kept so callers of the
	// log need one import: bytes that fail their CRC or framing. Below the
	// durable checkpoint it stops Open; in a received batch the batch is
	// refused.
	ErrCorrupt = record.ErrCorrupt
	// ErrShortEntry is an alias of record.ErrShortEntry, kept so callers of
	// the log need one import: a buffer ends inside an entry.
	ErrShortEntry = record.ErrShortEntry
	// ErrDiskFull: the file system has no room for the next segment. The log
	// stays usable; Append succeeds again once space is freed.
	ErrDiskFull = errors.New("segment: disk full")
	// ErrTooLarge: an entry cannot fit in one segment file.
	ErrTooLarge = errors.New("segment: entry too large")
	// ErrOutOfRange: an index below FirstIndex or above LastIndex.
	ErrOutOfRange = errors.New("segment: index out of range")
	// ErrNotContiguous is an alias of record.ErrNotContiguous, kept so
	// callers of the log need one import: appended entries do not continue
	// the log (index gap, term going backwards, a broken CRC chain).
	ErrNotContiguous = record.ErrNotContiguous
	// ErrFailed wraps a storage I/O error after which the log is fail-stop:
	// every later write returns it and the process should restart and recover.
	ErrFailed = errors.New("segment: log failed")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("segment: closed")
)
