package segment

import "github.com/rmqlog/rmqlog/record"

// The entry format is package record's (the Raft core needs it and must not
// import segment). These aliases keep callers of the log to one import.

// HeaderSize is an alias of record.HeaderSize, kept so callers of the log
// need one import: the size of an entry header in bytes.
const HeaderSize = record.HeaderSize

// Type is an alias of record.Type, kept so callers of the log need one
// import: what an entry carries.
type Type = record.Type

const (
	// TypeNormal is an alias of record.TypeNormal, kept so callers of the
	// log need one import: an entry carrying a client payload.
	TypeNormal = record.TypeNormal
	// TypeNoop is an alias of record.TypeNoop, kept so callers of the log
	// need one import: the empty entry a new Raft leader appends.
	TypeNoop = record.TypeNoop
	// TypeConfig is an alias of record.TypeConfig, kept so callers of the
	// log need one import: reserved for membership changes.
	TypeConfig = record.TypeConfig
	// TypeBroker is an alias of record.TypeBroker, kept so callers of the
	// log need one import: an entry of the RocketMQ broker.
	TypeBroker = record.TypeBroker
)

// Entry is an alias of record.Entry, kept so callers of the log need one
// import: one decoded entry. For entries returned by Log.Read the Payload
// aliases the mapped file (see Log.Read).
type Entry = record.Entry

// Position is an alias of record.Position, kept so callers of the log need
// one import: entry Index starts at global offset Offset, or at the start
// of the next data file if it does not fit.
type Position = record.Position

// Encode is an alias of record.Encode, kept so callers of the log need one
// import: it appends the framed form of e to dst.
func Encode(dst []byte, e *Entry) []byte { return record.Encode(dst, e) }

// Decode is an alias of record.Decode, kept so callers of the log need one
// import: it decodes and CRC-checks the framed entry at the start of b.
func Decode(b []byte) (Entry, int, error) { return record.Decode(b) }

// Peek is an alias of record.Peek, kept so callers of the log need one
// import: it reads the header at the start of b without checking the CRC.
func Peek(b []byte) (index, term uint64, n int, err error) { return record.Peek(b) }
