package commitlog

import (
	"encoding/binary"
	"fmt"
	"math"
)

// BlankSize is the size of the end-of-file marker (RocketMQ's
// END_FILE_MIN_BLANK_LENGTH): a total size and BlankMagic. A message goes
// into a CommitLog file only if it leaves room for the marker after it
// (Fits); otherwise the marker pads the file and the message starts the
// next one.
const BlankSize = 8

// AppendBlank appends to dst the end-of-file marker declaring size bytes:
// the rest of the file from the marker on. RocketMQ writes only these 8
// bytes; the padding after them is whatever the file held (zeros in a
// preallocated file). size must lie in [BlankSize, MaxInt32].
func AppendBlank(dst []byte, size int) []byte {
	if size < BlankSize || size > math.MaxInt32 {
		panic(fmt.Sprintf("commitlog: blank of %d bytes, want %d to %d", size, BlankSize, math.MaxInt32))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	return binary.BigEndian.AppendUint32(dst, BlankMagic)
}

// Blank reports whether b starts with the end-of-file marker, and the size
// it declares, unchecked: a reader moves to the next file whatever it says.
func Blank(b []byte) (size int, ok bool) {
	if len(b) < BlankSize || binary.BigEndian.Uint32(b[offMagic:]) != BlankMagic {
		return 0, false
	}
	return int(int32(binary.BigEndian.Uint32(b))), true
}

// Fits reports whether a message of size bytes may be written where room
// bytes remain in a file: only if the end-of-file marker still fits after
// it (RocketMQ's doAppend: msgLen + END_FILE_MIN_BLANK_LENGTH <= maxBlank).
func Fits(size, room int) bool { return size <= room-BlankSize }
