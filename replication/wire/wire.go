package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/crc32"
)

// Version is the protocol version this package speaks; a frame or handshake
// with another version is refused.
const Version = 1

// HeaderSize is the size of a frame header, length prefix included.
const HeaderSize = 80

// minEntry is the smallest framed entry (segment.HeaderSize): count can
// never exceed elen/minEntry.
const minEntry = 32

// DefaultMaxFrame bounds a frame when the caller gives no limit.
const DefaultMaxFrame = 64 << 20

// Type is a message type.
type Type uint8

// The message types. docs/protocol.md gives each one's fields.
const (
	TypeAppend        Type = 1  // leader -> follower: entries after (Index, LogTerm), and Commit
	TypeAppendResp    Type = 2  // follower -> leader: accepted up to Index (durable up to Durable), or Reject with a hint
	TypeVote          Type = 3  // candidate -> all: vote for me in Term; my last entry is (Index, LogTerm)
	TypeVoteResp      Type = 4  // Reject false = granted
	TypePreVote       Type = 5  // would you vote for me in Term? (nobody changes term)
	TypePreVoteResp   Type = 6  // Reject false = would grant
	TypeHeartbeat     Type = 7  // leader -> follower: I lead Term; Commit
	TypeHeartbeatResp Type = 8  // follower -> leader: alive; its durable index
	TypeTimeoutNow    Type = 9  // leader -> transfer target: campaign now
	TypeReset         Type = 10 // leader -> follower: restart your log at (Index, Offset) after (LogTerm, CRC)
	maxType                = TypeReset
)

var typeNames = [...]string{
	TypeAppend: "Append", TypeAppendResp: "AppendResp", TypeVote: "Vote",
	TypeVoteResp: "VoteResp", TypePreVote: "PreVote", TypePreVoteResp: "PreVoteResp",
	TypeHeartbeat: "Heartbeat", TypeHeartbeatResp: "HeartbeatResp",
	TypeTimeoutNow: "TimeoutNow", TypeReset: "Reset",
}

func (t Type) String() string {
	if t >= 1 && t <= maxType {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Flags.
const (
	FlagReject   = 1 << 0 // a response that refuses (append mismatch, vote denied)
	FlagTransfer = 1 << 1 // a Vote sent because of a leadership transfer: voters ignore their leader lease
	// FlagRepairing marks a granted VoteResp or PreVoteResp from a voter
	// whose log may lack entries it acknowledged (it is repairing): the
	// candidate counts it only in an election every member granted.
	FlagRepairing = 1 << 2
	// FlagQuery marks a PreVote that only asks the receiver's term, and its
	// answer: nobody changes anything. A node that lost its hard state asks
	// every member (see engine's census).
	FlagQuery  = 1 << 3
	flagsKnown = FlagReject | FlagTransfer | FlagRepairing | FlagQuery
)

// Msg is one Raft message. Which fields mean what depends on Type; see
// docs/protocol.md. From and To are not on the wire: a connection's
// handshake names its two ends.
type Msg struct {
	Type    Type
	Flags   uint8
	Count   uint32 // Append: number of entries in Entries; Reset: 0 or 1 (the configuration at the base)
	Term    uint64
	Index   uint64
	LogTerm uint64
	Commit  uint64
	Durable uint64
	Hint    uint64
	Offset  uint64
	CRC     uint32
	// Entries are framed log entries. After Decode it aliases the frame.
	Entries []byte

	From, To string // filled by the transport, never encoded
}

// Reject reports whether FlagReject is set.
func (m *Msg) Reject() bool { return m.Flags&FlagReject != 0 }

// Errors. Every decoding error wraps ErrFrame.
var (
	ErrFrame    = errors.New("wire: bad frame")
	ErrTooLarge = errors.New("wire: frame too large")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendHeader appends the 80-byte header of m to dst, for a frame whose
// entries are elen bytes sent right after it (m.Entries is not used, so the
// entries can be written from other buffers, e.g. with writev). It
// allocates only when dst lacks the capacity.
func AppendHeader(dst []byte, m *Msg, elen int) []byte {
	// The header is built in dst itself: a local array would escape to the
	// heap through the CRC function, one allocation per message.
	n := len(dst)
	dst = slices.Grow(dst, HeaderSize)[:n+HeaderSize]
	h := dst[n:]
	binary.LittleEndian.PutUint32(h[0:], uint32(HeaderSize-4+elen))
	h[8], h[9], h[10], h[11] = Version, byte(m.Type), m.Flags, 0
	binary.LittleEndian.PutUint32(h[12:], m.Count)
	binary.LittleEndian.PutUint64(h[16:], m.Term)
	binary.LittleEndian.PutUint64(h[24:], m.Index)
	binary.LittleEndian.PutUint64(h[32:], m.LogTerm)
	binary.LittleEndian.PutUint64(h[40:], m.Commit)
	binary.LittleEndian.PutUint64(h[48:], m.Durable)
	binary.LittleEndian.PutUint64(h[56:], m.Hint)
	binary.LittleEndian.PutUint64(h[64:], m.Offset)
	binary.LittleEndian.PutUint32(h[72:], m.CRC)
	binary.LittleEndian.PutUint32(h[76:], uint32(elen))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(h[8:], castagnoli))
	return dst
}

// Encode appends the whole frame of m (header and m.Entries) to dst.
func Encode(dst []byte, m *Msg) []byte {
	dst = AppendHeader(dst, m, len(m.Entries))
	return append(dst, m.Entries...)
}

// Decode parses one whole frame (length prefix included). m.Entries
// aliases b. It checks the version, the header CRC, the type, the flags,
// and that every length and count fits the frame.
func Decode(b []byte) (Msg, error) {
	if len(b) < HeaderSize {
		return Msg{}, fmt.Errorf("%w: %d bytes, a header is %d", ErrFrame, len(b), HeaderSize)
	}
	n := binary.LittleEndian.Uint32(b[0:])
	if uint64(n)+4 != uint64(len(b)) {
		return Msg{}, fmt.Errorf("%w: length field says %d bytes, frame has %d", ErrFrame, n, len(b)-4)
	}
	if got, want := crc32.Checksum(b[8:HeaderSize], castagnoli), binary.LittleEndian.Uint32(b[4:]); got != want {
		return Msg{}, fmt.Errorf("%w: header crc %08x, computed %08x", ErrFrame, want, got)
	}
	if b[8] != Version {
		return Msg{}, fmt.Errorf("%w: version %d, this node speaks %d", ErrFrame, b[8], Version)
	}
	m := Msg{
		Type: Type(b[9]), Flags: b[10],
		Count:   binary.LittleEndian.Uint32(b[12:]),
		Term:    binary.LittleEndian.Uint64(b[16:]),
		Index:   binary.LittleEndian.Uint64(b[24:]),
		LogTerm: binary.LittleEndian.Uint64(b[32:]),
		Commit:  binary.LittleEndian.Uint64(b[40:]),
		Durable: binary.LittleEndian.Uint64(b[48:]),
		Hint:    binary.LittleEndian.Uint64(b[56:]),
		Offset:  binary.LittleEndian.Uint64(b[64:]),
		CRC:     binary.LittleEndian.Uint32(b[72:]),
	}
	if err := m.check(b); err != nil {
		return Msg{}, err
	}
	if elen := len(b) - HeaderSize; elen > 0 {
		m.Entries = b[HeaderSize:]
	}
	return m, nil
}

func (m *Msg) check(b []byte) error {
	switch {
	case m.Type < 1 || m.Type > maxType:
		return fmt.Errorf("%w: unknown type %d", ErrFrame, uint8(m.Type))
	case m.Flags&^flagsKnown != 0:
		return fmt.Errorf("%w: unknown flags %#x", ErrFrame, m.Flags)
	case b[11] != 0:
		return fmt.Errorf("%w: reserved byte %#x is not zero", ErrFrame, b[11])
	}
	elen := binary.LittleEndian.Uint32(b[76:])
	if uint64(elen) != uint64(len(b)-HeaderSize) {
		return fmt.Errorf("%w: entries length %d, frame holds %d", ErrFrame, elen, len(b)-HeaderSize)
	}
	switch {
	case m.Type == TypeReset && m.Count > 1:
		return fmt.Errorf("%w: Reset carries %d entries; at most one (the configuration at its base)", ErrFrame, m.Count)
	case m.Type != TypeAppend && m.Type != TypeReset && (elen != 0 || m.Count != 0):
		return fmt.Errorf("%w: %v carries %d entries (%d bytes); only Append and Reset carry entries", ErrFrame, m.Type, m.Count, elen)
	}
	if uint64(m.Count)*minEntry > uint64(elen) || (m.Count == 0) != (elen == 0) {
		return fmt.Errorf("%w: %d entries cannot fill %d bytes", ErrFrame, m.Count, elen)
	}
	return nil
}

// ReadFrame reads one frame from r into buf (grown if needed, never beyond
// limit bytes) and returns it; the result aliases buf's array when it fits.
// A length over limit is ErrTooLarge before the frame is allocated (a buf
// with less than HeaderSize capacity is first replaced by one of HeaderSize
// bytes, to read the length into). In steady state, with the returned slice
// passed back as buf, ReadFrame allocates nothing. io.EOF
// means the peer closed between frames; a frame cut short by the end of the
// stream wraps both ErrFrame and io.ErrUnexpectedEOF. Any other error of r
// (a closed connection, a deadline) is returned as r gave it, not as
// ErrFrame, so a caller can tell bad bytes from a broken connection.
func ReadFrame(r io.Reader, buf []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxFrame
	}
	// The length prefix is read into buf: a local array would escape to
	// the heap through r, one allocation per frame.
	if cap(buf) < HeaderSize {
		buf = make([]byte, HeaderSize)
	}
	buf = buf[:4]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, truncated(err, "length prefix")
	}
	n := binary.LittleEndian.Uint32(buf)
	if n < HeaderSize-4 {
		return buf, fmt.Errorf("%w: length %d is shorter than a header", ErrFrame, n)
	}
	if uint64(n)+4 > uint64(limit) {
		return buf, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, uint64(n)+4, limit)
	}
	size := int(n) + 4
	// The buffer grows with the bytes that actually arrive (at most
	// doubling), so a peer that announces a large frame and sends little
	// makes the node allocate little.
	for got := 4; got < size; {
		if cap(buf) == got {
			grown := make([]byte, got, min(size, max(2*got, growStep)))
			copy(grown, buf)
			buf = grown
		}
		end := min(size, cap(buf))
		k, err := io.ReadFull(r, buf[got:end])
		got += k
		buf = buf[:got]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, truncated(err, fmt.Sprintf("%d-byte frame", size))
		}
	}
	return buf, nil
}

// growStep is the least ReadFrame grows its buffer by.
const growStep = 64 << 10

// truncated turns the end of the stream inside a frame into ErrFrame
// (keeping io.ErrUnexpectedEOF in the chain) and passes every other error,
// io.EOF between frames included, through unchanged.
func truncated(err error, what string) error {
	if err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: truncated %s: %w", ErrFrame, what, err)
	}
	return err
}
