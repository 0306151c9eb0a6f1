package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/crc32"
)

// HeaderSize is the size of a frame header.
const HeaderSize = 20

// Version is the protocol version this package speaks.
const Version = 1

// MaxString bounds every string in a body (ids, addresses, messages).
const MaxString = 4096

// Type is a request type; a response carries its request's type.
type Type uint8

// The requests.
const (
	TypeAppend   Type = 1 // append one or more payloads as consecutive entries
	TypeGet      Type = 2 // one committed entry by index
	TypeRange    Type = 3 // committed entries from an index, bounded by count and bytes
	TypeMeta     Type = 4 // who this node is, who leads, indexes (binary)
	TypeStatus   Type = 5 // the node's full status, as JSON (admin)
	TypeTransfer Type = 6 // leadership transfer to a member (admin)
	TypeMember   Type = 7 // the group's configuration: list it, or add, promote or remove a member (admin)
	maxType           = TypeMember
)

var typeNames = [...]string{"", "append", "get", "range", "meta", "status", "transfer", "member"}

func (t Type) String() string {
	if t >= 1 && t <= maxType {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Code is a response's outcome.
type Code uint8

// The outcomes.
const (
	CodeOK         Code = 0
	CodeNotLeader  Code = 1  // not the leader; the error body names the leader if known
	CodeNotFound   Code = 2  // the index is not committed yet or was deleted by retention
	CodeTooLarge   Code = 3  // a payload or the request is over the node's limit (the message says which)
	CodeBusy       Code = 4  // too many appends in flight: back off and retry
	CodeUnknown    Code = 5  // the append's outcome is unknown (leadership lost): it may or may not commit
	CodeClosing    Code = 6  // the node is shutting down; nothing of this request was done
	CodeBadRequest Code = 7  // the frame was sound but its body or type is invalid
	CodeFailed     Code = 8  // the node stopped on a storage failure
	CodeTransfer   Code = 9  // the leadership transfer did not complete
	CodeOverload   Code = 10 // the node refuses the connection (too many connections)
	// CodeMembership: the membership change is invalid (already a member,
	// not a member, the only voter, a peer address in use...); the message
	// says why. Do not retry.
	CodeMembership Code = 11
	// CodeNotCaughtUp: the learner to promote lags the leader; the message
	// says by how much. Retry once its lag is small.
	CodeNotCaughtUp Code = 12
	// CodeChangePending: an earlier membership change, or the new leader's
	// no-op, is still committing (one change at a time). Retry shortly.
	CodeChangePending Code = 13
	maxCode                = CodeChangePending
)

var codeNames = [...]string{"ok", "not leader", "not found", "too large", "busy", "outcome unknown",
	"closing", "bad request", "failed", "transfer failed", "overload", "membership refused", "not caught up",
	"change pending"}

func (c Code) String() string {
	if c <= maxCode {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Errors of ReadFrame. ErrFrame means the stream is broken: close the
// connection. ErrTooLarge comes with a sound header: the reader may discard
// the body (Header.Len-HeaderSize bytes) and answer with CodeTooLarge.
var (
	ErrFrame    = errors.New("proto: malformed frame")
	ErrTooLarge = errors.New("proto: frame over the limit")
	ErrBody     = errors.New("proto: malformed body")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is a decoded frame header.
type Header struct {
	Len  uint32 // the whole frame, header included
	Type Type
	Code Code
	ID   uint64
}

// Begin appends a frame header for (t, c, id) to dst, with len and crc left
// for Finish; append the body to the result, then call Finish with the
// returned start offset.
func Begin(dst []byte, t Type, c Code, id uint64) (b []byte, start int) {
	start = len(dst)
	b = append(dst, make([]byte, 8)...)
	b = append(b, Version, byte(t), byte(c), 0)
	return binary.LittleEndian.AppendUint64(b, id), start
}

// Finish fills in the length and CRC of the frame that starts at start and
// ends at the end of b.
func Finish(b []byte, start int) []byte {
	f := b[start:]
	binary.LittleEndian.PutUint32(f[0:], uint32(len(f)))
	binary.LittleEndian.PutUint32(f[4:], crc32.Checksum(f[8:], castagnoli))
	return b
}

// Frame appends a whole frame with the given body to dst.
func Frame(dst []byte, t Type, c Code, id uint64, body []byte) []byte {
	b, start := Begin(dst, t, c, id)
	return Finish(append(b, body...), start)
}

// ParseHeader decodes and checks a header (not the CRC, which needs the
// body). limit bounds Len; over it the error wraps ErrTooLarge and the
// header is returned with it.
func ParseHeader(b []byte, limit int) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d header bytes, want %d", ErrFrame, len(b), HeaderSize)
	}
	h := Header{Len: binary.LittleEndian.Uint32(b), Type: Type(b[9]), Code: Code(b[10]),
		ID: binary.LittleEndian.Uint64(b[12:])}
	switch {
	case b[8] != Version:
		return Header{}, fmt.Errorf("%w: version %d, this side speaks %d", ErrFrame, b[8], Version)
	case h.Len < HeaderSize:
		return Header{}, fmt.Errorf("%w: length %d is under the %d-byte header", ErrFrame, h.Len, HeaderSize)
	case h.Type < 1 || h.Type > maxType:
		return Header{}, fmt.Errorf("%w: unknown type %d", ErrFrame, b[9])
	case h.Code > maxCode:
		return Header{}, fmt.Errorf("%w: unknown code %d", ErrFrame, b[10])
	case b[11] != 0:
		return Header{}, fmt.Errorf("%w: reserved byte is %d, want 0", ErrFrame, b[11])
	case int64(h.Len) > int64(limit):
		return h, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, h.Len, limit)
	}
	return h, nil
}

// ReadFrame reads one frame from r: its header, then its body into a new
// slice of exactly the body's size (so the body may be kept, e.g. by an
// append until its commit), and checks the CRC. hdr is scratch of at least
// HeaderSize bytes. Errors: io.EOF before the first byte; ErrTooLarge with
// the header (the body is unread); ErrFrame (and io.ErrUnexpectedEOF for a
// cut frame) otherwise.
func ReadFrame(r io.Reader, hdr []byte, limit int) (Header, []byte, error) {
	hdr = hdr[:HeaderSize]
	if _, err := io.ReadFull(r, hdr); err != nil {
		if err == io.EOF {
			return Header{}, nil, err
		}
		return Header{}, nil, fmt.Errorf("%w: reading the header: %w", ErrFrame, err)
	}
	h, err := ParseHeader(hdr, limit)
	if err != nil {
		return h, nil, err
	}
	body, err := readBody(r, int(h.Len-HeaderSize))
	if err != nil {
		return Header{}, nil, bodyErr(h, noEOF(err))
	}
	if err := checkCRC(hdr, body, h); err != nil {
		return Header{}, nil, err
	}
	return h, body, nil
}

// DecodeFrame decodes the frame at the start of b, as ReadFrame would read
// it from a stream of b's bytes (same header, body and errors), without
// allocating: the body aliases b. A b that ends inside the frame is an
// ErrFrame wrapping io.ErrUnexpectedEOF (ParseHeader tells the length to
// wait for); an empty b is io.EOF.
func DecodeFrame(b []byte, limit int) (Header, []byte, error) {
	switch {
	case len(b) == 0:
		return Header{}, nil, io.EOF
	case len(b) < HeaderSize:
		return Header{}, nil, fmt.Errorf("%w: reading the header: %w", ErrFrame, io.ErrUnexpectedEOF)
	}
	h, err := ParseHeader(b, limit)
	if err != nil {
		return h, nil, err
	}
	if int64(h.Len) > int64(len(b)) {
		return Header{}, nil, bodyErr(h, io.ErrUnexpectedEOF)
	}
	body := b[HeaderSize:h.Len:h.Len]
	if err := checkCRC(b, body, h); err != nil {
		return Header{}, nil, err
	}
	return h, body, nil
}

func bodyErr(h Header, err error) error {
	return fmt.Errorf("%w: reading a %d-byte %v body: %w", ErrFrame, h.Len-HeaderSize, h.Type, err)
}

// checkCRC checks the CRC in hdr (a frame's header bytes) against the rest
// of the header and body.
func checkCRC(hdr, body []byte, h Header) error {
	crc := crc32.Update(crc32.Checksum(hdr[8:HeaderSize], castagnoli), castagnoli, body)
	if want := binary.LittleEndian.Uint32(hdr[4:]); crc != want {
		return fmt.Errorf("%w: crc %08x, frame says %08x (%v, id %d)", ErrFrame, crc, want, h.Type, h.ID)
	}
	return nil
}

// growStep is the body memory ReadFrame commits to before any of it
// arrived; beyond it, the buffer doubles as bytes arrive, so a peer that
// announces a large frame and sends little holds at most twice what it sent.
const growStep = 64 << 10

// readBody reads exactly n bytes into a slice of exactly n bytes (it may
// be kept), allocated as the bytes arrive.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= growStep {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, growStep)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	for len(b) < n {
		have := len(b)
		nb := make([]byte, min(n, 2*have))
		copy(nb, b)
		if _, err := io.ReadFull(r, nb[have:]); err != nil {
			return nil, err
		}
		b = nb
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
