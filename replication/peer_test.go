package replication_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/replication/wire"
)

func TestSendToDeadPeer(t *testing.T) {
	nodes := startNodes(t, []string{"n0"}, map[string]string{"n1": deadAddr(t)}, func(_ string, c *replication.Config) {
		c.RedialBackoff = time.Hour // every later Send must fail fast
	})
	p := nodes["n0"].tr.Peer("n1")
	hb := &wire.Msg{Type: wire.TypeHeartbeat, Term: 1}
	start := time.Now()
	err := p.Send(hb, nil)
	if !errors.Is(err, replication.ErrUnreachable) || !strings.Contains(err.Error(), "dial n1 at 127.0.0.1:") {
		t.Fatalf("Send = %v, want ErrUnreachable naming the peer", err)
	}
	if d := time.Since(start); d >= replication.DefaultDialTimeout {
		t.Fatalf("a refused dial on loopback took %v", d)
	}
	for range 100 {
		err := p.Send(hb, nil)
		if !errors.Is(err, replication.ErrUnreachable) || !strings.Contains(err.Error(), "not redialing n1") {
			t.Fatalf("Send during the backoff = %v", err)
		}
	}
	if n := len(nodes["n0"].logs.find(slog.LevelInfo, "peer unreachable")); n != 1 {
		t.Fatalf("%d 'unreachable' lines for 101 failed Sends, want 1", n)
	}
}

func TestRedialAfterRestart(t *testing.T) {
	nodes := startNodes(t, []string{"n0", "n1"}, nil, func(_ string, c *replication.Config) {
		c.RedialBackoff = 5 * time.Millisecond
	})
	p := nodes["n0"].tr.Peer("n1")
	sendUntilReceived(t, p, nodes["n1"], 1)

	addr := nodes["n1"].tr.Addr().String()
	if err := nodes["n1"].tr.Close(); err != nil {
		t.Fatal(err)
	}
	// While n1 is down, Send fails (maybe not the first one: it can land in
	// the socket buffer before the reset arrives).
	err := sendUntilError(func() error { return p.Send(&wire.Msg{Type: wire.TypeHeartbeat, Term: 2}, nil) })
	if !errors.Is(err, replication.ErrUnreachable) {
		t.Fatalf("Send to a stopped peer = %v", err)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("restart n1 on %s: %v", addr, err)
	}
	n1 := startNode(t, replication.Config{Group: group, Self: "n1", Listener: ln,
		Peers: map[string]string{"n0": nodes["n0"].tr.Addr().String(), "n1": addr}}, nil)
	sendUntilReceived(t, p, n1, 3)
	if got := len(nodes["n0"].logs.find(slog.LevelInfo, "connected to peer")); got != 2 {
		t.Fatalf("%d connects logged, want 2", got)
	}
}

func TestSendWriteTimeout(t *testing.T) {
	release := make(chan struct{})
	stuck := make(chan struct{}, 1)
	lns := map[string]net.Listener{"n0": listen(t), "n1": listen(t)}
	peers := map[string]string{"n0": lns["n0"].Addr().String(), "n1": lns["n1"].Addr().String()}
	// n1's Handler blocks, so its reader stops and the socket buffers fill.
	n1, err := replication.New(replication.Config{Group: group, Self: "n1", Peers: peers, Listener: lns["n1"],
		Logger: slog.New(slog.DiscardHandler)}, func(*wire.Msg) {
		select {
		case stuck <- struct{}{}:
		default:
		}
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	defer close(release) // runs before n1.Close, so the Handler returns
	n0 := startNode(t, replication.Config{Group: group, Self: "n0", Peers: peers, Listener: lns["n0"]},
		func(_ string, c *replication.Config) { c.WriteTimeout = 100 * time.Millisecond })

	p := n0.tr.Peer("n1")
	big := [][]byte{make([]byte, 1<<20)}
	m := &wire.Msg{Type: wire.TypeAppend, Count: 1}
	err = sendUntilError(func() error { return p.Send(m, big) })
	if !errors.Is(err, replication.ErrUnreachable) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Send to a stalled reader = %v, want ErrUnreachable after the write deadline", err)
	}
	<-stuck
	n0.logs.waitLog(t, slog.LevelInfo, "disconnected from peer")
}

// TestInterrupt: a Send blocked on a peer that stopped reading returns as
// soon as another goroutine calls Interrupt, long before its write
// deadline; the next Send redials.
func TestInterrupt(t *testing.T) {
	release := make(chan struct{})
	lns := map[string]net.Listener{"n0": listen(t), "n1": listen(t)}
	peers := map[string]string{"n0": lns["n0"].Addr().String(), "n1": lns["n1"].Addr().String()}
	var blocked atomic.Bool
	n1, err := replication.New(replication.Config{Group: group, Self: "n1", Peers: peers, Listener: lns["n1"],
		Logger: slog.New(slog.DiscardHandler)}, func(m *wire.Msg) {
		if m.Term == 1 && blocked.CompareAndSwap(false, true) {
			<-release // stop reading: the socket buffers fill
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	defer close(release)
	n0 := startNode(t, replication.Config{Group: group, Self: "n0", Peers: peers, Listener: lns["n0"]},
		func(_ string, c *replication.Config) { c.WriteTimeout = time.Hour })
	p := n0.tr.Peer("n1")
	big := [][]byte{make([]byte, 1<<20)}
	done := make(chan error, 1)
	go func() {
		m := &wire.Msg{Type: wire.TypeAppend, Term: 1, Count: 1}
		for {
			if err := p.Send(m, big); err != nil {
				done <- err
				return
			}
		}
	}()
	for !blocked.Load() {
		runtime.Gosched()
	}
	// The sender is (or soon will be) stuck in a write that would last an
	// hour; interrupt until it gives up (waiting up to 10 ms after each).
	poll.Eventually(t, waitFor, "the blocked Send to return after Interrupt", func() bool {
		p.Interrupt()
		select {
		case err = <-done:
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("interrupted Send = %v, want a deadline error", err)
	}
}
