package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// castagnoli is the reference CRC32C from the standard library, so the
// tests do not check the codec against its own table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entries returns n fake framed entries of 32+payload bytes each; the frame
// codec does not look inside them.
func entries(n, payload int) []byte {
	b := make([]byte, n*(32+payload))
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// sampleMsgs holds one message of every type with the fields docs/protocol.md
// gives it, plus edge cases (max values, empty Append probe).
func sampleMsgs() []wire.Msg {
	const max64 = ^uint64(0)
	return []wire.Msg{
		{Type: wire.TypeAppend, Term: 7, Index: 100, LogTerm: 6, Commit: 99, Count: 3, Entries: entries(3, 10)},
		{Type: wire.TypeAppend, Term: 7, Index: 100, LogTerm: 6, Commit: 99}, // probe
		{Type: wire.TypeAppend, Term: max64, Index: max64, LogTerm: max64, Commit: max64, Count: 1, Entries: entries(1, 0)},
		{Type: wire.TypeAppendResp, Term: 7, Index: 103, Durable: 101},
		{Type: wire.TypeAppendResp, Flags: wire.FlagReject, Term: 7, Index: 100, Hint: 90, LogTerm: 5},
		{Type: wire.TypeVote, Flags: wire.FlagTransfer, Term: 8, Index: 103, LogTerm: 7},
		{Type: wire.TypeVoteResp, Flags: wire.FlagReject, Term: 8},
		{Type: wire.TypePreVote, Term: 9, Index: 103, LogTerm: 7},
		{Type: wire.TypePreVoteResp, Term: 9},
		{Type: wire.TypeHeartbeat, Term: 7, Commit: 50},
		{Type: wire.TypeHeartbeatResp, Term: 7, Index: 103, Durable: 103},
		{Type: wire.TypeTimeoutNow, Term: 7},
		{Type: wire.TypeReset, Term: 7, Index: 5000, Offset: 1 << 40, LogTerm: 4, CRC: 0xdeadbeef, Commit: 4999},
		{Type: wire.TypeReset, Flags: wire.FlagReject | wire.FlagTransfer, Durable: 1, Hint: 2},
		// the configuration in force at the base (membership changes)
		{Type: wire.TypeReset, Term: 7, Index: 5000, LogTerm: 4, Commit: 4999, Count: 1, Entries: entries(1, 20)},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range sampleMsgs() {
		t.Run(m.Type.String(), func(t *testing.T) {
			b := wire.Encode(nil, &m)
			if len(b) != wire.HeaderSize+len(m.Entries) {
				t.Fatalf("frame is %d bytes, want %d", len(b), wire.HeaderSize+len(m.Entries))
			}
			got, err := wire.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("decoded %+v, want %+v", got, m)
			}
			if len(got.Entries) > 0 && &got.Entries[0] != &b[wire.HeaderSize] {
				t.Fatal("Entries does not alias the frame")
			}
		})
	}
}

func TestEncodeAppendsToDst(t *testing.T) {
	m := sampleMsgs()[0]
	prefix := []byte("prefix")
	b := wire.Encode(bytes.Clone(prefix), &m)
	if !bytes.Equal(b[:len(prefix)], prefix) || !bytes.Equal(b[len(prefix):], wire.Encode(nil, &m)) {
		t.Fatal("Encode does not append after dst's contents")
	}
}

func TestAppendHeaderThenEntries(t *testing.T) {
	for _, m := range sampleMsgs() {
		t.Run(m.Type.String(), func(t *testing.T) {
			ents := m.Entries
			m.Entries = []byte("ignored by AppendHeader")
			hdr := wire.AppendHeader(nil, &m, len(ents))
			if len(hdr) != wire.HeaderSize {
				t.Fatalf("header is %d bytes", len(hdr))
			}
			m.Entries = ents
			if want := wire.Encode(nil, &m); !bytes.Equal(append(hdr, ents...), want) {
				t.Fatalf("header+entries\n%x\nEncode\n%x", append(hdr, ents...), want)
			}
		})
	}
}

// fixCRC recomputes the header CRC after a test edited the header.
func fixCRC(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:wire.HeaderSize], castagnoli))
	return b
}

func encode(m wire.Msg) []byte { return wire.Encode(nil, &m) }

func TestDecodeErrors(t *testing.T) {
	appendMsg := wire.Msg{Type: wire.TypeAppend, Term: 1, Count: 2, Entries: entries(2, 4)}
	beat := wire.Msg{Type: wire.TypeHeartbeat, Term: 1}
	tests := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "0 bytes, a header is 80"},
		{"short", encode(beat)[:79], "79 bytes, a header is 80"},
		{"length larger", func() []byte {
			b := encode(beat)
			binary.LittleEndian.PutUint32(b, 77)
			return b
		}(), "length field says 77 bytes, frame has 76"},
		{"length smaller", encode(appendMsg)[:100], "length field says 148 bytes, frame has 96"},
		{"crc", func() []byte { b := encode(beat); b[20] ^= 1; return b }(), "header crc"},
		{"crc field", func() []byte { b := encode(beat); b[4] ^= 1; return b }(), "header crc"},
		{"version", func() []byte { b := encode(beat); b[8] = 2; return fixCRC(b) }(), "version 2, this node speaks 1"},
		{"type 0", func() []byte { b := encode(beat); b[9] = 0; return fixCRC(b) }(), "unknown type 0"},
		{"type 11", func() []byte { b := encode(beat); b[9] = 11; return fixCRC(b) }(), "unknown type 11"},
		{"flags", func() []byte { b := encode(beat); b[10] = 16; return fixCRC(b) }(), "unknown flags 0x10"},
		{"reserved", func() []byte { b := encode(beat); b[11] = 1; return fixCRC(b) }(), "reserved byte 0x1 is not zero"},
		{"entries on heartbeat", encode(wire.Msg{Type: wire.TypeHeartbeat, Count: 1, Entries: entries(1, 0)}), "Heartbeat carries 1 entries (32 bytes)"},
		{"count on vote", encode(wire.Msg{Type: wire.TypeVote, Count: 1}), "Vote carries 1 entries (0 bytes)"},
		{"two entries on reset", encode(wire.Msg{Type: wire.TypeReset, Count: 2, Entries: entries(2, 0)}), "Reset carries 2 entries; at most one"},
		{"count on reset without bytes", encode(wire.Msg{Type: wire.TypeReset, Count: 1}), "1 entries cannot fill 0 bytes"},
		{"bytes without count", encode(wire.Msg{Type: wire.TypeAppend, Entries: entries(1, 0)}), "0 entries cannot fill 32 bytes"},
		{"count without bytes", encode(wire.Msg{Type: wire.TypeAppend, Count: 1}), "1 entries cannot fill 0 bytes"},
		{"count over elen/32", encode(wire.Msg{Type: wire.TypeAppend, Count: 2, Entries: entries(1, 31)}), "2 entries cannot fill 63 bytes"},
		{"max count", encode(wire.Msg{Type: wire.TypeAppend, Count: ^uint32(0), Entries: entries(1, 0)}), "4294967295 entries cannot fill 32 bytes"},
		{"elen field", func() []byte {
			b := encode(appendMsg)
			binary.LittleEndian.PutUint32(b[76:], 10)
			return fixCRC(b)
		}(), "entries length 10, frame holds 72"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := wire.Decode(tt.frame)
			if !errors.Is(err, wire.ErrFrame) {
				t.Fatalf("Decode = %+v, %v; want ErrFrame", m, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			if !reflect.DeepEqual(m, wire.Msg{}) {
				t.Fatalf("Decode returned %+v with its error", m)
			}
		})
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[wire.Type]string{
		wire.TypeAppend: "Append", wire.TypeReset: "Reset", wire.TypeHeartbeatResp: "HeartbeatResp",
		0: "Type(0)", 11: "Type(11)", 255: "Type(255)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(typ), got, want)
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// endless is a reader of infinite zeros, to catch a reader that trusts a
// huge length prefix.
type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func lengthPrefix(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

func TestReadFrame(t *testing.T) {
	frame := encode(sampleMsgs()[0])
	beat := encode(wire.Msg{Type: wire.TypeHeartbeat, Term: 3})
	errBroken := errors.New("broken pipe")
	tests := []struct {
		name     string
		r        io.Reader
		limit    int
		want     []byte
		wantErrs []error // every one must be in the chain
		notErr   error   // must not be in the chain
		read     int     // bytes consumed, checked when > 0
	}{
		{name: "frame", r: bytes.NewReader(frame), want: frame},
		{name: "frame then more", r: bytes.NewReader(append(bytes.Clone(beat), frame...)), want: beat, read: len(beat)},
		{name: "exactly the limit", r: bytes.NewReader(frame), limit: len(frame), want: frame},
		{name: "eof", r: bytes.NewReader(nil), wantErrs: []error{io.EOF}, notErr: wire.ErrFrame},
		{name: "truncated prefix", r: bytes.NewReader(frame[:3]), wantErrs: []error{wire.ErrFrame, io.ErrUnexpectedEOF}},
		{name: "truncated header", r: bytes.NewReader(frame[:40]), wantErrs: []error{wire.ErrFrame, io.ErrUnexpectedEOF}},
		{name: "truncated entries", r: bytes.NewReader(frame[:len(frame)-1]), wantErrs: []error{wire.ErrFrame, io.ErrUnexpectedEOF}},
		{name: "length under a header", r: bytes.NewReader(lengthPrefix(75)), wantErrs: []error{wire.ErrFrame}, read: 4},
		{name: "over the limit", r: bytes.NewReader(frame), limit: len(frame) - 1, wantErrs: []error{wire.ErrTooLarge}, read: 4},
		{name: "huge length", r: io.MultiReader(bytes.NewReader(lengthPrefix(^uint32(0))), endless{}), limit: 1 << 20, wantErrs: []error{wire.ErrTooLarge}, read: 4},
		{name: "default limit", r: io.MultiReader(bytes.NewReader(lengthPrefix(wire.DefaultMaxFrame-3)), endless{}), wantErrs: []error{wire.ErrTooLarge}, read: 4},
		{name: "reader error in prefix", r: iotest.ErrReader(errBroken), wantErrs: []error{errBroken}, notErr: wire.ErrFrame},
		{name: "reader error in body", r: io.MultiReader(bytes.NewReader(frame[:50]), iotest.ErrReader(errBroken)), wantErrs: []error{errBroken}, notErr: wire.ErrFrame},
		{name: "one byte at a time", r: iotest.OneByteReader(bytes.NewReader(frame)), want: frame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countingReader{r: tt.r}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := wire.ReadFrame(cr, nil, tt.limit)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v in its chain", err, want)
				}
			}
			if tt.notErr != nil && errors.Is(err, tt.notErr) {
				t.Fatalf("err = %v, must not wrap %v", err, tt.notErr)
			}
			if tt.wantErrs == nil && (err != nil || !bytes.Equal(got, tt.want)) {
				t.Fatalf("ReadFrame = %x, %v; want %x", got, err, tt.want)
			}
			if tt.read > 0 && cr.n != tt.read {
				t.Fatalf("read %d bytes, want %d", cr.n, tt.read)
			}
			if tt.wantErrs != nil && after.TotalAlloc-before.TotalAlloc > 1<<20 {
				t.Fatalf("allocated %d bytes for a refused frame", after.TotalAlloc-before.TotalAlloc)
			}
		})
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	big, small := encode(sampleMsgs()[0]), encode(wire.Msg{Type: wire.TypeVote, Term: 1})
	buf := make([]byte, 0, len(big))
	got, err := wire.ReadFrame(bytes.NewReader(small), buf, 0)
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("ReadFrame = %x, %v", got, err)
	}
	if &got[:1][0] != &buf[:1][0] {
		t.Fatal("a frame that fits was not read into buf")
	}
	got, err = wire.ReadFrame(bytes.NewReader(big), got[:0], 0)
	if err != nil || !bytes.Equal(got, big) || &got[0] != &buf[:1][0] {
		t.Fatalf("second frame: %v, or not read into the same array", err)
	}
}

func TestReadFrameGrowthStaysUnderLimit(t *testing.T) {
	frame := encode(sampleMsgs()[0])
	got, err := wire.ReadFrame(bytes.NewReader(frame), make([]byte, 0, 100), len(frame))
	if err != nil {
		t.Fatal(err)
	}
	if cap(got) > len(frame) {
		t.Fatalf("grew to %d bytes, the limit is %d", cap(got), len(frame))
	}
}

func TestNoAllocationsInSteadyState(t *testing.T) {
	m := sampleMsgs()[0]
	hdr := make([]byte, 0, wire.HeaderSize)
	if n := testing.AllocsPerRun(100, func() { hdr = wire.AppendHeader(hdr[:0], &m, len(m.Entries)) }); n != 0 {
		t.Errorf("AppendHeader into a large enough dst: %v allocations", n)
	}
	frame := encode(m)
	r := bytes.NewReader(frame)
	buf := make([]byte, 0, len(frame))
	if n := testing.AllocsPerRun(100, func() {
		r.Reset(frame)
		var err error
		if buf, err = wire.ReadFrame(r, buf, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := wire.Decode(buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadFrame and Decode into a large enough buf: %v allocations", n)
	}
}

func TestAppendHeaderOverwritesSpareCapacity(t *testing.T) {
	m := wire.Msg{Type: wire.TypeHeartbeat, Term: 1}
	dirty := bytes.Repeat([]byte{0xff}, 200)
	got := wire.AppendHeader(dirty[:3], &m, 0)
	if _, err := wire.Decode(got[3:]); err != nil || !bytes.Equal(got[3:], encode(m)) {
		t.Fatalf("header over stale bytes: %v", err)
	}
}
