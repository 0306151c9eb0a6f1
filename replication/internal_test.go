package replication

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// fakeClock is a settable clock for the backoff.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

func newTestTransport(t *testing.T, backoff time.Duration) *Transport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(Config{Group: "g", Self: "n0", Listener: ln, RedialBackoff: backoff,
		Peers:  map[string]string{"n0": "", "n1": "127.0.0.1:1", "n2": "127.0.0.1:2"},
		Logger: slog.New(slog.DiscardHandler)}, func(*wire.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestBackoffAfterFailedDial(t *testing.T) {
	tr := newTestTransport(t, 50*time.Millisecond)
	clock := &fakeClock{}
	var dials atomic.Int32
	errDown := errors.New("connection refused")
	tr.now = clock.Now
	tr.dial = func(context.Context, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errDown
	}
	p := tr.Peer("n1")
	steps := []struct {
		advance   time.Duration
		wantDials int32
		wantMsg   string
	}{
		{0, 1, "dial n1 at 127.0.0.1:1: connection refused"},
		{0, 1, "not redialing n1 for another 50ms"},
		{49 * time.Millisecond, 1, "not redialing n1 for another 1ms"},
		{time.Millisecond, 2, "dial n1"},
		{10 * time.Millisecond, 2, "not redialing n1 for another 40ms"},
		{time.Hour, 3, "dial n1"},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		err := p.Send(&wire.Msg{Type: wire.TypeHeartbeat}, nil)
		if !errors.Is(err, ErrUnreachable) || !errors.Is(err, errDown) || !strings.Contains(err.Error(), s.wantMsg) {
			t.Fatalf("step %d: Send = %v, want ErrUnreachable saying %q", i, err, s.wantMsg)
		}
		if got := dials.Load(); got != s.wantDials {
			t.Fatalf("step %d: %d dials, want %d", i, got, s.wantDials)
		}
	}
	if tr.Peer("n2").Send(&wire.Msg{Type: wire.TypeHeartbeat}, nil); dials.Load() != 4 {
		t.Fatal("another peer's backoff held back n2's dial")
	}
}

func TestBackoffAfterRefusal(t *testing.T) {
	tr := newTestTransport(t, time.Second)
	clock := &fakeClock{}
	tr.now = clock.Now
	var dials atomic.Int32
	tr.dial = func(context.Context, string) (net.Conn, error) {
		dials.Add(1)
		a, b := net.Pipe()
		go func() { // a listener that refuses
			defer b.Close()
			wire.ReadHello(b)
			wire.WriteAnswer(b, wire.StatusWrongNode, "this is node x")
		}()
		return a, nil
	}
	p := tr.Peer("n1")
	for i, want := range []int32{1, 1, 2} {
		err := p.Send(&wire.Msg{Type: wire.TypeHeartbeat}, nil)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "wrong node: this is node x") {
			t.Fatalf("Send %d = %v, want ErrRefused with the reason", i, err)
		}
		if dials.Load() != want {
			t.Fatalf("Send %d: %d dials, want %d", i, dials.Load(), want)
		}
		clock.Advance(600 * time.Millisecond)
	}
}

func TestJudge(t *testing.T) {
	tr := newTestTransport(t, 0)
	tests := []struct {
		h    wire.Hello
		err  error
		want wire.Status
	}{
		{wire.Hello{Group: "g", From: "n1", To: "n0"}, nil, wire.StatusOK},
		{wire.Hello{Group: "g", From: "n2", To: "n0"}, nil, wire.StatusOK},
		{wire.Hello{Group: "G", From: "n1", To: "n0"}, nil, wire.StatusWrongGroup},
		{wire.Hello{Group: "g", From: "n3", To: "n0"}, nil, wire.StatusUnknownNode},
		{wire.Hello{Group: "g", From: "n0", To: "n0"}, nil, wire.StatusUnknownNode},
		{wire.Hello{Group: "g", From: "n1", To: "n2"}, nil, wire.StatusWrongNode},
		{wire.Hello{Group: "G", From: "n3", To: "n2"}, nil, wire.StatusWrongGroup}, // group first
		{wire.Hello{}, wire.ErrHandshake, wire.StatusMalformed},
		{wire.Hello{}, errors.Join(wire.ErrHandshake, wire.ErrVersion), wire.StatusVersion},
		{wire.Hello{Group: strings.Repeat("\xff", 255), From: "n1", To: "n0"}, nil, wire.StatusWrongGroup},
	}
	for _, tt := range tests {
		st, reason := tr.judge(tt.h, tt.err)
		if st != tt.want || (st != wire.StatusOK) == (reason == "") || len(reason) > wire.MaxReason {
			t.Errorf("judge(%.20q, %v) = %v %d-byte reason %.40q, want %v", tt.h, tt.err, st, len(reason), reason, tt.want)
		}
	}
}
