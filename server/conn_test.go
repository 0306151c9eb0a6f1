package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// The regression tests of what internal/hostile found on the client port.

// logRecorder is a slog.Handler that keeps every record's message and
// attributes.
type logRecorder struct {
	mu    *sync.Mutex
	recs  *[]string // "LEVEL msg k=v ..."
	attrs []slog.Attr
}

func newLogRecorder() *logRecorder { return &logRecorder{mu: &sync.Mutex{}, recs: new([]string)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, b.String())
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// lines returns the records that start with prefix ("WARN client port").
func (h *logRecorder) lines(prefix string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range *h.recs {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// waitLines waits until n records start with prefix.
func (h *logRecorder) waitLines(t *testing.T, prefix string, n int) []string {
	t.Helper()
	poll.EventuallyNil(t, 10*time.Second, fmt.Sprintf("%d log records %q", n, prefix), func() error {
		if got := len(h.lines(prefix)); got < n {
			return fmt.Errorf("%d of them", got)
		}
		return nil
	})
	return h.lines(prefix)
}

func withLog(rec *logRecorder) func(*Config) {
	return func(c *Config) { c.Logger = slog.New(rec) }
}

// TestPipelinedRequestsBounded: a client that blocks the writer (answers
// it does not read) and then pipelines large requests makes the node stop
// reading, not hold MaxInflight frames (hostile slow-reader: 192 MiB of
// requests were held, VmRSS +290 MiB).
func TestPipelinedRequestsBounded(t *testing.T) {
	g := startGroup(t, 1, nil)
	l := g.leader()
	fill(t, l, 20, 60<<10)
	before := l.framesRead.Load()
	c := dialRaw(t, l)
	const ranges, bigs = 64, 64
	var reqs []byte
	for i := range ranges {
		reqs = append(reqs, proto.Frame(nil, proto.TypeRange, 0, uint64(i+1), proto.RangeRequest(nil, 1, 0, 0))...)
	}
	big := proto.Frame(nil, proto.TypeAppend, 0, ranges+1, proto.AppendRequest(nil, [][]byte{make([]byte, 1<<20)}))
	c.nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
	_, err := c.nc.Write(reqs)
	for i := 0; err == nil && i < bigs; i++ {
		_, err = c.nc.Write(big)
	}
	if err == nil {
		// Everything fit in the socket buffers: the node must still not
		// read it all, given 2 s.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = poll.Until(ctx, func() bool { return l.framesRead.Load() >= before+ranges+bigs })
	}
	if read := l.framesRead.Load() - before; read >= ranges+bigs {
		t.Fatalf("the node read all %d requests (%d MiB) of a client that reads no answers", read, bigs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for cn := range l.conns {
		cn.held.mu.Lock()
		held := cn.held.held
		cn.held.mu.Unlock()
		if held > heldLimit+l.maxFrame {
			t.Fatalf("a connection holds %d request bytes, over %d + one frame", held, heldLimit)
		}
	}
}

// TestTooLargeAnsweredAtOnce: a frame announcing 4 GiB - 1 bytes is
// answered at once, not after its body (hostile oversize-4GiB: no answer
// until 4 GiB had arrived), and a stream cut inside it is logged.
func TestTooLargeAnsweredAtOnce(t *testing.T) {
	rec := newLogRecorder()
	g := startGroup(t, 1, withLog(rec))
	c := dialRaw(t, g.leader())
	b := make([]byte, proto.HeaderSize+100<<10)
	binary.LittleEndian.PutUint32(b, math.MaxUint32)
	b[8], b[9], b[12] = proto.Version, byte(proto.TypeAppend), 1
	if _, err := c.nc.Write(b); err != nil {
		t.Fatal(err)
	}
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, body, err := c.recv()
	if err != nil || h.Code != proto.CodeTooLarge || h.ID != 1 || !strings.Contains(errMsg(t, body).Message, "frame limit") {
		t.Fatalf("answer: %+v %v", h, err)
	}
	c.nc.Close()
	rec.waitLines(t, "WARN client port: closing the connection", 1)
	if l := rec.lines("WARN client port: closing the connection")[0]; !strings.Contains(l, "cut short") {
		t.Fatalf("logged %q", l)
	}
}

// TestRefusalsLoggedOnce: requests refused for their content are logged,
// the first at Warn with its reason and the rest not at Warn (hostile
// append-count-lies: nothing was logged).
func TestRefusalsLoggedOnce(t *testing.T) {
	rec := newLogRecorder()
	g := startGroup(t, 1, withLog(rec))
	c := dialRaw(t, g.leader())
	for range 5 {
		if code, _ := c.call(proto.TypeAppend, binary.LittleEndian.AppendUint32(nil, 1e9)); code != proto.CodeBadRequest {
			t.Fatalf("append of 1e9 payloads in 0 bytes: %v", code)
		}
	}
	if code, _ := c.call(proto.TypeMeta, nil); code != proto.CodeOK {
		t.Fatal(code)
	}
	warns := rec.lines("WARN client port: refused a request")
	if len(warns) != 1 || !strings.Contains(warns[0], "1000000000 payloads") || !strings.Contains(warns[0], "client="+c.nc.LocalAddr().String()) {
		t.Fatalf("Warn records: %q; want one naming the client and the reason", warns)
	}
}

// TestUnreadClientReset: a client that does not read its answers for
// writeTimeout is logged and reset (hostile slow-reader: the close was not
// logged, and the FIN waited behind megabytes of unsent answers, so the
// client never learned it was dropped).
func TestUnreadClientReset(t *testing.T) {
	old := writeTimeout
	t.Cleanup(func() { writeTimeout = old }) // after the group's cleanup
	writeTimeout = 300 * time.Millisecond
	rec := newLogRecorder()
	g := startGroup(t, 1, withLog(rec))
	l := g.leader()
	fill(t, l, 20, 60<<10)
	c := dialRaw(t, l)
	for range 64 {
		c.send(proto.TypeRange, proto.RangeRequest(nil, 1, 0, 0)) // ~1 MiB answers, never read
	}
	rec.waitLines(t, "WARN client port: disconnecting a client that did not read its answers", 1)
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	buf := make([]byte, 64<<10)
	for err == nil {
		_, err = c.nc.Read(buf)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading after the drop: %v; want a reset", err)
	}
}

// TestIdleConnectionsHoldNoBuffers: connections that made requests and
// went idle hold no read or write buffer, nor a copy of their last
// answer (hostile idle-after-large-reads: 32 idle connections after one
// 4 MiB range each held 225 MiB; idle-to-limit: 128 KiB per connection).
func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	g := startGroup(t, 1, nil)
	l := g.leader()
	fill(t, l, 16, 60<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var conns []net.Conn
	for range 100 {
		c := dialRaw(t, l)
		if code, _ := c.call(proto.TypeRange, proto.RangeRequest(nil, 1, 0, 0)); code != proto.CodeOK {
			t.Fatal(code)
		}
		conns = append(conns, c.nc)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Fatalf("100 idle connections after a 1 MiB answer each grew the heap by %d MiB", grew>>20)
	}
	runtime.KeepAlive(conns)
}
