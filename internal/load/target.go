package load

import (
	"context"
	"encoding/binary"
	"fmt"
)

// Target is the system a load drives: rmqlog through package client, or a
// peer (bench/peers/nats). Its methods are called from many goroutines at
// once.
type Target interface {
	// Append sends one append and returns once the system acknowledged
	// it, with the sequence number (log index, stream sequence) it got.
	Append(ctx context.Context, payload []byte) (uint64, error)
	// AppendAsync sends one append and returns at once; payload must not
	// change until the Pending's Wait returned.
	AppendAsync(payload []byte) Pending
	// Kind names the class of an error for the report ("not leader",
	// "timeout", "busy", ...); a few stable words, never the message.
	Kind(err error) string
}

// Pending is an append in flight.
type Pending interface {
	// Wait returns the sequence number once acknowledged, or the error.
	Wait(ctx context.Context) (uint64, error)
}

// IDBytes is how many leading bytes of a payload carry its operation id.
const IDBytes = 8

// FillPayload writes the payload of operation id into b: the id, big
// endian, in the first IDBytes bytes (fewer if b is shorter), then a fixed
// pattern. Every append of a run has a distinct id, so a checker can
// rebuild the exact bytes an acknowledged append wrote. A buffer filled
// once can be given another id with SetID.
func FillPayload(b []byte, id uint64) {
	for i := IDBytes; i < len(b); i += copy(b[i:], pattern[i%patternPeriod:]) {
	}
	SetID(b, id)
}

// SetID writes operation id into a buffer FillPayload filled.
func SetID(b []byte, id uint64) {
	var idb [IDBytes]byte
	binary.BigEndian.PutUint64(idb[:], id)
	copy(b, idb[:])
}

// pattern is the filler: byte i of a payload is 'a' + i%26, precomputed so
// that filling a payload is a few copies, not a loop per byte (the load
// generator shares the machine with the nodes it measures).
var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte('a' + i%patternPeriod)
	}
	return b
}()

const patternPeriod = 26

// PayloadID returns the operation id a payload written by FillPayload
// carries, and false if b is shorter than IDBytes.
func PayloadID(b []byte) (uint64, bool) {
	if len(b) < IDBytes {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// Size prints a payload size: "128B", "1KiB", "16KiB", "1MiB".
func Size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
