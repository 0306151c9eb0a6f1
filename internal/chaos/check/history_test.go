package check

import (
	"testing"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/segment"
)

func payload(n int, id uint64) []byte {
	b := make([]byte, n)
	load.FillPayload(b, id)
	return b
}

func TestEntryOf(t *testing.T) {
	tests := []struct {
		name    string
		typ     uint8
		payload []byte
		id      uint64
		hasID   bool
	}{
		{"normal", TypeNormal, payload(128, 0x0102030405060708), 0x0102030405060708, true},
		{"exactly an id", TypeNormal, payload(load.IDBytes, 42), 42, true},
		{"too short for an id", TypeNormal, payload(load.IDBytes-1, 42), 0, false},
		{"empty", TypeNormal, nil, 0, false},
		{"no-op", TypeNoop, payload(64, 42), 0, false},
		{"config", TypeConfig, payload(64, 42), 0, false},
	}
	for _, tt := range tests {
		e := EntryOf(7, 3, tt.typ, 0xabcd, tt.payload)
		want := Entry{Index: 7, Term: 3, Type: tt.typ, CRC: 0xabcd, ID: tt.id, HasID: tt.hasID}
		if e != want {
			t.Errorf("%s: %+v, want %+v", tt.name, e, want)
		}
	}
}

func TestWireEntry(t *testing.T) {
	tests := []struct {
		wire  uint8
		typ   uint8
		hasID bool
	}{
		{proto.EntryMessage, TypeNormal, true},
		{proto.EntryNoop, TypeNoop, false},
		{proto.EntryConfig, TypeConfig, false},
	}
	for _, tt := range tests {
		e := WireEntry(proto.Entry{Index: 9, Term: 2, Type: tt.wire, CRC: 5, Payload: payload(32, 77)})
		if e.Type != tt.typ || e.HasID != tt.hasID || e.Index != 9 || e.Term != 2 || e.CRC != 5 {
			t.Errorf("wire type %d: %+v, want type %d, has id %v", tt.wire, e, tt.typ, tt.hasID)
		}
	}
}

// The entry types mirror segment.Type, which the log stores.
func TestTypesMirrorSegment(t *testing.T) {
	tests := []struct {
		ours uint8
		seg  segment.Type
	}{{TypeNormal, segment.TypeNormal}, {TypeNoop, segment.TypeNoop}, {TypeConfig, segment.TypeConfig}}
	for _, tt := range tests {
		if tt.ours != uint8(tt.seg) {
			t.Errorf("type %d, segment's %v is %d", tt.ours, tt.seg, uint8(tt.seg))
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{Append.String(), "append"},
		{Read.String(), "read"},
		{Kind(7).String(), "kind(7)"},
		{OK.String(), "ok"},
		{Failed.String(), "failed"},
		{Unknown.String(), "unknown"},
		{Outcome(0).String(), "outcome(0)"},
		{ack(1, 11, 2, 3, 4).String(), "client 1 append 0xb -> 2 [3ms, 4ms]"},
		{unsure(1, 11, 3).String(), "client 1 append 0xb -> unknown [3ms, ...]"},
		{found(2, 5, 11, 3, 4).String(), "client 2 read 5 -> 0xb [3ms, 4ms]"},
		{absent(2, 5, 3, 4).String(), "client 2 read 5 -> absent [3ms, 4ms]"},
		{Op{Client: 2, Kind: Read, Index: 5, Outcome: Failed, Call: ms(3)}.String(), "client 2 read 5 -> failed [3ms, ...]"},
		{Entry{Index: 3, Term: 2, Type: TypeNormal, CRC: 0x1f, ID: 11, HasID: true}.String(), "index 3 term 2 type 1 crc 0000001f id 0xb"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%q, want %q", tt.got, tt.want)
		}
	}
}
