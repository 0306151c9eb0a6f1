package record

import (
	"encoding/binary"
	"fmt"

	"github.com/klauspost/crc32"
)

// HeaderSize is the size of an entry header in bytes.
const HeaderSize = 32

// Type says what an entry carries. The value is stored in the entry header.
type Type uint8

const (
	// TypeNormal is an entry carrying a client payload.
	TypeNormal Type = 1
	// TypeNoop is the empty entry a new Raft leader appends to commit its term.
	TypeNoop Type = 2
	// TypeConfig is reserved for membership changes.
	TypeConfig Type = 3
	// TypeBroker is an entry of the RocketMQ broker (broker/: messages or
	// broker records). Only the broker proposes it; the native client's
	// appends are TypeNormal, so they never reach the broker's stamp or its
	// consume queues.
	TypeBroker Type = 4
	// maxType bounds the types a decoder accepts; raise it when adding one.
	maxType = TypeBroker
)

func (t Type) String() string {
	switch t {
	case TypeNormal:
		return "normal"
	case TypeNoop:
		return "noop"
	case TypeConfig:
		return "config"
	case TypeBroker:
		return "broker"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Known reports whether t is a type this version of the format defines:
// Decode and Peek refuse an entry of any other type as ErrCorrupt.
func (t Type) Known() bool { return t >= TypeNormal && t <= maxType }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is one decoded log entry. Payload aliases the buffer it was decoded
// from (for entries returned by segment.Log.Read, the mapped file; see
// there for how long it stays valid).
type Entry struct {
	Index   uint64
	Term    uint64
	Type    Type
	Payload []byte
	// PrevCRC is the CRC of the entry before this one in the log, chaining
	// every entry to the whole history before it.
	PrevCRC uint32
	// CRC is this entry's own checksum, set by Decode and Encode.
	CRC uint32
}

// Size returns the number of bytes the entry occupies when framed.
func (e *Entry) Size() int { return HeaderSize + len(e.Payload) }

// header is the decoded fixed part of a framed entry.
type header struct {
	crc     uint32
	length  uint32
	index   uint64
	term    uint64
	typ     Type
	prevCRC uint32
}

// PutHeader writes the header for e into b[:HeaderSize], computing the CRC
// over the header tail and e.Payload where it lies, and sets e.CRC. It is
// for a caller that writes the payload without copying it behind the
// header (segment writes a large entry as payload, then header). b must
// hold HeaderSize bytes; e.PrevCRC must hold the previous entry's CRC.
func PutHeader(b []byte, e *Entry) {
	putFields(b, e)
	c := crc32.Update(0, castagnoli, b[4:HeaderSize])
	c = crc32.Update(c, castagnoli, e.Payload)
	binary.LittleEndian.PutUint32(b[0:4], c)
	e.CRC = c
}

// Frame writes e framed into b, which must hold exactly e.Size() bytes,
// and sets e.CRC; e.PrevCRC must hold the previous entry's CRC. The
// payload is copied once and, up to frameReadBackMax, the CRC is computed
// in one pass over the copied header tail and payload (one call is
// measurably faster than two for small entries); larger payloads are
// checksummed at the source. Encode is Frame into appended space.
func Frame(b []byte, e *Entry) {
	if len(b) != e.Size() {
		panic(fmt.Sprintf("record: Frame into %d bytes, the entry needs %d", len(b), e.Size()))
	}
	if len(e.Payload) > frameReadBackMax {
		copy(b[HeaderSize:], e.Payload)
		PutHeader(b, e) // checksum the source: the copy is no longer in cache
		return
	}
	copy(b[HeaderSize:], e.Payload)
	putFields(b, e)
	c := crc32.Checksum(b[4:], castagnoli)
	binary.LittleEndian.PutUint32(b[0:4], c)
	e.CRC = c
}

// frameReadBackMax is the largest payload Frame checksums after copying,
// reading the copy back while it is still in the CPU cache.
const frameReadBackMax = 64 << 10

// putFields writes every header field but the CRC.
func putFields(b []byte, e *Entry) {
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(e.Payload)))
	binary.LittleEndian.PutUint64(b[8:16], e.Index)
	binary.LittleEndian.PutUint64(b[16:24], e.Term)
	b[24] = byte(e.Type)
	clear(b[25:28])
	binary.LittleEndian.PutUint32(b[28:32], e.PrevCRC)
}

// Encode appends the framed form of e to dst and returns the extended
// slice. It sets e.CRC; e.PrevCRC must hold the previous entry's CRC.
func Encode(dst []byte, e *Entry) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, e.Size())...)
	Frame(dst[n:], e)
	return dst
}

// decodeHeader reads a header without verifying the CRC. It reports whether
// the header is plausible: a known type and zero reserved bytes.
func decodeHeader(b []byte) (header, bool) {
	_ = b[HeaderSize-1]
	h := header{
		crc:     binary.LittleEndian.Uint32(b[0:4]),
		length:  binary.LittleEndian.Uint32(b[4:8]),
		index:   binary.LittleEndian.Uint64(b[8:16]),
		term:    binary.LittleEndian.Uint64(b[16:24]),
		typ:     Type(b[24]),
		prevCRC: binary.LittleEndian.Uint32(b[28:32]),
	}
	ok := h.typ.Known() && b[25]|b[26]|b[27] == 0
	return h, ok
}

// Decode decodes the framed entry at the start of b, verifying its CRC.
// It returns the entry (its Payload aliases b) and the number of bytes it
// occupies. Every length is checked against len(b) before use.
func Decode(b []byte) (Entry, int, error) {
	if len(b) < HeaderSize {
		return Entry{}, 0, fmt.Errorf("%w: %d bytes, need %d for a header", ErrShortEntry, len(b), HeaderSize)
	}
	h, ok := decodeHeader(b)
	if !ok {
		return Entry{}, 0, fmt.Errorf("%w: bad type %d or reserved bytes", ErrCorrupt, b[24])
	}
	if uint64(h.length) > uint64(len(b)-HeaderSize) {
		return Entry{}, 0, fmt.Errorf("%w: payload length %d exceeds the %d bytes available", ErrShortEntry, h.length, len(b)-HeaderSize)
	}
	n := HeaderSize + int(h.length)
	if c := crc32.Checksum(b[4:n], castagnoli); c != h.crc {
		return Entry{}, 0, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorrupt, h.crc, c)
	}
	return Entry{Index: h.index, Term: h.term, Type: h.typ, Payload: b[HeaderSize:n:n],
		PrevCRC: h.prevCRC, CRC: h.crc}, n, nil
}

// Peek reads the header of the framed entry at the start of b without
// verifying its CRC: the entry's index, term and framed size. It checks
// that the header is plausible and that the payload fits in b. A follower
// uses it to find where a leader's batch diverges from its log before
// segment's Log.AppendFramed verifies the CRCs of what it stores.
func Peek(b []byte) (index, term uint64, n int, err error) {
	if len(b) < HeaderSize {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes, need %d for a header", ErrShortEntry, len(b), HeaderSize)
	}
	h, ok := decodeHeader(b)
	if !ok {
		return 0, 0, 0, fmt.Errorf("%w: bad type %d or reserved bytes", ErrCorrupt, b[24])
	}
	if uint64(h.length) > uint64(len(b)-HeaderSize) {
		return 0, 0, 0, fmt.Errorf("%w: payload length %d exceeds the %d bytes available", ErrShortEntry, h.length, len(b)-HeaderSize)
	}
	return h.index, h.term, HeaderSize + int(h.length), nil
}

// PeekType returns the type of the entry at the start of b, which Peek
// accepted.
func PeekType(b []byte) Type { return Type(b[24]) }

// DecodeVerified decodes the entry at the start of b without computing its
// CRC again or checking its length against len(b): b must start with an
// entry Decode accepted, unchanged since. It spares a second CRC pass to a
// caller that verifies a whole batch before storing it (segment's
// Log.AppendFramed).
func DecodeVerified(b []byte) (Entry, int) {
	h, _ := decodeHeader(b)
	n := HeaderSize + int(h.length)
	return Entry{Index: h.index, Term: h.term, Type: h.typ, Payload: b[HeaderSize:n:n],
		PrevCRC: h.prevCRC, CRC: h.crc}, n
}
