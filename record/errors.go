package record

import "errors"

// Errors that describe entries or their sequence. Package segment returns
// them too (under the same names); its documentation says what recovery
// and a follower do with each.
var (
	// ErrCorrupt: bytes that fail their CRC or framing (an unknown type,
	// reserved bytes not zero).
	ErrCorrupt = errors.New("record: corrupt entry")
	// ErrShortEntry: a buffer ends inside an entry.
	ErrShortEntry = errors.New("record: short entry")
	// ErrNotContiguous: entries do not continue the log before them (an
	// index gap, a term going backwards, a PrevCRC that is not the previous
	// entry's CRC).
	ErrNotContiguous = errors.New("record: entries do not continue the log")
)
