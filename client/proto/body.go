package proto

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Fixed sizes of body parts.
const (
	// EntryHeaderSize is the size of an entry's fixed part in Get and
	// Range responses: index, term, type, crc, length.
	EntryHeaderSize = 8 + 8 + 1 + 4 + 4
	// AppendOverhead is the bytes an append request adds per payload.
	AppendOverhead = 4
)

// Entry types in Get and Range responses.
const (
	EntryMessage = 0 // a client's payload
	EntryNoop    = 1 // the empty entry a new leader appends (skip it)
	EntryConfig  = 2 // reserved for membership changes
)

// Entry is a committed log entry as Get and Range return it.
type Entry struct {
	Index   uint64
	Term    uint64
	Type    uint8  // EntryMessage, EntryNoop or EntryConfig
	CRC     uint32 // the entry's CRC32C as stored in the log (see segment)
	Payload []byte // aliases the frame body
}

// Meta answers TypeMeta: who the node is and what it knows.
type Meta struct {
	ID, Role           string
	Term               uint64
	Leader, LeaderAddr string // "" when unknown
	Writable           bool   // this node leads and takes appends
	First, Last        uint64
	Commit, Durable    uint64
	MaxMessageSize     uint32 // the largest payload this node accepts
}

// ErrorBody is the body of every response whose code is not CodeOK.
type ErrorBody struct {
	Message            string
	Leader, LeaderAddr string // CodeNotLeader: the leader, if known
}

// reader decodes a body; the first failure sticks and later reads return
// zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) need(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: %s needs %d bytes, %d remain", ErrBody, what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) uint8 {
	if v := r.need(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if v := r.need(4, what); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if v := r.need(8, what); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *reader) str(what string) string {
	n := int(binary.LittleEndian.Uint16(append(r.need(2, what), 0, 0)))
	if r.err == nil && n > MaxString {
		r.err = fmt.Errorf("%w: %s is %d bytes, at most %d", ErrBody, what, n, MaxString)
	}
	return string(r.need(n, what))
}

// done reports the first error, or trailing bytes.
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes after the %s body", ErrBody, len(r.b), what)
	}
	return r.err
}

func appendStr(b []byte, s string) []byte {
	if len(s) > MaxString {
		s = s[:MaxString]
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// AppendRequest appends the body of an append request for payloads.
func AppendRequest(b []byte, payloads [][]byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payloads)))
	for _, p := range payloads {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// ParseAppendRequest decodes an append request body. The payloads alias
// body. maxCount bounds the number of payloads (the count is also checked
// against the body's size before anything is allocated).
func ParseAppendRequest(body []byte, maxCount int) ([][]byte, error) {
	return AppendPayloads(nil, body, maxCount)
}

// AppendPayloads is ParseAppendRequest appending the payloads to dst, so
// that a caller can reuse one slice for many requests: it returns dst with
// the payloads appended (grown if need be), or dst's own length with the
// error.
func AppendPayloads(dst [][]byte, body []byte, maxCount int) ([][]byte, error) {
	r := reader{b: body}
	n := r.u32("payload count")
	switch {
	case r.err != nil:
		return dst, r.err
	case n == 0:
		return dst, fmt.Errorf("%w: an append of 0 payloads", ErrBody)
	case int64(n) > int64(maxCount):
		return dst, fmt.Errorf("%w: %d payloads in one append, at most %d", ErrBody, n, maxCount)
	case int64(n)*AppendOverhead > int64(len(r.b)):
		return dst, fmt.Errorf("%w: %d payloads cannot fit in %d bytes", ErrBody, n, len(r.b))
	}
	out := slices.Grow(dst, int(n))
	for range n {
		out = append(out, r.need(int(r.u32("payload length")), "payload"))
	}
	if err := r.done("append"); err != nil {
		clear(out[len(dst):])
		return dst, err
	}
	return out, nil
}

// AppendResult is the body of a successful append: the index of the first
// entry and the number of entries (consecutive).
func AppendResult(b []byte, first uint64, count uint32) []byte {
	b = binary.LittleEndian.AppendUint64(b, first)
	return binary.LittleEndian.AppendUint32(b, count)
}

// ParseAppendResult decodes AppendResult.
func ParseAppendResult(body []byte) (first uint64, count uint32, err error) {
	r := reader{b: body}
	first, count = r.u64("first index"), r.u32("count")
	return first, count, r.done("append result")
}

// GetRequest appends the body of a get request.
func GetRequest(b []byte, index uint64) []byte { return binary.LittleEndian.AppendUint64(b, index) }

// ParseGetRequest decodes GetRequest.
func ParseGetRequest(body []byte) (uint64, error) {
	r := reader{b: body}
	i := r.u64("index")
	return i, r.done("get")
}

// RangeRequest appends the body of a range request: entries from index
// from, at most maxCount of them and about maxBytes of payload (at least
// one entry is returned whatever its size).
func RangeRequest(b []byte, from uint64, maxCount, maxBytes uint32) []byte {
	b = binary.LittleEndian.AppendUint64(b, from)
	b = binary.LittleEndian.AppendUint32(b, maxCount)
	return binary.LittleEndian.AppendUint32(b, maxBytes)
}

// ParseRangeRequest decodes RangeRequest.
func ParseRangeRequest(body []byte) (from uint64, maxCount, maxBytes uint32, err error) {
	r := reader{b: body}
	from, maxCount, maxBytes = r.u64("from"), r.u32("max count"), r.u32("max bytes")
	return from, maxCount, maxBytes, r.done("range")
}

// AppendEntry appends one entry to a Get (one entry) or Range response
// body (a u32 count, then the entries).
func AppendEntry(b []byte, e Entry) []byte {
	b = binary.LittleEndian.AppendUint64(b, e.Index)
	b = binary.LittleEndian.AppendUint64(b, e.Term)
	b = append(b, e.Type)
	b = binary.LittleEndian.AppendUint32(b, e.CRC)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Payload)))
	return append(b, e.Payload...)
}

func (r *reader) entry() Entry {
	e := Entry{Index: r.u64("entry index"), Term: r.u64("entry term"), Type: r.u8("entry type"), CRC: r.u32("entry crc")}
	e.Payload = r.need(int(r.u32("entry length")), "entry payload")
	return e
}

// ParseEntry decodes a Get response body.
func ParseEntry(body []byte) (Entry, error) {
	r := reader{b: body}
	e := r.entry()
	return e, r.done("get result")
}

// ParseRange decodes a Range response body: a u32 count, then the
// entries, which must have consecutive indexes.
func ParseRange(body []byte) ([]Entry, error) {
	r := reader{b: body}
	n := r.u32("entry count")
	if r.err == nil && int64(n)*EntryHeaderSize > int64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d entries cannot fit in %d bytes", ErrBody, n, len(r.b))
	}
	out := make([]Entry, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		e := r.entry()
		if i > 0 && r.err == nil && e.Index != out[i-1].Index+1 {
			return nil, fmt.Errorf("%w: entry %d follows entry %d", ErrBody, e.Index, out[i-1].Index)
		}
		out = append(out, e)
	}
	return out, r.done("range result")
}

// AppendMeta appends a Meta response body.
func AppendMeta(b []byte, m Meta) []byte {
	b = appendStr(appendStr(b, m.ID), m.Role)
	b = binary.LittleEndian.AppendUint64(b, m.Term)
	b = appendStr(appendStr(b, m.Leader), m.LeaderAddr)
	w := byte(0)
	if m.Writable {
		w = 1
	}
	b = append(b, w)
	for _, v := range []uint64{m.First, m.Last, m.Commit, m.Durable} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return binary.LittleEndian.AppendUint32(b, m.MaxMessageSize)
}

// ParseMeta decodes AppendMeta.
func ParseMeta(body []byte) (Meta, error) {
	r := reader{b: body}
	m := Meta{ID: r.str("id"), Role: r.str("role"), Term: r.u64("term"), Leader: r.str("leader"), LeaderAddr: r.str("leader address")}
	switch w := r.u8("writable"); {
	case r.err == nil && w > 1:
		r.err = fmt.Errorf("%w: writable flag %d", ErrBody, w)
	default:
		m.Writable = w == 1
	}
	m.First, m.Last, m.Commit, m.Durable = r.u64("first"), r.u64("last"), r.u64("commit"), r.u64("durable")
	m.MaxMessageSize = r.u32("max message size")
	return m, r.done("meta")
}

// TransferRequest appends the body of a transfer request: the member to
// hand leadership to.
func TransferRequest(b []byte, to string) []byte { return appendStr(b, to) }

// ParseTransferRequest decodes TransferRequest.
func ParseTransferRequest(body []byte) (string, error) {
	r := reader{b: body}
	to := r.str("target")
	return to, r.done("transfer")
}

// AppendError appends an error body.
func AppendError(b []byte, e ErrorBody) []byte {
	return appendStr(appendStr(appendStr(b, e.Message), e.Leader), e.LeaderAddr)
}

// ParseError decodes an error body.
func ParseError(body []byte) (ErrorBody, error) {
	r := reader{b: body}
	e := ErrorBody{Message: r.str("message"), Leader: r.str("leader"), LeaderAddr: r.str("leader address")}
	return e, r.done("error")
}
