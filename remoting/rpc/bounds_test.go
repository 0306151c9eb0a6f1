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

// TestBodyless: a code named by Bodyless reaches its handler without its
// body, and the body does not count toward MaxHeldBytes: three 600 KB
// requests run at once under a 1 MiB bound (the suspended-pulls-with-bodies
// case of the bad-input campaign, where a window of held pulls with 4 MiB
// bodies stalled the connection for their whole suspend).
func TestBodyless(t *testing.T) {
	var running atomic.Int32
	release := make(chan struct{})
	h := func(_ context.Context, req *remoting.Command) *remoting.Command {
		if req.Body != nil {
			return remoting.NewResponse(req, remoting.SystemError, "a body reached the handler")
		}
		running.Add(1)
		<-release
		return remoting.NewResponse(req, remoting.Success, "")
	}
	_, addr := serve(t, h, rpc.ServerOptions{MaxHeldBytes: 1 << 20, Logger: quiet(),
		Bodyless: func(code int32) bool { return code == 11 }})
	c := dial(t, addr)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := invoke(t, c, remoting.NewRequest(11, nil, make([]byte, 600<<10))); r.Code != 0 {
				t.Error(r.Remark)
			}
		}()
	}
	poll.Eventually(t, 5*time.Second, "three bodyless handlers running at once", func() bool { return running.Load() == 3 })
	close(release)
	wg.Wait()
}

// TestAnswersBackPressure: answers a peer does not read hold their
// requests' slots, so a peer that sends without reading stops being read
// after MaxInFlight requests plus what the socket buffers take, instead of
// having its answers queued without bound.
func TestAnswersBackPressure(t *testing.T) {
	var handled atomic.Int32
	h := func(_ context.Context, req *remoting.Command) *remoting.Command {
		handled.Add(1)
		r := remoting.NewResponse(req, remoting.Success, "")
		r.Body = make([]byte, 64<<10) // 10,000 of them: 640 MiB, far more than socket buffers hold
		return r
	}
	_, addr := serve(t, h, rpc.ServerOptions{MaxInFlight: 4, Logger: quiet()})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	frame, _ := remoting.NewRequest(1, nil, nil).AppendFrame(nil)
	go func() {
		for range 10_000 {
			if _, err := nc.Write(frame); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second) // what the server handles meanwhile (slowness only lowers it)
	if n := handled.Load(); n >= 10_000 {
		t.Fatalf("the server handled all %d requests of a peer that reads no answer", n)
	}
}
