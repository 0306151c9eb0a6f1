package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
)

func TestAppendRetried(t *testing.T) {
	for _, code := range []proto.Code{proto.CodeBusy, proto.CodeUnknown, proto.CodeClosing, proto.CodeFailed} {
		t.Run(code.String(), func(t *testing.T) {
			l, nodes := group(t, 1)
			nodes[0].set(func(n *testNode) { n.codes = []proto.Code{code, code} })
			c := dial(t, addrsOf(nodes...))
			index, err := c.Append(ctxFor(t, 10*time.Second), []byte("p"))
			if err != nil {
				t.Fatal(err)
			}
			checkCommitted(t, l, index, []byte("p"))
			if got := nodes[0].count(proto.TypeAppend); got != 3 {
				t.Errorf("the node got %d appends, want 3 (two answered %v)", got, code)
			}
		})
	}
}

func TestAppendNotRetried(t *testing.T) {
	tests := []struct {
		name    string
		limit   int    // the node's hidden limit
		max     uint32 // the maxMessageSize it advertises
		batch   [][]byte
		want    error
		message string
		sent    int // appends the node receives
	}{
		{"payload over maxMessageSize", 0, 1024, [][]byte{make([]byte, 1025)}, ErrTooLarge, "1025 bytes, maxMessageSize is 1024", 0},
		{"batch over the frame limit", 0, 1024, repeat(make([]byte, 1000), 1100), ErrTooLarge, "split the batch", 0},
		{"batch over 65536 payloads", 0, 0, repeat(nil, 65537), ErrTooLarge, "65537 payloads", 0},
		{"empty batch", 0, 0, nil, ErrBadRequest, "no payloads", 0},
		{"node's CodeTooLarge", 10, 0, [][]byte{make([]byte, 11)}, ErrTooLarge, "the limit is 10", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, nodes := group(t, 1)
			nodes[0].set(func(n *testNode) { n.limit, n.meta.MaxMessageSize = tt.limit, tt.max })
			c := dial(t, addrsOf(nodes...))
			_, err := c.AppendBatch(ctxFor(t, 10*time.Second), tt.batch)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("AppendBatch: %v; want %v saying %q", err, tt.want, tt.message)
			}
			if got := nodes[0].count(proto.TypeAppend); got != tt.sent {
				t.Errorf("the node got %d appends, want %d", got, tt.sent)
			}
		})
	}
}

func repeat(p []byte, n int) [][]byte {
	b := make([][]byte, n)
	for i := range b {
		b[i] = p
	}
	return b
}

func TestRedirect(t *testing.T) {
	l, nodes := group(t, 2)
	a, b := nodes[0], nodes[1]
	c := dial(t, addrsOf(a)) // b's address is learned from the redirect
	a.set(func(n *testNode) { n.follow(b) })
	b.set(func(n *testNode) { n.lead() })
	index, err := c.Append(ctxFor(t, 10*time.Second), []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, l, index, []byte("p"))
	if c.Addr() != b.addr {
		t.Errorf("connected to %s after the redirect, want %s", c.Addr(), b.addr)
	}
	// b fails; a, whose address was given, leads again; b's address was learned.
	a.set(func(n *testNode) { n.lead() })
	b.set(func(n *testNode) { n.follow(nil) })
	if _, err := c.Append(ctxFor(t, 10*time.Second), []byte("q")); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	known := append([]string(nil), c.addrs...)
	c.mu.Unlock()
	if len(known) != 2 || known[1] != b.addr {
		t.Errorf("known addresses %v, want %s learned", known, b.addr)
	}
}

// TestElection: while no node knows a leader, appends poll the nodes'
// Meta until one leads.
func TestElection(t *testing.T) {
	l, nodes := group(t, 3)
	for _, n := range nodes {
		n.set(func(n *testNode) { n.follow(nil) })
	}
	c := dial(t, addrsOf(nodes...))
	done := make(chan error, 1)
	var index uint64
	go func() {
		var err error
		index, err = c.Append(ctxFor(t, 20*time.Second), []byte("p"))
		done <- err
	}()
	nodes[2].waitFor("meta polls", func(n *testNode) bool { return n.reqs[proto.TypeMeta] >= 3 })
	nodes[2].set(func(n *testNode) { n.lead() })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, l, index, []byte("p"))
}

func TestFailover(t *testing.T) {
	const n = 200
	l, nodes := group(t, 2)
	a, b := nodes[0], nodes[1]
	a.set(func(x *testNode) {
		x.dropAt = 50
		x.onDrop = func() {
			a.set(func(x *testNode) { x.follow(b) })
			b.set(func(x *testNode) { x.lead() })
		}
	})
	c := dial(t, addrsOf(a, b))
	ctx := ctxFor(t, 20*time.Second)
	futures := make([]*Future, n)
	for i := range futures {
		futures[i] = c.AppendAsync([]byte(fmt.Sprint("p", i)))
	}
	seen := map[uint64]bool{}
	for i, f := range futures {
		index, err := f.Wait(ctx)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if seen[index] {
			t.Fatalf("index %d returned twice", index)
		}
		seen[index] = true
		checkCommitted(t, l, index, []byte(fmt.Sprint("p", i)))
	}
	if c.Addr() != b.addr || b.count(proto.TypeAppend) == 0 {
		t.Errorf("connected to %s, b got %d appends; want the appends after the drop on b", c.Addr(), b.count(proto.TypeAppend))
	}
}

// TestFailoverConcurrent: when the leader's connection drops under 64
// appending goroutines, one of them searches for the new leader and the
// others wait for its result: one probe of the old leader, one connection
// to the new one.
func TestFailoverConcurrent(t *testing.T) {
	const goroutines, each = 64, 50
	l, nodes := group(t, 2)
	a, b := nodes[0], nodes[1]
	a.set(func(x *testNode) {
		x.dropAt = 300
		x.onDrop = func() {
			a.set(func(x *testNode) { x.follow(b) })
			b.set(func(x *testNode) { x.lead() })
		}
	})
	var logs lockedBuffer
	c := dial(t, addrsOf(a, b), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := ctxFor(t, 30*time.Second)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Go(func() {
			for i := 0; i < each; i++ {
				p := []byte(fmt.Sprintf("g%d-%d", g, i))
				index, err := c.Append(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				checkCommitted(t, l, index, p)
			}
		})
	}
	wg.Wait()
	if a.conns0() != 2 || b.conns0() != 1 {
		t.Errorf("a got %d connections, b %d; want 2 (the first, one probe) and 1", a.conns0(), b.conns0())
	}
	if want := `msg="client: connected" addr=` + b.addr; !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, logs.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestBadResponse: a response the client cannot use closes its connection;
// the call it answers fails if it can be told (not retried: a retry would
// get the same), the others are resent on a new connection.
func TestBadResponse(t *testing.T) {
	bad := func(nth int, frame func(h proto.Header) []byte) func(proto.Header, []byte, int) []byte {
		return func(h proto.Header, _ []byte, k int) []byte {
			if h.Type == proto.TypeAppend && k == nth {
				return frame(h)
			}
			return nil
		}
	}
	tests := []struct {
		name    string
		respond func(proto.Header, []byte, int) []byte
		failed  string // the message of the append that fails, "" if all succeed
	}{
		{"crc", bad(3, func(h proto.Header) []byte {
			f := proto.Frame(nil, h.Type, proto.CodeOK, h.ID, proto.AppendResult(nil, 1, 1))
			f[len(f)-1] ^= 1
			return f
		}), ""},
		{"wrong id", bad(3, func(h proto.Header) []byte {
			return proto.Frame(nil, h.Type, proto.CodeOK, h.ID+1000, proto.AppendResult(nil, 1, 1))
		}), ""},
		{"unsolicited", bad(3, func(h proto.Header) []byte {
			return proto.Frame(nil, h.Type, proto.CodeOK, 0, proto.AppendResult(nil, 1, 1))
		}), ""},
		{"malformed body", bad(3, func(h proto.Header) []byte {
			return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, []byte("xx"))
		}), "malformed body"},
		{"wrong count", bad(3, func(h proto.Header) []byte {
			return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, proto.AppendResult(nil, 1, 2))
		}), "for 1 payloads"},
		{"over WithMaxFrame", bad(3, func(h proto.Header) []byte {
			return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, make([]byte, 5000))
		}), "over this client's limit of 4096 (WithMaxFrame)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, nodes := group(t, 1)
			hold := make(chan struct{})
			c := dial(t, addrsOf(nodes...), WithMaxFrame(4096))
			nodes[0].set(func(n *testNode) { n.respond, n.hold = tt.respond, hold })
			futures := make([]*Future, 6)
			for i := range futures {
				futures[i] = c.AppendAsync([]byte(fmt.Sprint("p", i)))
			}
			nodes[0].waitFor("6 appends", func(n *testNode) bool { return n.reqs[proto.TypeAppend] >= 6 })
			nodes[0].set(func(n *testNode) { n.hold = nil })
			close(hold)
			ctx := ctxFor(t, 10*time.Second)
			for i, f := range futures {
				index, err := f.Wait(ctx)
				if i == 2 && tt.failed != "" {
					if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.failed) {
						t.Fatalf("append 2: %v; want ErrProtocol saying %q", err, tt.failed)
					}
					continue
				}
				if err != nil {
					t.Fatalf("append %d: %v", i, err)
				}
				checkCommitted(t, l, index, []byte(fmt.Sprint("p", i)))
			}
			if got := nodes[0].conns0(); got != 2 {
				t.Errorf("%d connections, want 2 (the first one closed)", got)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	const d = time.Second // long enough for an attempt or two on a loaded machine
	tests := []struct {
		name   string
		setup  func(nodes []*testNode)
		opts   []Option
		ctx    func(t *testing.T) context.Context
		reason error // wrapped besides the context's error
	}{
		{"answer held", func(nodes []*testNode) { nodes[0].hold = make(chan struct{}) }, nil,
			func(t *testing.T) context.Context { return ctxFor(t, d) }, nil},
		{"no leader", func(nodes []*testNode) { nodes[0].follow(nil) }, nil,
			func(t *testing.T) context.Context { return ctxFor(t, d) }, ErrNotLeader},
		{"always busy", func(nodes []*testNode) { nodes[0].codes = repeatCode(proto.CodeBusy, 1000) }, nil,
			func(t *testing.T) context.Context { return ctxFor(t, d) }, ErrBusy},
		{"WithRetryTimeout", func(nodes []*testNode) { nodes[0].follow(nil) }, []Option{WithRetryTimeout(d)},
			func(*testing.T) context.Context { return context.Background() }, ErrNotLeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, nodes := group(t, 1)
			c := dial(t, addrsOf(nodes...), tt.opts...)
			nodes[0].set(func(*testNode) { tt.setup(nodes) })
			start := time.Now()
			_, err := c.Append(tt.ctx(t), []byte("p"))
			if took := time.Since(start); took > d+slack {
				t.Errorf("Append returned after %v with a %v deadline", took, d)
			}
			if !errors.Is(err, context.DeadlineExceeded) || (tt.reason != nil && !errors.Is(err, tt.reason)) {
				t.Errorf("Append: %v; want a deadline error wrapping %v", err, tt.reason)
			}
		})
	}
}

func repeatCode(c proto.Code, n int) []proto.Code {
	cs := make([]proto.Code, n)
	for i := range cs {
		cs[i] = c
	}
	return cs
}

// TestReadFailedNotRetried: a node that answers a read with CodeFailed
// found a corrupt entry; asking again cannot help, so Get fails at once.
func TestReadFailedNotRetried(t *testing.T) {
	l, nodes := group(t, 1)
	l.append(0, [][]byte{[]byte("p")})
	nodes[0].set(func(n *testNode) {
		n.respond = func(h proto.Header, body []byte, nth int) []byte {
			if h.Type != proto.TypeGet {
				return nil
			}
			return proto.Frame(nil, h.Type, proto.CodeFailed, h.ID, proto.AppendError(nil, proto.ErrorBody{Message: "segment: corrupt entry"}))
		}
	})
	c := dial(t, addrsOf(nodes...))
	if _, err := c.Get(ctxFor(t, 10*time.Second), 1); !errors.Is(err, ErrFailed) {
		t.Fatalf("Get answered CodeFailed: %v, want ErrFailed", err)
	}
	if got := nodes[0].count(proto.TypeGet); got != 1 {
		t.Errorf("the node got %d gets, want 1", got)
	}
}
