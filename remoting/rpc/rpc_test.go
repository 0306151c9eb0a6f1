package rpc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/internal/testlog"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// serve starts a server of h on 127.0.0.1 and returns its address; the
// test's cleanup closes it and checks that Serve returned ErrServerClosed.
func serve(t *testing.T, h rpc.Handler, opts rpc.ServerOptions) (*rpc.Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer(h, opts)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, l.Addr().String()
}

func dial(t *testing.T, addr string) *rpc.Client {
	t.Helper()
	c, err := rpc.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo answers with the request's body and remark "echo".
func echo(_ context.Context, req *remoting.Command) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.Success, "echo")
	resp.Body = req.Body
	return resp
}

func invoke(t *testing.T, c *rpc.Client, req *remoting.Command) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// checkNoLeak fails the test when the goroutines started after it began
// are still running at its end.
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if poll.Until(ctx, func() bool { return runtime.NumGoroutine() <= before }) != nil {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// TestConcurrent: many calls on one connection, in both serializations,
// each gets its own answer, and no more than MaxInFlight handlers run at
// once.
func TestConcurrent(t *testing.T) {
	checkNoLeak(t)
	const limit = 4
	var running, peak atomic.Int32
	h := func(ctx context.Context, req *remoting.Command) *remoting.Command {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond) // hold the slot so calls overlap
		return echo(ctx, req)
	}
	_, addr := serve(t, h, rpc.ServerOptions{MaxInFlight: limit})
	c := dial(t, addr)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(strings.Repeat("x", i))
			req := remoting.NewRequest(remoting.SendMessage, map[string]string{"i": "v"}, body)
			req.Serialize = remoting.SerializeType(i % 2)
			resp := invoke(t, c, req)
			if !bytes.Equal(resp.Body, body) || resp.Opaque != req.Opaque || resp.Serialize != req.Serialize || !resp.IsResponse() {
				t.Errorf("call %d: answer %+.100v", i, resp)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > limit || p < 2 {
		t.Errorf("peak handlers in flight %d, want 2..%d", p, limit)
	}
}

// TestNotSupported: Mux answers an unknown code with
// REQUEST_CODE_NOT_SUPPORTED and the connection serves the next request.
func TestNotSupported(t *testing.T) {
	checkNoLeak(t)
	mux := rpc.Mux{remoting.HeartBeat: echo}
	_, addr := serve(t, mux.Handle, rpc.ServerOptions{})
	c := dial(t, addr)
	resp := invoke(t, c, remoting.NewRequest(remoting.EndTransaction, nil, nil))
	if resp.Code != int32(remoting.RequestCodeNotSupported) || resp.Remark != " request type 37 not supported" {
		t.Fatalf("unknown code answered %d %q", resp.Code, resp.Remark)
	}
	if resp := invoke(t, c, remoting.NewRequest(remoting.HeartBeat, nil, nil)); resp.Remark != "echo" {
		t.Fatalf("next request answered %+v", resp)
	}
}

// TestBadFrames: a frame the codec refuses closes its connection, logged
// once with the reason; other connections go on.
func TestBadFrames(t *testing.T) {
	checkNoLeak(t)
	for _, tc := range []struct {
		name  string
		frame []byte
		says  string // in the log line
	}{
		{"short length", []byte{0, 0, 0, 2, 0, 0}, "bad frame length"},
		{"negative", []byte{0x80, 0, 0, 0}, "bad frame length"},
		{"too large", binary.BigEndian.AppendUint32(nil, 8<<20), "frame too large"},
		{"bad JSON", append([]byte{0, 0, 0, 7, 0, 0, 0, 3}, "{x}"...), "bad JSON header"},
		{"serialize 9", []byte{0, 0, 0, 4, 9, 0, 0, 0}, "unknown serialize type"},
		{"JSON, too many extFields", manyExtFields(remoting.SerializeJSON), "remoting.MaxExtFields"},
		{"ROCKETMQ, too many extFields", manyExtFields(remoting.SerializeRocketMQ), "remoting.MaxExtFields"},
		{"header too large", frameOf(remoting.SerializeJSON, map[string]string{"k": strings.Repeat("v", 1<<20)}),
			"remoting.MaxHeaderLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &testlog.Buffer{}
			logger := slog.New(slog.NewTextHandler(logs, nil))
			_, addr := serve(t, echo, rpc.ServerOptions{MaxFrameSize: 4 << 20, Logger: logger})
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(tc.frame)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("read after a bad frame: %d, %v; want the connection closed", n, err)
			}
			if n := strings.Count(logs.String(), "closing connection"); n != 1 || !strings.Contains(logs.String(), tc.says) {
				t.Fatalf("%d log lines, want 1 saying %q:\n%s", n, tc.says, logs)
			}
			if resp := invoke(t, dial(t, addr), remoting.NewRequest(remoting.HeartBeat, nil, nil)); resp.Remark != "echo" {
				t.Fatalf("another connection answered %+v", resp)
			}
		})
	}
}

// manyExtFields is a request of MaxExtFields+1 extFields entries.
func manyExtFields(ser remoting.SerializeType) []byte {
	ext := map[string]string{}
	for i := range remoting.MaxExtFields + 1 {
		ext[strconv.Itoa(i)] = "v"
	}
	return frameOf(ser, ext)
}

// frameOf encodes a HEART_BEAT request of ext in ser.
func frameOf(ser remoting.SerializeType, ext map[string]string) []byte {
	c := remoting.NewRequest(remoting.HeartBeat, ext, nil)
	c.Serialize = ser
	f, err := c.AppendFrame(nil)
	if err != nil {
		panic(err)
	}
	return f
}

// TestOversizeAnswer: a client refuses an answer over its frame size and
// fails the calls waiting on the connection.
func TestOversizeAnswer(t *testing.T) {
	checkNoLeak(t)
	_, addr := serve(t, echo, rpc.ServerOptions{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := rpc.NewClient(nc, 1024)
	defer c.Close()
	_, err = c.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessage, nil, make([]byte, 4096)))
	if !errors.Is(err, remoting.ErrFrameTooLarge) || !errors.Is(err, rpc.ErrClientClosed) {
		t.Fatalf("Invoke: %v, want ErrFrameTooLarge", err)
	}
}

// TestCloseDuringRequests: Close cancels the handlers' context, waits for
// them and delivers their answers; later calls fail, nothing leaks.
func TestCloseDuringRequests(t *testing.T) {
	checkNoLeak(t)
	started := make(chan struct{}, 10)
	h := func(ctx context.Context, req *remoting.Command) *remoting.Command {
		started <- struct{}{}
		<-ctx.Done()
		return remoting.NewResponse(req, remoting.SystemBusy, "closing")
	}
	s, addr := serve(t, h, rpc.ServerOptions{})
	c := dial(t, addr)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := invoke(t, c, remoting.NewRequest(remoting.PullMessage, nil, nil))
			if resp.Code != int32(remoting.SystemBusy) {
				t.Errorf("answer %+v", resp)
			}
		}()
	}
	for range 10 {
		<-started
	}
	s.Close()
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Invoke(ctx, remoting.NewRequest(remoting.PullMessage, nil, nil)); err == nil {
		t.Fatal("Invoke after the server closed succeeded")
	}
}

// TestInvokeDeadline: a call whose answer does not come returns at its
// context's deadline; a late answer is dropped.
func TestInvokeDeadline(t *testing.T) {
	checkNoLeak(t)
	release := make(chan struct{})
	h := func(ctx context.Context, req *remoting.Command) *remoting.Command {
		<-release
		return echo(ctx, req)
	}
	_, addr := serve(t, h, rpc.ServerOptions{})
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Invoke(ctx, remoting.NewRequest(remoting.PullMessage, nil, nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke: %v, want the deadline", err)
	}
	close(release)
	if resp := invoke(t, c, remoting.NewRequest(remoting.HeartBeat, nil, nil)); resp.Remark != "echo" {
		t.Fatalf("next call answered %+v", resp)
	}
}

// TestClientOneway: Invoke of a oneway request returns once it is
// written; the handler runs.
func TestClientOneway(t *testing.T) {
	checkNoLeak(t)
	ran := make(chan struct{}, 1)
	h := func(ctx context.Context, req *remoting.Command) *remoting.Command {
		ran <- struct{}{}
		return echo(ctx, req)
	}
	_, addr := serve(t, h, rpc.ServerOptions{})
	req := remoting.NewRequest(remoting.UpdateConsumerOffset, nil, nil)
	req.Flag = remoting.FlagOneway
	if resp, err := dial(t, addr).Invoke(context.Background(), req); resp != nil || err != nil {
		t.Fatalf("oneway Invoke: %+v, %v", resp, err)
	}
	<-ran
}

// TestOneway: a oneway request runs its handler and gets no answer.
func TestOneway(t *testing.T) {
	checkNoLeak(t)
	ran := make(chan struct{}, 1)
	h := func(ctx context.Context, req *remoting.Command) *remoting.Command {
		ran <- struct{}{}
		return echo(ctx, req)
	}
	_, addr := serve(t, h, rpc.ServerOptions{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := remoting.NewRequest(remoting.UpdateConsumerOffset, nil, nil)
	req.Flag = remoting.FlagOneway
	frame, _ := req.AppendFrame(nil)
	nc.Write(frame)
	<-ran
	nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := nc.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
		t.Fatalf("read after a oneway request: %d, %v; want nothing", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestPeerAndOnClose: a handler sees the address of the connection its
// request came on, and OnClose reports that address once the peer hangs
// up (a broker forgets the clients of a closed connection).
func TestPeerAndOnClose(t *testing.T) {
	closed := make(chan net.Addr, 1)
	_, addr := serve(t, func(ctx context.Context, req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, remoting.Success, rpc.Peer(ctx).String())
	}, rpc.ServerOptions{OnClose: func(a net.Addr) { closed <- a }})
	c, err := rpc.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	resp := invoke(t, c, remoting.NewRequest(remoting.HeartBeat, nil, nil))
	c.Close()
	select {
	case a := <-closed:
		if a.String() != resp.Remark {
			t.Fatalf("OnClose reported %s, the handler saw %s", a, resp.Remark)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called within 5 s of the client closing")
	}
}
