package replication_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// waitFor bounds every wait of these tests.
const waitFor = 5 * time.Second

const group = "dLegerGroup"

// node is one Transport under test with what its Handler received and
// what it logged.
type node struct {
	tr   *replication.Transport
	in   chan wire.Msg
	logs *logStore
}

// listen opens a listener on a free loopback port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// deadAddr returns a loopback address nothing listens on (a port just
// released).
func deadAddr(t testing.TB) string {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startNodes starts a Transport for each id, all in one group, every one
// knowing every other's address. tweak may adjust each Config; extra adds
// members that have no Transport (id -> address).
func startNodes(t testing.TB, ids []string, extra map[string]string, tweak func(id string, c *replication.Config)) map[string]*node {
	t.Helper()
	lns := make(map[string]net.Listener, len(ids))
	peers := make(map[string]string, len(ids)+len(extra))
	for _, id := range ids {
		lns[id] = listen(t)
		peers[id] = lns[id].Addr().String()
	}
	for id, addr := range extra {
		peers[id] = addr
	}
	nodes := make(map[string]*node, len(ids))
	for _, id := range ids {
		cfg := replication.Config{Group: group, Self: id, Peers: peers, Listener: lns[id]}
		nodes[id] = startNode(t, cfg, tweak)
	}
	return nodes
}

// startNode starts one Transport with a recording Handler and Logger.
func startNode(t testing.TB, cfg replication.Config, tweak func(id string, c *replication.Config)) *node {
	t.Helper()
	n := &node{in: make(chan wire.Msg, 4096), logs: newLogStore()}
	cfg.Logger = slog.New(&logSink{store: n.logs})
	if tweak != nil {
		tweak(cfg.Self, &cfg)
	}
	tr, err := replication.New(cfg, func(m *wire.Msg) {
		c := *m
		c.Entries = bytes.Clone(m.Entries)
		n.in <- c
	})
	if err != nil {
		t.Fatal(err)
	}
	n.tr = tr
	t.Cleanup(func() { tr.Close() })
	return n
}

// recv returns the next message n received, failing the test after waitFor.
func (n *node) recv(t testing.TB) wire.Msg {
	t.Helper()
	select {
	case m := <-n.in:
		return m
	case <-time.After(waitFor):
		t.Fatal("no message within", waitFor)
		return wire.Msg{}
	}
}

// sendUntilReceived sends heartbeats of term from sender to receiver until
// one arrives (a Send may fail, or be lost on a connection that is dying).
// After each it waits up to 20 ms for the message.
func sendUntilReceived(t testing.TB, p *replication.Peer, to *node, term uint64) {
	t.Helper()
	poll.Eventually(t, waitFor, fmt.Sprintf("a heartbeat of term %d at %s", term, p.ID()), func() bool {
		p.Send(&wire.Msg{Type: wire.TypeHeartbeat, Term: term}, nil)
		select {
		case m := <-to.in:
			return m.Term == term
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
}

// sendUntilError calls send until it fails and returns its error, or nil
// if it did not fail within waitFor.
func sendUntilError(send func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var err error
	_ = poll.Until(ctx, func() bool { err = send(); return err != nil })
	return err
}

// waitClosed waits until the other end closes c (EOF or reset), failing
// after waitFor.
func waitClosed(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor))
	_, err := io.Copy(io.Discard, c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed by the listener: %v", err)
	}
}

// rawDial opens a plain connection to tr, as a misbehaving peer would.
func rawDial(t testing.TB, tr *replication.Transport) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", tr.Addr().String(), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawHandshake sends h on c and returns the answer.
func rawHandshake(t testing.TB, c net.Conn, h wire.Hello) (wire.Status, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(waitFor))
	if err := wire.WriteHello(c, h); err != nil {
		t.Fatal(err)
	}
	st, reason, err := wire.ReadAnswer(c)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
	return st, reason
}

// waitGoroutines waits until at most n goroutines run, failing after
// waitFor with the stacks of those left.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	// A goroutine that called wg.Done may still be returning: poll the
	// count until the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if poll.Until(ctx, func() bool { return runtime.NumGoroutine() <= n }) != nil {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
	}
}

// logStore records log lines for assertions.
type logStore struct {
	mu     sync.Mutex
	recs   []logRec      // guarded by mu
	notify chan struct{} // set once by newLogStore; signalled without blocking on every record
}

type logRec struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (s *logStore) find(level slog.Level, msg string) []logRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logRec
	for _, r := range s.recs {
		if r.level == level && strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

// waitLog waits until a record at level whose message contains msg exists
// and returns the first.
func (s *logStore) waitLog(t testing.TB, level slog.Level, msg string) logRec {
	t.Helper()
	return s.waitLogs(t, level, msg, 1)[0]
}

// waitLogs waits until at least n records at level contain msg.
func (s *logStore) waitLogs(t testing.TB, level slog.Level, msg string, n int) []logRec {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		if recs := s.find(level, msg); len(recs) >= n {
			return recs
		}
		select {
		case <-s.changed():
		case <-timeout:
			t.Fatalf("fewer than %d %v logs %q within %v", n, level, msg, waitFor)
		}
	}
}

// changed returns a channel that receives after a record is added (the
// token stays until taken, so a record added before the wait is not missed).
func (s *logStore) changed() chan struct{} { return s.notify }

func newLogStore() *logStore { return &logStore{notify: make(chan struct{}, 1)} }

// logSink is a slog.Handler writing into a logStore.
type logSink struct {
	store *logStore
	attrs []slog.Attr
}

func (h *logSink) Enabled(context.Context, slog.Level) bool { return true }

func (h *logSink) Handle(_ context.Context, r slog.Record) error {
	rec := logRec{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.store.mu.Lock()
	h.store.recs = append(h.store.recs, rec)
	select {
	case h.store.notify <- struct{}{}:
	default:
	}
	h.store.mu.Unlock()
	return nil
}

func (h *logSink) WithAttrs(as []slog.Attr) slog.Handler {
	return &logSink{store: h.store, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *logSink) WithGroup(string) slog.Handler { return h }
