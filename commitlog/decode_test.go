package commitlog_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
)

// Offsets in golden(): 9-byte body at 88, topic length at 97, 9-byte topic
// at 98, properties length at 107.
const (
	goldenBodyLen  = 84
	goldenTopicLen = 97
	goldenPropsLen = 107
)

func TestDecodeDamaged(t *testing.T) {
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	put16 := func(off int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], v); return b }
	}
	n := len(golden())
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		want   error
	}{
		{"empty buffer", func(b []byte) []byte { return nil }, commitlog.ErrShort},
		{"7 bytes", func(b []byte) []byte { return b[:7] }, commitlog.ErrShort},
		{"cut in the fixed fields", func(b []byte) []byte { return b[:40] }, commitlog.ErrShort},
		{"cut in the properties", func(b []byte) []byte { return b[:n-1] }, commitlog.ErrShort},
		{"total size beyond the buffer", put32(0, uint32(n+1)), commitlog.ErrShort},
		{"total size 2 GiB", put32(0, 1<<31-1), commitlog.ErrShort},
		{"total size negative", put32(0, 0xFFFFFFF0), commitlog.ErrCorrupt},
		{"total size below the smallest message", put32(0, commitlog.MinSize-1), commitlog.ErrCorrupt},
		{"total size short of the fields", put32(0, uint32(n-1)), commitlog.ErrCorrupt},
		{"total size beyond the fields", func(b []byte) []byte {
			b = append(b, 0)
			binary.BigEndian.PutUint32(b, uint32(n+1))
			return b
		}, commitlog.ErrCorrupt},
		{"bad magic", put32(4, 0xDAA320A8), commitlog.ErrMagic},
		{"zero magic (a batch's inner message)", put32(4, 0), commitlog.ErrMagic},
		{"v2 magic on a v1 message", put32(4, commitlog.MagicV2), commitlog.ErrCorrupt},
		{"body length beyond the total size", put32(goldenBodyLen, uint32(n)), commitlog.ErrCorrupt},
		{"body length 2 GiB", put32(goldenBodyLen, 1<<31-1), commitlog.ErrCorrupt},
		{"body length negative", put32(goldenBodyLen, 0xFFFFFFFF), commitlog.ErrCorrupt},
		{"body length one short", put32(goldenBodyLen, 8), commitlog.ErrCorrupt},
		{"v1 topic length over 127", func(b []byte) []byte { b[goldenTopicLen] = 200; return b }, commitlog.ErrCorrupt},
		{"topic length beyond the total size", func(b []byte) []byte { b[goldenTopicLen] = 100; return b }, commitlog.ErrCorrupt},
		{"properties length beyond the total size", put16(goldenPropsLen, 0x7FFF), commitlog.ErrCorrupt},
		{"properties length negative", put16(goldenPropsLen, 0x8000), commitlog.ErrCorrupt},
		{"born port over 65535", put32(52, 65536), commitlog.ErrCorrupt},
		{"store port negative", put32(68, 0xFFFFFFFF), commitlog.ErrCorrupt},
		{"born host v6 flag on an IPv4 host", put32(36, uint32(commitlog.FlagBornHostV6)), commitlog.ErrCorrupt},
		{"end-of-file blank", func(b []byte) []byte { return commitlog.AppendBlank(nil, 4096) }, commitlog.ErrEndOfFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.damage(golden())
			_, n, err := commitlog.Decode(b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error %v, want %v", err, tc.want)
			}
			if n != 0 || !strings.HasPrefix(err.Error(), "commitlog: ") {
				t.Fatalf("Decode returned %d bytes, error %q", n, err)
			}
			if _, err := commitlog.Peek(b); !errors.Is(err, tc.want) {
				t.Fatalf("Peek error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerifyBody: a flipped body bit, or a damaged stored CRC, decodes (the
// framing is intact) and fails VerifyBody.
func TestVerifyBody(t *testing.T) {
	for name, off := range map[string]int{"body bit": 90, "stored CRC": 8} {
		b := golden()
		b[off] ^= 0x04
		m, _, err := commitlog.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := m.VerifyBody(); !errors.Is(err, commitlog.ErrBodyCRC) {
			t.Fatalf("%s: VerifyBody error %v, want ErrBodyCRC", name, err)
		}
	}
}

func TestBlank(t *testing.T) {
	m := goldenMessage()
	file, _ := commitlog.Encode(nil, &m, 100)
	room := 200 - len(file) // a 200-byte file holding one message
	if commitlog.Fits(room-commitlog.BlankSize+1, room) || !commitlog.Fits(room-commitlog.BlankSize, room) {
		t.Fatalf("Fits: a message must leave %d bytes for the blank", commitlog.BlankSize)
	}
	file = commitlog.AppendBlank(file, room)
	if got, want := hex.EncodeToString(file[len(file)-8:]), fmt.Sprintf("%08xcbd43194", room); got != want {
		t.Fatalf("blank bytes %s, want %s", got, want)
	}
	file = append(file, make([]byte, room-commitlog.BlankSize)...) // the padding
	var off, msgs int
	for {
		_, n, err := commitlog.Decode(file[off:])
		if errors.Is(err, commitlog.ErrEndOfFile) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		off, msgs = off+n, msgs+1
	}
	size, ok := commitlog.Blank(file[off:])
	if !ok || size != room || off+size != len(file) || msgs != 1 {
		t.Fatalf("Blank at %d = %d, %v; %d messages before it", off, size, ok, msgs)
	}
	if _, ok := commitlog.Blank(golden()); ok {
		t.Fatal("Blank recognized a message")
	}
	if _, ok := commitlog.Blank(file[off : off+7]); ok {
		t.Fatal("Blank recognized 7 bytes")
	}
}
