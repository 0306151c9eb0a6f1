package consumequeue

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// UnitSize is the size of one unit, RocketMQ's CQ_STORE_UNIT_SIZE.
const UnitSize = 20

// DefaultUnitsPerFile is RocketMQ's mappedFileSizeConsumeQueue / 20.
const DefaultUnitsPerFile = 300000

// Unit is one message's entry in a consume queue.
type Unit struct {
	Phys     int64 // the message's commit log (physical) offset
	Size     int32 // the message's stored size in bytes
	TagsCode int64 // the tags hash (commitlog.TagsCode)
}

// blankSize marks a blank unit: RocketMQ's fillPreBlank writes
// (0, Integer.MAX_VALUE, 0) before the first unit of a queue that starts
// at a non-zero offset in the middle of a file.
const blankSize = math.MaxInt32

var blankUnit = Unit{Size: blankSize}

// Encode writes u into b[:UnitSize], big endian as RocketMQ.
func (u Unit) Encode(b []byte) {
	_ = b[UnitSize-1]
	binary.BigEndian.PutUint64(b[0:], uint64(u.Phys))
	binary.BigEndian.PutUint32(b[8:], uint32(u.Size))
	binary.BigEndian.PutUint64(b[12:], uint64(u.TagsCode))
}

// DecodeUnit reads the unit at b[:UnitSize].
func DecodeUnit(b []byte) Unit {
	_ = b[UnitSize-1]
	return Unit{
		Phys:     int64(binary.BigEndian.Uint64(b[0:])),
		Size:     int32(binary.BigEndian.Uint32(b[8:])),
		TagsCode: int64(binary.BigEndian.Uint64(b[12:])),
	}
}

// empty reports a unit never written: a file's zeros. RocketMQ's recovery
// ends a file at the first unit without offset >= 0 and size > 0.
func (u Unit) empty() bool { return u.Size == 0 }

func (u Unit) blank() bool { return u == blankUnit }

// valid reports a unit Put could have written.
func (u Unit) valid() bool { return u.Phys >= 0 && u.Size > 0 && u.Size != blankSize }

func (u Unit) String() string {
	return fmt.Sprintf("(phys %d, size %d, tags %d)", u.Phys, u.Size, u.TagsCode)
}

// fileName is the name of the file whose first unit has queue offset
// first: its byte offset in the queue, 20 digits, as RocketMQ names them.
func fileName(first int64) string { return fmt.Sprintf("%020d", first*UnitSize) }

// parseFileName returns the first byte offset named by name.
func parseFileName(name string) (int64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(name, 10, 64)
	return v, err == nil
}

// validTopic reports a RocketMQ topic name: 1..127 characters of
// [%|a-zA-Z0-9_-] (TopicValidator), so never a path separator or "..".
func validTopic(t string) bool {
	if len(t) == 0 || len(t) > 127 {
		return false
	}
	for _, c := range t {
		ok := c == '%' || c == '|' || c == '_' || c == '-' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}
