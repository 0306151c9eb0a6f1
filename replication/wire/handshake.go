package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/crc32"
)

// Handshake limits and constants. docs/protocol.md draws both messages.
const (
	// Magic opens every hello and every answer.
	Magic = "RMQL"
	// KindPeer is the only connection kind: a one-directional Raft link
	// from the dialer to the listener.
	KindPeer = 1
	// MaxName bounds the group and node ids of a hello (each 1..MaxName bytes).
	MaxName = 255
	// MaxReason bounds the reason of an answer.
	MaxReason = 1024
)

// helloMax and answerMax are the largest hello and answer: the fixed part,
// the length-prefixed strings and the trailing CRC.
const (
	helloMax  = 6 + 4*(2+MaxName) + 4
	answerMax = 6 + 2 + MaxReason + 4
)

// Handshake errors. Every error of ReadHello and ReadAnswer wraps
// ErrHandshake; a hello of another protocol version also wraps ErrVersion,
// so the listener can answer StatusVersion instead of StatusMalformed.
var (
	ErrHandshake = errors.New("wire: bad handshake")
	ErrVersion   = errors.New("wire: unsupported version")
)

// Hello is what the dialer of a peer connection says first: the Raft group
// both ends must belong to, the dialer's node id, the node id it expects
// to reach, and the dialer's client address (Advert, "host:port", may be
// empty), so a follower can tell a client where the leader's client port is.
type Hello struct {
	Group, From, To string
	Advert          string
}

// Status is the listener's answer to a Hello.
type Status uint8

// The answers. Only StatusOK keeps the connection open.
const (
	StatusOK          Status = 0 // accepted: frames follow from the dialer
	StatusWrongGroup  Status = 1 // Hello.Group is not the listener's group
	StatusUnknownNode Status = 2 // Hello.From is not a member (or is the listener itself)
	StatusWrongNode   Status = 3 // Hello.To is not the listener's id
	StatusVersion     Status = 4 // the dialer speaks another protocol version
	StatusMalformed   Status = 5 // the hello could not be parsed
	// StatusDuplicate: Hello.From is already connected from another address
	// and that link is live: two processes use one node id.
	StatusDuplicate Status = 6
	maxStatus              = StatusDuplicate
)

var statusNames = [...]string{
	StatusOK: "ok", StatusWrongGroup: "wrong group", StatusUnknownNode: "unknown node",
	StatusWrongNode: "wrong node", StatusVersion: "unsupported version", StatusMalformed: "malformed",
	StatusDuplicate: "duplicate node id",
}

func (s Status) String() string {
	if s <= maxStatus {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// WriteHello writes h to w in one Write. Group, From and To must be
// 1..MaxName bytes, Advert 0..MaxName; otherwise nothing is written and the
// error wraps ErrHandshake.
func WriteHello(w io.Writer, h Hello) error {
	var a [helloMax]byte
	b := append(a[:0], Magic...)
	b = append(b, Version, KindPeer)
	for _, f := range h.fields() {
		if n := len(*f.s); n < f.min || n > MaxName {
			return fmt.Errorf("%w: %s is %d bytes, want %d to %d", ErrHandshake, f.name, n, f.min, MaxName)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(*f.s)))
		b = append(b, *f.s...)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	_, err := w.Write(b)
	return err
}

type helloField struct {
	name string
	min  int // shortest allowed length
	s    *string
}

func (h *Hello) fields() [4]helloField {
	return [4]helloField{{"group", 1, &h.Group}, {"from", 1, &h.From}, {"to", 1, &h.To}, {"advert", 0, &h.Advert}}
}

// ReadHello reads one hello from r, reading exactly its bytes (the frames
// that follow stay unread in r). Every length is checked before it is read.
// The error wraps ErrHandshake and says what is wrong; it also wraps
// ErrVersion for another protocol version (nothing after the version byte
// is read then, since another version may lay out the rest differently),
// and the read error of r when r failed.
func ReadHello(r io.Reader) (Hello, error) {
	var a [helloMax]byte
	hr := hsReader{r: r, b: a[:0], what: "hello"}
	fixed, err := hr.read(6)
	if err != nil {
		return Hello{}, err
	}
	if err := checkMagic(fixed); err != nil {
		return Hello{}, err
	}
	if fixed[4] != Version {
		return Hello{}, fmt.Errorf("%w: %w: version %d, this node speaks %d", ErrHandshake, ErrVersion, fixed[4], Version)
	}
	if fixed[5] != KindPeer {
		return Hello{}, fmt.Errorf("%w: connection kind %d, want %d (peer link)", ErrHandshake, fixed[5], KindPeer)
	}
	var raw [4][]byte
	var h Hello
	for i, f := range h.fields() {
		if raw[i], err = hr.readString(f.name, f.min, MaxName); err != nil {
			return Hello{}, err
		}
	}
	if err := hr.checkCRC(); err != nil {
		return Hello{}, err
	}
	for i, f := range h.fields() {
		*f.s = string(raw[i])
	}
	return h, nil
}

// WriteAnswer writes the listener's answer in one Write: status st and a
// human-readable reason of at most MaxReason bytes (empty for StatusOK).
// An unknown status or a longer reason writes nothing and wraps
// ErrHandshake.
func WriteAnswer(w io.Writer, st Status, reason string) error {
	if st > maxStatus {
		return fmt.Errorf("%w: unknown status %d", ErrHandshake, uint8(st))
	}
	if len(reason) > MaxReason {
		return fmt.Errorf("%w: reason is %d bytes, at most %d", ErrHandshake, len(reason), MaxReason)
	}
	var a [answerMax]byte
	b := append(a[:0], Magic...)
	b = append(b, Version, byte(st))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(reason)))
	b = append(b, reason...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	_, err := w.Write(b)
	return err
}

// ReadAnswer reads the listener's answer from r. A well-formed refusal is
// not an error: the caller gets its status and reason. The answer's layout
// is the same in every protocol version, so a refusal from a listener of
// another version is read too (typically StatusVersion); only StatusOK from
// another version is an error. Errors wrap ErrHandshake.
func ReadAnswer(r io.Reader) (Status, string, error) {
	var a [answerMax]byte
	hr := hsReader{r: r, b: a[:0], what: "answer"}
	fixed, err := hr.read(6)
	if err != nil {
		return 0, "", err
	}
	if err := checkMagic(fixed); err != nil {
		return 0, "", err
	}
	ver, st := fixed[4], Status(fixed[5])
	if st > maxStatus {
		return 0, "", fmt.Errorf("%w: unknown status %d", ErrHandshake, fixed[5])
	}
	reason, err := hr.readString("reason", 0, MaxReason)
	if err != nil {
		return 0, "", err
	}
	if err := hr.checkCRC(); err != nil {
		return 0, "", err
	}
	if st == StatusOK && ver != Version {
		return 0, "", fmt.Errorf("%w: %w: listener accepted with version %d, this node speaks %d", ErrHandshake, ErrVersion, ver, Version)
	}
	return st, string(reason), nil
}

func checkMagic(b []byte) error {
	if string(b[:4]) != Magic {
		return fmt.Errorf("%w: magic %q, want %q", ErrHandshake, b[:4], Magic)
	}
	return nil
}

// hsReader reads a handshake message field by field into b (a fixed array
// of the message's largest size), so the CRC can be checked over all of it.
type hsReader struct {
	r    io.Reader
	b    []byte
	what string
}

func (h *hsReader) read(n int) ([]byte, error) {
	start := len(h.b)
	h.b = h.b[:start+n]
	if _, err := io.ReadFull(h.r, h.b[start:]); err != nil {
		return nil, fmt.Errorf("%w: reading the %s: %w", ErrHandshake, h.what, err)
	}
	return h.b[start:], nil
}

// readString reads a u16 length and that many bytes, refusing a length
// outside [lo, hi] before reading them.
func (h *hsReader) readString(name string, lo, hi int) ([]byte, error) {
	p, err := h.read(2)
	if err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint16(p))
	if n < lo || n > hi {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d to %d", ErrHandshake, name, n, lo, hi)
	}
	return h.read(n)
}

func (h *hsReader) checkCRC() error {
	body := len(h.b)
	p, err := h.read(4)
	if err != nil {
		return err
	}
	got, want := crc32.Checksum(h.b[:body], castagnoli), binary.LittleEndian.Uint32(p)
	if got != want {
		return fmt.Errorf("%w: %s crc %08x, computed %08x", ErrHandshake, h.what, want, got)
	}
	return nil
}
