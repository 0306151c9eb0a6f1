package record_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rmqlog/rmqlog/record"
)

// TestRoundTrip: every type and payload sizes on both sides of the size up
// to which Frame checksums its copy, decoded by Decode, Peek and
// DecodeVerified alike.
func TestRoundTrip(t *testing.T) {
	for _, typ := range []record.Type{record.TypeNormal, record.TypeNoop, record.TypeConfig, record.TypeBroker} {
		for _, n := range []int{0, 1, 1000, 64 << 10, 64<<10 + 1, 1 << 20} {
			in := record.Entry{Index: 9, Term: 4, Type: typ, PrevCRC: 0x01020304, Payload: bytes.Repeat([]byte{7}, n)}
			b := record.Encode([]byte("prefix"), &in)[len("prefix"):]
			e, size, err := record.Decode(b)
			if err != nil || size != in.Size() || e.Index != 9 || e.Term != 4 || e.Type != typ ||
				e.PrevCRC != in.PrevCRC || e.CRC != in.CRC || !bytes.Equal(e.Payload, in.Payload) {
				t.Fatalf("%v, %d bytes: Decode = %+v, %d, %v; encoded %+v", typ, n, e, size, err, in)
			}
			if i, term, pn, err := record.Peek(b); err != nil || i != 9 || term != 4 || pn != size {
				t.Fatalf("%v, %d bytes: Peek = %d, %d, %d, %v", typ, n, i, term, pn, err)
			}
			if v, vn := record.DecodeVerified(b); vn != size || v.CRC != e.CRC || v.Index != e.Index {
				t.Fatalf("%v, %d bytes: DecodeVerified = %+v, %d", typ, n, v, vn)
			}
		}
	}
}

// TestDecodeRefuses: each kind of bad input and the error it is.
func TestDecodeRefuses(t *testing.T) {
	e := record.Entry{Index: 1, Term: 1, Type: record.TypeNormal, Payload: []byte("payload")}
	good := record.Encode(nil, &e)
	with := func(at int, v byte) []byte {
		b := bytes.Clone(good)
		b[at] = v
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, record.ErrShortEntry},
		{"header cut", good[:record.HeaderSize-1], record.ErrShortEntry},
		{"payload cut", good[:len(good)-1], record.ErrShortEntry},
		{"type 0", with(24, 0), record.ErrCorrupt},
		{"unknown type", with(24, 200), record.ErrCorrupt},
		{"reserved byte", with(26, 1), record.ErrCorrupt},
		{"payload bit flip", with(record.HeaderSize, good[record.HeaderSize]^1), record.ErrCorrupt},
		{"crc bit flip", with(0, good[0]^1), record.ErrCorrupt},
	}
	for _, tc := range tests {
		if _, _, err := record.Decode(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode error %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestFramePanicsOnWrongSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Frame into a buffer of the wrong size did not panic")
		}
	}()
	e := record.Entry{Index: 1, Term: 1, Type: record.TypeNormal, Payload: []byte("x")}
	record.Frame(make([]byte, e.Size()+1), &e)
}
