package proto_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/client/proto"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, body := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte{7}, 70000)} {
		f := proto.Frame(nil, proto.TypeAppend, proto.CodeBusy, 1<<40+3, body)
		h, got, err := proto.ReadFrame(bytes.NewReader(f), make([]byte, proto.HeaderSize), len(f))
		if err != nil || h.Type != proto.TypeAppend || h.Code != proto.CodeBusy || h.ID != 1<<40+3 ||
			int(h.Len) != len(f) || !bytes.Equal(got, body) {
			t.Fatalf("ReadFrame = %+v, %d bytes, %v", h, len(got), err)
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	good := proto.Frame(nil, proto.TypeGet, 0, 9, proto.GetRequest(nil, 5))
	mod := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  error
		says  string
	}{
		{"empty", nil, 100, io.EOF, ""},
		{"cut header", good[:10], 100, io.ErrUnexpectedEOF, "reading the header"},
		{"cut body", good[:len(good)-1], 100, io.ErrUnexpectedEOF, "get body"},
		{"version", mod(8, 2), 100, proto.ErrFrame, "version 2"},
		{"type", mod(9, 99), 100, proto.ErrFrame, "unknown type 99"},
		{"code", mod(10, 99), 100, proto.ErrFrame, "unknown code 99"},
		{"reserved", mod(11, 1), 100, proto.ErrFrame, "reserved byte"},
		{"short len", mod(0, 19), 100, proto.ErrFrame, "under the 20-byte header"},
		{"crc", mod(len(good)-1, good[len(good)-1]^1), 100, proto.ErrFrame, "crc"},
		{"limit", good, len(good) - 1, proto.ErrTooLarge, "the limit is 27"},
		{"huge len", mod(3, 0xff), 1 << 20, proto.ErrTooLarge, "the limit is 1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := proto.ReadFrame(bytes.NewReader(tt.in), make([]byte, proto.HeaderSize), tt.limit)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("ReadFrame: %v; want %v saying %q", err, tt.want, tt.says)
			}
		})
	}
}

func TestTooLargeKeepsHeader(t *testing.T) {
	f := proto.Frame(nil, proto.TypeAppend, 0, 77, make([]byte, 1000))
	h, _, err := proto.ReadFrame(bytes.NewReader(f), make([]byte, proto.HeaderSize), 100)
	if !errors.Is(err, proto.ErrTooLarge) || h.ID != 77 || h.Type != proto.TypeAppend || h.Len != 1020 {
		t.Fatalf("ReadFrame over the limit = %+v, %v; want the header and ErrTooLarge", h, err)
	}
}

func TestBodies(t *testing.T) {
	payloads := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("b"), 300)}
	got, err := proto.ParseAppendRequest(proto.AppendRequest(nil, payloads), 3)
	if err != nil || len(got) != 3 || !bytes.Equal(got[2], payloads[2]) || len(got[0]) != 0 {
		t.Fatalf("append request: %q, %v", got, err)
	}
	if first, n, err := proto.ParseAppendResult(proto.AppendResult(nil, 42, 3)); first != 42 || n != 3 || err != nil {
		t.Fatalf("append result: %d %d %v", first, n, err)
	}
	if i, err := proto.ParseGetRequest(proto.GetRequest(nil, 1<<63)); i != 1<<63 || err != nil {
		t.Fatalf("get: %d %v", i, err)
	}
	if f, c, b, err := proto.ParseRangeRequest(proto.RangeRequest(nil, 5, 6, 7)); f != 5 || c != 6 || b != 7 || err != nil {
		t.Fatalf("range: %d %d %d %v", f, c, b, err)
	}
	e := proto.Entry{Index: 3, Term: 2, Type: 1, CRC: 0xdeadbeef, Payload: []byte("xyz")}
	if g, err := proto.ParseEntry(proto.AppendEntry(nil, e)); err != nil || g.Index != 3 || g.Term != 2 || g.Type != 1 || g.CRC != e.CRC || string(g.Payload) != "xyz" {
		t.Fatalf("entry: %+v %v", g, err)
	}
	rb := []byte{2, 0, 0, 0}
	rb = proto.AppendEntry(rb, e)
	e.Index, e.Payload = 4, nil
	rb = proto.AppendEntry(rb, e)
	if es, err := proto.ParseRange(rb); err != nil || len(es) != 2 || es[1].Index != 4 || len(es[1].Payload) != 0 {
		t.Fatalf("range result: %+v %v", es, err)
	}
	m := proto.Meta{ID: "n0", Role: "leader", Term: 7, Leader: "n0", LeaderAddr: "127.0.0.1:30911", Writable: true,
		First: 1, Last: 9, Commit: 8, Durable: 7, MaxMessageSize: 4 << 20}
	if g, err := proto.ParseMeta(proto.AppendMeta(nil, m)); err != nil || g != m {
		t.Fatalf("meta: %+v %v", g, err)
	}
	if g, err := proto.ParseTransferRequest(proto.TransferRequest(nil, "n2")); g != "n2" || err != nil {
		t.Fatalf("transfer: %q %v", g, err)
	}
	eb := proto.ErrorBody{Message: "not the leader", Leader: "n1", LeaderAddr: "h:1"}
	if g, err := proto.ParseError(proto.AppendError(nil, eb)); g != eb || err != nil {
		t.Fatalf("error body: %+v %v", g, err)
	}
}

func TestBodyErrors(t *testing.T) {
	e := proto.AppendEntry(nil, proto.Entry{Index: 5, Payload: []byte("p")})
	tests := []struct {
		name string
		err  func() error
		says string
	}{
		{"append empty", func() error { _, err := proto.ParseAppendRequest(nil, 9); return err }, "payload count needs 4 bytes"},
		{"append zero", func() error { _, err := proto.ParseAppendRequest([]byte{0, 0, 0, 0}, 9); return err }, "0 payloads"},
		{"append count", func() error { _, err := proto.ParseAppendRequest([]byte{0xff, 0xff, 0xff, 0xff}, 1<<40); return err }, "cannot fit"},
		{"append max", func() error {
			_, err := proto.ParseAppendRequest(proto.AppendRequest(nil, make([][]byte, 3)), 2)
			return err
		}, "at most 2"},
		{"append length", func() error { _, err := proto.ParseAppendRequest([]byte{1, 0, 0, 0, 9, 0, 0, 0, 1}, 9); return err }, "payload needs 9 bytes"},
		{"append trailing", func() error {
			_, err := proto.ParseAppendRequest(append(proto.AppendRequest(nil, [][]byte{{1}}), 0), 9)
			return err
		}, "1 bytes after"},
		{"get short", func() error { _, err := proto.ParseGetRequest([]byte{1}); return err }, "index needs 8"},
		{"range count", func() error { _, err := proto.ParseRange([]byte{0xff, 0xff, 0xff, 0xff}); return err }, "cannot fit"},
		{"range gap", func() error { _, err := proto.ParseRange(append(append([]byte{2, 0, 0, 0}, e...), e...)); return err }, "entry 5 follows entry 5"},
		{"meta flag", func() error {
			b := proto.AppendMeta(nil, proto.Meta{})
			b[2+2+8+2+2] = 2
			_, err := proto.ParseMeta(b)
			return err
		}, "writable flag 2"},
		{"long string", func() error { _, err := proto.ParseTransferRequest([]byte{0xff, 0xff}); return err }, "65535 bytes, at most 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.err(); !errors.Is(err, proto.ErrBody) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("got %v; want ErrBody saying %q", err, tt.says)
			}
		})
	}
}

// TestReadFrameGrowsWithData: a frame that announces 4 MiB and sends 10
// bytes makes the reader commit only its first step, not 4 MiB.
func TestReadFrameGrowsWithData(t *testing.T) {
	big := proto.Frame(nil, proto.TypeAppend, 0, 1, make([]byte, 4<<20))
	for _, cut := range []int{proto.HeaderSize + 10, proto.HeaderSize + 200<<10, len(big)} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, body, err := proto.ReadFrame(bytes.NewReader(big[:cut]), make([]byte, proto.HeaderSize), 8<<20)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		switch {
		case cut < len(big) && (!errors.Is(err, io.ErrUnexpectedEOF) || alloc > 4*uint64(cut)+128<<10):
			t.Errorf("frame cut at %d bytes: %v, %d bytes allocated", cut, err, alloc)
		case cut == len(big) && (err != nil || len(body) != 4<<20):
			t.Errorf("whole frame: %d-byte body, %v", len(body), err)
		}
	}
}

func TestMemberBodies(t *testing.T) {
	reqs := []proto.MemberRequest{
		{Op: proto.MemberList},
		{Op: proto.MemberAdd, ID: "n3", Peer: "127.0.0.1:40914", Client: "127.0.0.1:30943"},
		{Op: proto.MemberAdd, ID: "n3", Peer: "[::1]:40914"},
		{Op: proto.MemberPromote, ID: "n3"},
		{Op: proto.MemberRemove, ID: "n0"},
	}
	for _, r := range reqs {
		if got, err := proto.ParseMemberRequest(proto.AppendMemberRequest(nil, r)); got != r || err != nil {
			t.Errorf("member request %+v: got %+v, %v", r, got, err)
		}
	}
	answers := []proto.Members{
		{Node: "n3"}, // a joining node: no configuration yet
		{Node: "n1", Leader: "n0", Members: []proto.Member{{ID: "n0", Peer: "h:1"}, {ID: "n1", Peer: "h:2", Client: "h:3"}}},
		{Node: "n0", Leader: "n0", Index: 1 << 40, Committed: true, Members: []proto.Member{
			{ID: "n0", Peer: "h:1", Client: "h:2", Progress: true, Match: 100},
			{ID: "n3", Peer: "h:3", Learner: true, Progress: true, Match: 60, Lag: 40},
			{ID: "n4", Peer: "h:4", Learner: true}}},
	}
	for _, m := range answers {
		got, err := proto.ParseMembers(proto.AppendMembers(nil, m))
		if err != nil || got.Node != m.Node || got.Leader != m.Leader || got.Index != m.Index || got.Committed != m.Committed ||
			!slices.Equal(got.Members, m.Members) {
			t.Errorf("members %+v: got %+v, %v", m, got, err)
		}
	}
	if x, ok := answers[2].Member("n3"); !ok || !x.Learner || x.Lag != 40 {
		t.Errorf("Member(n3) = %+v, %v", x, ok)
	}
	if _, ok := answers[2].Member("n9"); ok {
		t.Error("Member(n9) found")
	}
	for op, want := range map[proto.MemberOp]string{proto.MemberList: "list", proto.MemberAdd: "add",
		proto.MemberPromote: "promote", proto.MemberRemove: "remove", 9: "MemberOp(9)"} {
		if op.String() != want {
			t.Errorf("MemberOp %d is %q, want %q", op, op.String(), want)
		}
	}
	if proto.TypeMember.String() != "member" || proto.CodeChangePending.String() != "change pending" ||
		proto.CodeNotCaughtUp.String() != "not caught up" || proto.CodeMembership.String() != "membership refused" {
		t.Errorf("names: %v %v %v %v", proto.TypeMember, proto.CodeChangePending, proto.CodeNotCaughtUp, proto.CodeMembership)
	}
}

func TestMemberBodyErrors(t *testing.T) {
	one := proto.Members{Node: "n0", Members: []proto.Member{{ID: "n0", Peer: "h:1"}}}
	good := proto.AppendMembers(nil, one)
	flagsAt := len(good) - 17 // the member's flags precede match and lag
	mod := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	countAt := 2 + 2 + 2 + 8 + 1
	tests := []struct {
		name string
		err  func() error
		says string
	}{
		{"request empty", func() error { _, err := proto.ParseMemberRequest(nil); return err }, "op needs 1 bytes"},
		{"request op", func() error {
			_, err := proto.ParseMemberRequest(proto.AppendMemberRequest(nil, proto.MemberRequest{Op: 4}))
			return err
		}, "member op 4, want 0 (list) to 3"},
		{"request cut", func() error { _, err := proto.ParseMemberRequest([]byte{1, 2, 0, 'n'}); return err }, "member id needs 2 bytes"},
		{"request trailing", func() error {
			_, err := proto.ParseMemberRequest(append(proto.AppendMemberRequest(nil, proto.MemberRequest{}), 0))
			return err
		}, "1 bytes after the member body"},
		{"members empty", func() error { _, err := proto.ParseMembers(nil); return err }, "node needs 2 bytes"},
		{"committed flag", func() error { _, err := proto.ParseMembers(mod(countAt-1, 2)); return err }, "committed flag 2"},
		{"count over max", func() error {
			b := mod(countAt, 0xff)
			b[countAt+1] = 0xff
			_, err := proto.ParseMembers(b)
			return err
		}, "65535 members, at most 1024"},
		{"count over body", func() error { _, err := proto.ParseMembers(mod(countAt, 2)); return err }, "2 members cannot fit"},
		{"member flags", func() error { _, err := proto.ParseMembers(mod(flagsAt, 4)); return err }, `member "n0" has flags 0x4`},
		{"members cut", func() error { _, err := proto.ParseMembers(good[:len(good)-1]); return err }, "lag needs 8 bytes"},
		{"members trailing", func() error { _, err := proto.ParseMembers(append(bytes.Clone(good), 0)); return err }, "after the members body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.err(); !errors.Is(err, proto.ErrBody) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("got %v; want ErrBody saying %q", err, tt.says)
			}
		})
	}
}
