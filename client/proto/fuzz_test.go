package proto_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/rmqlog/rmqlog/client/proto"
)

// FuzzReadFrame: ReadFrame never panics, never returns a body over the
// limit, and an accepted frame re-encodes to exactly the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	f.Add(proto.Frame(nil, proto.TypeAppend, 0, 1, proto.AppendRequest(nil, [][]byte{[]byte("hello")})))
	f.Add(proto.Frame(nil, proto.TypeMeta, proto.CodeOK, 2, proto.AppendMeta(nil, proto.Meta{ID: "n0"})))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		h, body, err := proto.ReadFrame(r, make([]byte, proto.HeaderSize), 1<<16)
		if err != nil {
			if !errors.Is(err, proto.ErrFrame) && !errors.Is(err, proto.ErrTooLarge) && err != io.EOF {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if int(h.Len) != len(body)+proto.HeaderSize || h.Len > 1<<16 {
			t.Fatalf("header %+v with a %d-byte body", h, len(body))
		}
		again := proto.Frame(nil, h.Type, h.Code, h.ID, body)
		if consumed := b[:len(b)-r.Len()]; !bytes.Equal(again, consumed) {
			t.Fatalf("re-encoded\n%x\nconsumed\n%x", again, consumed)
		}
	})
}

// FuzzDecodeFrame: DecodeFrame of bytes gives what ReadFrame reads from a
// stream of the same bytes: the same header and body, or the same error.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(proto.Frame(nil, proto.TypeAppend, 0, 1, proto.AppendRequest(nil, [][]byte{[]byte("hello")})))
	f.Add(proto.Frame(nil, proto.TypeMeta, proto.CodeOK, 2, proto.AppendMeta(nil, proto.Meta{ID: "n0"}))[:30])
	f.Add(proto.Frame(nil, proto.TypeGet, 0, 3, proto.GetRequest(nil, 9))[:7])
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1 << 16
		h, body, err := proto.ReadFrame(bytes.NewReader(b), make([]byte, proto.HeaderSize), limit)
		dh, dbody, derr := proto.DecodeFrame(b, limit)
		if (err == nil) != (derr == nil) || err != nil && err.Error() != derr.Error() {
			t.Fatalf("ReadFrame: %v\nDecodeFrame: %v", err, derr)
		}
		if h != dh || !bytes.Equal(body, dbody) {
			t.Fatalf("ReadFrame: %+v %x\nDecodeFrame: %+v %x", h, body, dh, dbody)
		}
		if err == nil && len(dbody) > 0 && &dbody[0] != &b[proto.HeaderSize] {
			t.Fatal("the body does not alias the frame")
		}
	})
}

// FuzzBodies: every body decoder returns a value or an ErrBody, never
// panics, and accepted bodies re-encode to the same bytes; a members
// answer never holds more members than its bytes can. More seeds are in
// testdata/fuzz/FuzzBodies.
func FuzzBodies(f *testing.F) {
	f.Add(proto.AppendRequest(nil, [][]byte{{}, []byte("abc")}))
	f.Add(proto.AppendMeta(nil, proto.Meta{ID: "n0", Role: "leader", LeaderAddr: "127.0.0.1:1"}))
	f.Add(proto.AppendEntry([]byte{1, 0, 0, 0}, proto.Entry{Index: 1, Payload: []byte("x")}))
	f.Add(proto.AppendError(nil, proto.ErrorBody{Message: "m"}))
	f.Add(proto.AppendMemberRequest(nil, proto.MemberRequest{Op: proto.MemberAdd, ID: "n3", Peer: "127.0.0.1:40914"}))
	f.Add(proto.AppendMembers(nil, proto.Members{Node: "n0", Leader: "n0", Index: 7, Committed: true, Members: []proto.Member{
		{ID: "n0", Peer: "h:1", Client: "h:2", Progress: true, Match: 9}, {ID: "n3", Peer: "h:3", Learner: true, Progress: true, Match: 5, Lag: 4}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(err error, re func() []byte) {
			if err != nil {
				if !errors.Is(err, proto.ErrBody) {
					t.Fatalf("error %v is not ErrBody", err)
				}
				return
			}
			if got := re(); !bytes.Equal(got, b) {
				t.Fatalf("re-encoded %x from %x", got, b)
			}
		}
		ps, err := proto.ParseAppendRequest(b, 1<<20)
		check(err, func() []byte { return proto.AppendRequest(nil, ps) })
		more, aerr := proto.AppendPayloads([][]byte{[]byte("kept")}, b, 1<<20)
		switch {
		case (err == nil) != (aerr == nil), len(more) == 0 || string(more[0]) != "kept",
			err == nil && !bytes.Equal(proto.AppendRequest(nil, more[1:]), b), err != nil && len(more) != 1:
			t.Fatalf("AppendPayloads after one payload: %d payloads, %v; ParseAppendRequest: %v", len(more), aerr, err)
		}
		m, err := proto.ParseMeta(b)
		check(err, func() []byte { return proto.AppendMeta(nil, m) })
		es, err := proto.ParseRange(b)
		check(err, func() []byte {
			out := []byte{byte(len(es)), byte(len(es) >> 8), byte(len(es) >> 16), byte(len(es) >> 24)}
			for _, e := range es {
				out = proto.AppendEntry(out, e)
			}
			return out
		})
		eb, err := proto.ParseError(b)
		check(err, func() []byte { return proto.AppendError(nil, eb) })
		mr, err := proto.ParseMemberRequest(b)
		check(err, func() []byte { return proto.AppendMemberRequest(nil, mr) })
		ms, err := proto.ParseMembers(b)
		if err == nil && (len(ms.Members) > proto.MaxMembers || len(ms.Members)*23 > len(b)) {
			t.Fatalf("%d members from %d bytes", len(ms.Members), len(b))
		}
		check(err, func() []byte { return proto.AppendMembers(nil, ms) })
	})
}
