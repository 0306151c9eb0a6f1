package rpc_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// The server's bounds, found missing by the bad-input campaign
// (internal/hostile: idle-to-limit, suspended-pulls-with-bodies): open
// connections, idle connections, and the bytes a connection's running
// handlers hold.

// closedByPeer reports whether nc's peer closed it within d.
func closedByPeer(nc net.Conn, d time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(d))
	_, err := nc.Read(make([]byte, 1))
	return err == io.EOF
}

func TestMaxConnections(t *testing.T) {
	_, addr := serve(t, echo, rpc.ServerOptions{MaxConnections: 2, Logger: quiet()})
	c1, c2 := dial(t, addr), dial(t, addr)
	invoke(t, c1, remoting.NewRequest(1, nil, []byte("a"))) // both registered by now
	invoke(t, c2, remoting.NewRequest(1, nil, []byte("b")))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !closedByPeer(nc, 5*time.Second) {
		t.Fatal("a third connection stayed open with MaxConnections 2")
	}
	invoke(t, c1, remoting.NewRequest(1, nil, []byte("still served")))
}

func TestIdleTimeout(t *testing.T) {
	_, addr := serve(t, echo, rpc.ServerOptions{IdleTimeout: 100 * time.Millisecond, Logger: quiet()})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte{0, 0}) // a frame that never completes
	if !closedByPeer(nc, 5*time.Second) {
		t.Fatal("an idle connection stayed open past IdleTimeout")
	}
}

func TestMaxHeldBytes(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	h := func(_ context.Context, req *remoting.Command) *remoting.Command {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		return remoting.NewResponse(req, remoting.Success, "")
	}
	_, addr := serve(t, h, rpc.ServerOptions{MaxHeldBytes: 1 << 20, Logger: quiet()})
	c := dial(t, addr)
	var wg sync.WaitGroup
	for range 3 { // 600 KB each: two do not fit under 1 MiB together
		wg.Add(1)
		go func() {
			defer wg.Done()
			invoke(t, c, remoting.NewRequest(1, nil, make([]byte, 600<<10)))
		}()
	}
	poll.Eventually(t, 5*time.Second, "the first handler running", func() bool { return running.Load() == 1 })
	time.Sleep(100 * time.Millisecond) // would a second start? (it must not)
	if peak.Load() != 1 {
		t.Fatalf("%d handlers ran at once; 600 KB requests under a 1 MiB bound must run one at a time", peak.Load())
	}
	close(release)
	wg.Wait()
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
