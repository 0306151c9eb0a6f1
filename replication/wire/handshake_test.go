package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// rawHello builds a hello byte by byte, independently of WriteHello: magic,
// version, kind, each string with a u16 length, then the CRC32C.
func rawHello(magic string, version, kind byte, strs ...string) []byte {
	b := append([]byte(magic), version, kind)
	for _, s := range strs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// rawAnswer builds an answer byte by byte: magic, version, status, reason
// with a u16 length, then the CRC32C. A reasonLen >= 0 overrides the length.
func rawAnswer(magic string, version, status byte, reason string, reasonLen int) []byte {
	b := append([]byte(magic), version, status)
	if reasonLen < 0 {
		reasonLen = len(reason)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(reasonLen))
	b = append(b, reason...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func flip(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }

func TestHelloRoundTrip(t *testing.T) {
	long := strings.Repeat("g", wire.MaxName)
	for _, h := range []wire.Hello{
		{Group: "dLegerGroup", From: "n0", To: "n1"},
		{Group: "g", From: "a", To: "b"},
		{Group: long, From: long, To: long, Advert: long},
		{Group: "g", From: "n0", To: "n1", Advert: "127.0.0.1:30911"},
		{Group: "ü\x00\xff", From: "n 1", To: "n1"},
	} {
		var buf bytes.Buffer
		if err := wire.WriteHello(&buf, h); err != nil {
			t.Fatal(err)
		}
		if want := rawHello(wire.Magic, wire.Version, wire.KindPeer, h.Group, h.From, h.To, h.Advert); !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("WriteHello wrote\n%x\nwant\n%x", buf.Bytes(), want)
		}
		got, err := wire.ReadHello(&buf)
		if err != nil || got != h {
			t.Fatalf("ReadHello = %+v, %v; want %+v", got, err, h)
		}
	}
}

func TestWriteHelloRefuses(t *testing.T) {
	long := strings.Repeat("x", wire.MaxName+1)
	tests := []struct {
		h    wire.Hello
		want string
	}{
		{wire.Hello{From: "a", To: "b"}, "group is 0 bytes"},
		{wire.Hello{Group: "g", To: "b"}, "from is 0 bytes"},
		{wire.Hello{Group: "g", From: "a"}, "to is 0 bytes"},
		{wire.Hello{Group: strings.Repeat("x", 300), From: "a", To: "b"}, "wire: bad handshake: group is 300 bytes, want 1 to 255"},
		{wire.Hello{Group: "g", From: long, To: "b"}, "from is 256 bytes"},
		{wire.Hello{Group: "g", From: "a", To: long}, "to is 256 bytes"},
		{wire.Hello{Group: "g", From: "a", To: "b", Advert: long}, "advert is 256 bytes"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		err := wire.WriteHello(&buf, tt.h)
		if !errors.Is(err, wire.ErrHandshake) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("WriteHello(%.20q...) = %v, want ErrHandshake saying %q", tt.h.Group, err, tt.want)
		}
		if buf.Len() != 0 {
			t.Errorf("WriteHello wrote %d bytes before refusing", buf.Len())
		}
	}
}

func TestReadHelloErrors(t *testing.T) {
	good := rawHello(wire.Magic, wire.Version, wire.KindPeer, "g", "n0", "n1", "127.0.0.1:30911")
	tests := []struct {
		name     string
		in       []byte
		want     string
		wantErrs []error
	}{
		{"empty", nil, "reading the hello", []error{io.EOF}},
		{"magic", rawHello("HTTP", wire.Version, wire.KindPeer, "g", "n0", "n1", "127.0.0.1:30911"), `magic "HTTP"`, nil},
		{"version", rawHello(wire.Magic, 2, wire.KindPeer, "g", "n0", "n1", "127.0.0.1:30911"), "version 2, this node speaks 1", []error{wire.ErrVersion}},
		{"version only", append([]byte(wire.Magic), 9, 1), "version 9", []error{wire.ErrVersion}},
		{"kind", rawHello(wire.Magic, wire.Version, 2, "g", "n0", "n1", "127.0.0.1:30911"), "connection kind 2", nil},
		{"empty group", rawHello(wire.Magic, wire.Version, wire.KindPeer, "", "n0", "n1", "127.0.0.1:30911"), "group is 0 bytes", nil},
		{"empty to", rawHello(wire.Magic, wire.Version, wire.KindPeer, "g", "n0", "", "127.0.0.1:30911"), "to is 0 bytes", nil},
		{"long from", rawHello(wire.Magic, wire.Version, wire.KindPeer, "g", strings.Repeat("f", 256), "n1", "127.0.0.1:30911"), "from is 256 bytes", nil},
		{"length 65535", append([]byte(wire.Magic), wire.Version, wire.KindPeer, 0xff, 0xff), "group is 65535 bytes", nil},
		{"crc", flip(good, len(good)-1), "hello crc", nil},
		{"flipped name", flip(good, 8), "hello crc", nil},
		{"truncated fixed", good[:5], "reading the hello", []error{io.ErrUnexpectedEOF}},
		{"truncated length", good[:7], "reading the hello", []error{io.ErrUnexpectedEOF}},
		{"truncated name", good[:12], "reading the hello", []error{io.ErrUnexpectedEOF}},
		{"truncated crc", good[:len(good)-2], "reading the hello", []error{io.ErrUnexpectedEOF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := wire.ReadHello(bytes.NewReader(tt.in))
			if !errors.Is(err, wire.ErrHandshake) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadHello = %+v, %v; want ErrHandshake saying %q", h, err, tt.want)
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Fatalf("err %v does not wrap %v", err, want)
				}
			}
			if h != (wire.Hello{}) {
				t.Fatalf("ReadHello returned %+v with its error", h)
			}
		})
	}
}

func TestReadHelloStopsAtLengthBeforeReading(t *testing.T) {
	// A length over MaxName must be refused from the two length bytes
	// alone: the endless reader behind them would otherwise be consumed.
	in := append([]byte(wire.Magic), wire.Version, wire.KindPeer, 0x2c, 0x01)
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(in), endless{})}
	if _, err := wire.ReadHello(cr); !errors.Is(err, wire.ErrHandshake) || !strings.Contains(err.Error(), "group is 300 bytes") {
		t.Fatalf("err = %v", err)
	}
	if cr.n != len(in) {
		t.Fatalf("read %d bytes, want %d", cr.n, len(in))
	}
}

func TestReadHelloLeavesTheFrames(t *testing.T) {
	var buf bytes.Buffer
	if err := wire.WriteHello(&buf, wire.Hello{Group: "g", From: "n0", To: "n1"}); err != nil {
		t.Fatal(err)
	}
	frame := encode(wire.Msg{Type: wire.TypeHeartbeat, Term: 5})
	buf.Write(frame)
	r := iotest.OneByteReader(&buf)
	if _, err := wire.ReadHello(r); err != nil {
		t.Fatal(err)
	}
	got, err := wire.ReadFrame(r, nil, 0)
	if err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("frame after the hello: %x, %v", got, err)
	}
}

func TestAnswerRoundTrip(t *testing.T) {
	for st := wire.StatusOK; st <= wire.StatusMalformed; st++ {
		for _, reason := range []string{"", "group is \"x\", this node serves \"g\"", strings.Repeat("r", wire.MaxReason)} {
			var buf bytes.Buffer
			if err := wire.WriteAnswer(&buf, st, reason); err != nil {
				t.Fatal(err)
			}
			if want := rawAnswer(wire.Magic, wire.Version, byte(st), reason, -1); !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("WriteAnswer wrote %x, want %x", buf.Bytes(), want)
			}
			gst, greason, err := wire.ReadAnswer(&buf)
			if err != nil || gst != st || greason != reason {
				t.Fatalf("ReadAnswer = %v, %.30q, %v; want %v, %.30q", gst, greason, err, st, reason)
			}
		}
	}
}

func TestWriteAnswerRefuses(t *testing.T) {
	for _, tt := range []struct {
		st     wire.Status
		reason string
		want   string
	}{
		{7, "", "unknown status 7"},
		{wire.StatusMalformed, strings.Repeat("r", wire.MaxReason+1), "reason is 1025 bytes, at most 1024"},
	} {
		var buf bytes.Buffer
		err := wire.WriteAnswer(&buf, tt.st, tt.reason)
		if !errors.Is(err, wire.ErrHandshake) || !strings.Contains(err.Error(), tt.want) || buf.Len() != 0 {
			t.Errorf("WriteAnswer(%d) = %v, wrote %d bytes; want ErrHandshake saying %q", tt.st, err, buf.Len(), tt.want)
		}
	}
}

func TestReadAnswer(t *testing.T) {
	good := rawAnswer(wire.Magic, wire.Version, byte(wire.StatusWrongGroup), "no", -1)
	tests := []struct {
		name       string
		in         []byte
		wantStatus wire.Status
		wantReason string
		wantErr    string // empty: no error
		wantErrs   []error
	}{
		{name: "refusal", in: good, wantStatus: wire.StatusWrongGroup, wantReason: "no"},
		{name: "refusal from version 2", in: rawAnswer(wire.Magic, 2, byte(wire.StatusVersion), "speaks 2", -1), wantStatus: wire.StatusVersion, wantReason: "speaks 2"},
		{name: "ok from version 2", in: rawAnswer(wire.Magic, 2, 0, "", -1), wantErr: "listener accepted with version 2", wantErrs: []error{wire.ErrVersion}},
		{name: "empty", in: nil, wantErr: "reading the answer", wantErrs: []error{io.EOF}},
		{name: "magic", in: rawAnswer("RMQX", wire.Version, 0, "", -1), wantErr: `magic "RMQX"`},
		{name: "status", in: rawAnswer(wire.Magic, wire.Version, 7, "", -1), wantErr: "unknown status 7"},
		{name: "long reason", in: rawAnswer(wire.Magic, wire.Version, 5, "", 1025), wantErr: "reason is 1025 bytes, want 0 to 1024"},
		{name: "crc", in: flip(good, len(good)-1), wantErr: "answer crc"},
		{name: "flipped status", in: flip(good, 5), wantErr: "answer crc"},
		{name: "truncated", in: good[:len(good)-1], wantErr: "reading the answer", wantErrs: []error{io.ErrUnexpectedEOF}},
		{name: "truncated reason", in: good[:9], wantErr: "reading the answer", wantErrs: []error{io.ErrUnexpectedEOF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, reason, err := wire.ReadAnswer(bytes.NewReader(tt.in))
			if tt.wantErr == "" {
				if err != nil || st != tt.wantStatus || reason != tt.wantReason {
					t.Fatalf("ReadAnswer = %v, %q, %v; want %v, %q", st, reason, err, tt.wantStatus, tt.wantReason)
				}
				return
			}
			if !errors.Is(err, wire.ErrHandshake) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadAnswer err = %v, want ErrHandshake saying %q", err, tt.wantErr)
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Fatalf("err %v does not wrap %v", err, want)
				}
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	want := []string{"ok", "wrong group", "unknown node", "wrong node", "unsupported version", "malformed", "duplicate node id", "Status(7)"}
	for i, w := range want {
		if got := wire.Status(i).String(); got != w {
			t.Errorf("Status(%d).String() = %q, want %q", i, got, w)
		}
	}
}
