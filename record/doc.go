// Package record is the framing of one rmqlog log entry: the bytes an
// entry occupies in a data file, in a replication batch and in a reply to
// a reader, the same bytes everywhere. It encodes and decodes one entry
// (Encode, Frame, Decode, Peek), names where an entry starts (Position),
// and defines the errors that describe entries or their sequence. It is
// pure code: no files, no I/O, no goroutines, and it imports no other
// rmqlog package.
//
// # Why a package of its own
//
// The Raft core (package engine/raft) decides and does no I/O: it must not
// import segment, flush, replication, os, net, sync, time or syscall. Yet a
// follower's core verifies a leader's framed batches (every CRC, and that
// each entry continues the one before: index, term and CRC chain) and
// finds where they diverge from its log before they are stored. It needs
// the entry format and nothing else of the storage, so the format lives
// here, below both. Package segment stores entries in this format and
// keeps aliases of these names, so callers of the log need one import.
//
// # Entry layout (little endian)
//
//	0        4        8                16               24   25    28       32
//	+--------+--------+----------------+----------------+----+-----+--------+---------
//	| crc32c | length | index          | term           |type| 0 0 | prevcrc| payload
//	+--------+--------+----------------+----------------+----+-----+--------+---------
//	crc32c (Castagnoli) covers bytes [4, 32+length): header tail and payload.
//	prevcrc is the crc32c of the entry before it, chaining the log: a stale
//	entry left behind a crash or a truncation never continues a new history.
//
// length counts the payload only, so an entry occupies 32+length bytes.
// type is one of the Type constants; a decoder refuses any other value and
// nonzero reserved bytes as ErrCorrupt, before it reads the payload.
package record
