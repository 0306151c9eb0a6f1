package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/rmqlog/rmqlog/commitlog"
)

// RecordMagic marks a broker metadata record: the word at byte offset 4 of
// an entry's payload, where a message entry has a commitlog magic code.
// It is none of commitlog.MagicV1, MagicV2 or BlankMagic ("RMQB").
const RecordMagic uint32 = 0x524D5142

// RecordHeaderSize is the fixed part of a metadata record (doc.go draws it).
const RecordHeaderSize = 20

// Kinds of metadata records.
const (
	KindConsumerOffsets uint8 = 1 // a group's committed offsets
	KindTopicConfig     uint8 = 2 // one topic's config (JSON)
	// KindSegmentSize: the group's segment size (mappedFileSizeCommitLog)
	// as the master that proposed it runs with, and that master's id.
	KindSegmentSize uint8 = 3
)

// Errors of the entry decoders.
var (
	// ErrRecord: a payload that is neither messages nor a metadata record
	// this broker can read (a lying length, an unknown kind).
	ErrRecord = errors.New("broker: bad entry")
)

// OffsetUpdate is one queue's committed consumer offset.
type OffsetUpdate struct {
	Topic   string
	QueueID int32
	Offset  int64
}

// Record is a decoded metadata record.
type Record struct {
	Kind uint8
	// Phys is the record's own physical offset, written by the stamp
	// (0 before).
	Phys int64
	// Group and Offsets: KindConsumerOffsets.
	Group   string
	Offsets []OffsetUpdate
	// Topic: KindTopicConfig, the config as JSON (TopicConfig).
	Topic []byte
	// SegmentSize and Member: KindSegmentSize.
	SegmentSize int64
	Member      string
}

// IsRecord reports whether payload is a metadata record (by its magic).
func IsRecord(payload []byte) bool {
	return len(payload) >= 8 && binary.BigEndian.Uint32(payload[4:]) == RecordMagic
}

// appendHeader appends a record header with a zero size, patched by finish.
func appendHeader(dst []byte, kind uint8) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, RecordMagic)
	dst = binary.BigEndian.AppendUint64(dst, 0)
	return append(dst, kind, 0, 0, 0)
}

func finish(b []byte) []byte {
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// EncodeOffsets returns the record of a group's offset updates.
// Strings longer than 65535 bytes are refused.
func EncodeOffsets(group string, ups []OffsetUpdate) ([]byte, error) {
	if len(group) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: group of %d bytes", ErrRecord, len(group))
	}
	b := appendHeader(make([]byte, 0, 64), KindConsumerOffsets)
	b = appendString(b, group)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ups)))
	for _, u := range ups {
		if len(u.Topic) > math.MaxUint16 {
			return nil, fmt.Errorf("%w: topic of %d bytes", ErrRecord, len(u.Topic))
		}
		b = appendString(b, u.Topic)
		b = binary.BigEndian.AppendUint32(b, uint32(u.QueueID))
		b = binary.BigEndian.AppendUint64(b, uint64(u.Offset))
	}
	return finish(b), nil
}

// EncodeTopic returns the record of one topic config (JSON bytes).
func EncodeTopic(js []byte) []byte {
	b := appendHeader(make([]byte, 0, RecordHeaderSize+len(js)), KindTopicConfig)
	return finish(append(b, js...))
}

// EncodeSegmentSize returns the record of the group's segment size, as
// member runs with it.
func EncodeSegmentSize(size int64, member string) []byte {
	b := appendHeader(make([]byte, 0, RecordHeaderSize+10+len(member)), KindSegmentSize)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	return finish(appendString(b, member[:min(len(member), math.MaxUint16)]))
}

// stampRecord writes the record's physical offset in place.
func stampRecord(b []byte, phys int64) { binary.BigEndian.PutUint64(b[8:], uint64(phys)) }

// DecodeRecord decodes a metadata record. Strings alias nothing: they are
// copied; Topic aliases b.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) < RecordHeaderSize || !IsRecord(b) {
		return Record{}, fmt.Errorf("%w: %d bytes, not a record", ErrRecord, len(b))
	}
	if n := binary.BigEndian.Uint32(b); int64(n) != int64(len(b)) {
		return Record{}, fmt.Errorf("%w: record says %d bytes, payload has %d", ErrRecord, n, len(b))
	}
	r := Record{Kind: b[16], Phys: int64(binary.BigEndian.Uint64(b[8:]))}
	if b[17] != 0 || b[18] != 0 || b[19] != 0 {
		return Record{}, fmt.Errorf("%w: reserved bytes not zero", ErrRecord)
	}
	body := b[RecordHeaderSize:]
	switch r.Kind {
	case KindConsumerOffsets:
		return decodeOffsets(r, body)
	case KindTopicConfig:
		r.Topic = body
		return r, nil
	case KindSegmentSize:
		rd := &reader{b: body}
		r.SegmentSize = int64(rd.u64())
		r.Member = rd.str()
		if rd.err == nil && len(rd.b) != 0 {
			rd.err = fmt.Errorf("%w: %d bytes after the segment size", ErrRecord, len(rd.b))
		}
		return r, rd.err
	}
	return Record{}, fmt.Errorf("%w: unknown kind %d", ErrRecord, r.Kind)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = fmt.Errorf("%w: truncated record", ErrRecord)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	l := r.take(2)
	if l == nil {
		return ""
	}
	return string(r.take(int(binary.BigEndian.Uint16(l))))
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// minOffsetUpdate is the smallest encoded OffsetUpdate: an empty topic.
const minOffsetUpdate = 2 + 4 + 8

func decodeOffsets(rec Record, body []byte) (Record, error) {
	r := &reader{b: body}
	rec.Group = r.str()
	n := r.u32()
	if r.err == nil && uint64(n)*minOffsetUpdate > uint64(len(r.b)) {
		return Record{}, fmt.Errorf("%w: %d offsets in %d bytes", ErrRecord, n, len(r.b))
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		u := OffsetUpdate{Topic: r.str()}
		u.QueueID = int32(r.u32())
		u.Offset = int64(r.u64())
		rec.Offsets = append(rec.Offsets, u)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes after the offsets", ErrRecord, len(r.b))
	}
	if r.err != nil {
		return Record{}, r.err
	}
	return rec, nil
}

// Messages calls fn for each message of a message entry's payload, with its
// offset in the payload and its header. It stops at the first error.
func Messages(payload []byte, fn func(off int, h commitlog.Header) error) error {
	for off := 0; off < len(payload); {
		h, err := commitlog.Peek(payload[off:])
		if err != nil {
			return fmt.Errorf("%w: message at payload offset %d: %w", ErrRecord, off, err)
		}
		if err := fn(off, h); err != nil {
			return err
		}
		off += h.Size
	}
	return nil
}
