package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
)

// slack is the generous bound on how late a call may return after its
// deadline (a correctness bound, not a performance one).
const slack = 2 * time.Second

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dial(t testing.TB, addrs []string, opts ...Option) *Client {
	t.Helper()
	c, err := Dial(ctxFor(t, 10*time.Second), addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// group starts n nodes sharing a log: nodes[0] leads, the others follow it.
func group(t testing.TB, n int) (*testLog, []*testNode) {
	l := &testLog{}
	nodes := []*testNode{newNode(t, "n0", l, true)}
	for i := 1; i < n; i++ {
		f := newNode(t, fmt.Sprintf("n%d", i), l, false)
		f.set(func(n *testNode) { n.follow(nodes[0]) })
		nodes = append(nodes, f)
	}
	return l, nodes
}

func addrsOf(nodes ...*testNode) []string {
	var a []string
	for _, n := range nodes {
		a = append(a, n.addr)
	}
	return a
}

// checkCommitted fails unless the log holds payload at index.
func checkCommitted(t testing.TB, l *testLog, index uint64, payload []byte) {
	t.Helper()
	e, why, _ := l.get(index)
	if why != "" || e.Type != 0 || !bytes.Equal(e.Payload, payload) {
		t.Fatalf("index %d holds %q (%s), the append of %q returned it", index, e.Payload, why, payload)
	}
}

func TestDial(t *testing.T) {
	l := &testLog{}
	leader := newNode(t, "leader", l, true)
	follower := newNode(t, "follower", l, false)
	follower.set(func(n *testNode) { n.follow(leader) })
	lost := newNode(t, "lost", l, false) // a follower that knows no leader
	overloaded := newNode(t, "overloaded", l, true)
	overloaded.set(func(n *testNode) { n.refuse = proto.CodeOverload })
	closing := newNode(t, "closing", l, true)
	closing.set(func(n *testNode) { n.refuse = proto.CodeClosing })
	tests := []struct {
		name  string
		addrs []string
		want  *testNode
	}{
		{"leader", addrsOf(leader), leader},
		{"via a follower's redirect", addrsOf(follower), leader},
		{"past an overloaded node", addrsOf(overloaded, follower), leader},
		{"past a closing node", addrsOf(closing, follower), leader},
		{"a follower when no leader is known", addrsOf(lost), lost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, tt.addrs)
			if got := c.Addr(); got != tt.want.addr {
				t.Fatalf("connected to %s, want %s (%s)", got, tt.want.addr, tt.want.id)
			}
			m, err := c.Meta(ctxFor(t, 5*time.Second))
			if err != nil || m.ID != tt.want.id {
				t.Fatalf("Meta = %+v, %v; want node %s", m, err, tt.want.id)
			}
		})
	}
}

func TestDialFails(t *testing.T) {
	overloaded := newNode(t, "overloaded", &testLog{}, true)
	overloaded.set(func(n *testNode) { n.refuse = proto.CodeOverload })
	dead := newNode(t, "dead", &testLog{}, true)
	dead.close()
	addrs := addrsOf(overloaded, dead)
	start := time.Now()
	_, err := Dial(ctxFor(t, time.Second), addrs)
	if took := time.Since(start); took > time.Second+slack {
		t.Errorf("Dial took %v with a 1s deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want a deadline error", err)
	}
	for _, want := range []string{overloaded.addr, "node overloaded: refused: overload", dead.addr, "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Dial's error %q does not mention %q", err, want)
		}
	}
	if _, err := Dial(context.Background(), nil); err == nil {
		t.Error("Dial with no address succeeded")
	}
	mute := newNode(t, "mute", &testLog{}, true)
	mute.set(func(n *testNode) { n.hold = make(chan struct{}) })
	// A deadline of 20 dial timeouts: even on a loaded machine the mute
	// node is tried (and times out) before the deadline ends the Dial.
	_, err = Dial(ctxFor(t, time.Second), addrsOf(mute), WithDialTimeout(50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer to a meta request within the dial timeout (WithDialTimeout)") {
		t.Errorf("Dial of a node that does not answer: %v", err)
	}
}

func TestAppend(t *testing.T) {
	l, nodes := group(t, 1)
	c := dial(t, addrsOf(nodes...))
	ctx := ctxFor(t, 10*time.Second)
	for i, p := range [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("x"), 70000)} {
		index, err := c.Append(ctx, p)
		if err != nil || index != uint64(i+1) {
			t.Fatalf("Append %d = %d, %v", i, index, err)
		}
		checkCommitted(t, l, index, p)
	}
	batch := [][]byte{[]byte("b1"), []byte("b2"), []byte("b3")}
	first, err := c.AppendBatch(ctx, batch)
	if err != nil || first != 4 {
		t.Fatalf("AppendBatch = %d, %v; want 4", first, err)
	}
	for i, p := range batch {
		checkCommitted(t, l, first+uint64(i), p)
	}
}

// TestAppendBatchAsync: batches sent with AppendBatchAsync are pipelined
// and appended in the order of the calls, each Wait returning its first
// index; an empty batch is refused at once.
func TestAppendBatchAsync(t *testing.T) {
	l, nodes := group(t, 1)
	c := dial(t, addrsOf(nodes...))
	ctx := ctxFor(t, 10*time.Second)
	var batches [][][]byte
	var futures []*Future
	for i := range 50 {
		var batch [][]byte
		for j := range 1 + i%4 {
			batch = append(batch, []byte(fmt.Sprint(i, "-", j)))
		}
		batches = append(batches, batch)
		futures = append(futures, c.AppendBatchAsync(batch))
	}
	next := uint64(1)
	for i, f := range futures {
		first, err := f.Wait(ctx)
		if err != nil || first != next {
			t.Fatalf("batch %d: first index %d, %v; want %d", i, first, err, next)
		}
		for j, p := range batches[i] {
			checkCommitted(t, l, first+uint64(j), p)
		}
		next += uint64(len(batches[i]))
	}
	if _, err := c.AppendBatchAsync(nil).Wait(ctx); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("an empty batch: %v; want ErrBadRequest", err)
	}
}

// TestPipelinedAnswersDecodedInPlace: append answers read together, some
// of them errors, each reach their call intact: the errors' messages are
// not overwritten by the answers that follow them in the read buffer.
func TestPipelinedAnswersDecodedInPlace(t *testing.T) {
	_, nodes := group(t, 1)
	c := dial(t, addrsOf(nodes...))
	const n = 60
	var codes []proto.Code
	for i := range n {
		codes = append(codes, []proto.Code{proto.CodeOK, proto.CodeTooLarge, proto.CodeOK, proto.CodeBadRequest}[i%4])
	}
	hold := make(chan struct{})
	nodes[0].set(func(x *testNode) { x.codes, x.hold = codes, hold })
	var futures []*Future
	for i := range n {
		futures = append(futures, c.AppendAsync([]byte(fmt.Sprint(i))))
	}
	nodes[0].waitFor("the appends", func(x *testNode) bool { return x.reqs[proto.TypeAppend] == n })
	close(hold) // the answers go out together
	ctx := ctxFor(t, 10*time.Second)
	var errs []error
	for _, f := range futures {
		_, err := f.Wait(ctx)
		errs = append(errs, err)
	}
	for i, err := range errs {
		switch code := codes[i]; {
		case code == proto.CodeOK && err != nil:
			t.Errorf("append %d: %v", i, err)
		case code != proto.CodeOK && (err == nil || !strings.Contains(err.Error(), "scripted "+code.String())):
			t.Errorf("append %d: %v; want the node's message %q", i, err, "scripted "+code.String())
		}
	}
}

func TestReads(t *testing.T) {
	l, nodes := group(t, 1)
	l.append(proto.EntryNoop, [][]byte{nil})
	l.append(proto.EntryMessage, [][]byte{[]byte("a"), []byte("b"), {}, []byte("c")})
	l.append(proto.EntryConfig, [][]byte{[]byte("members")})
	c := dial(t, addrsOf(nodes...))
	ctx := ctxFor(t, 10*time.Second)
	gets := []struct {
		index uint64
		want  string
		err   error
	}{{1, "", ErrNoop}, {2, "a", nil}, {4, "", nil}, {6, "", ErrNoop}, {9, "", ErrNotFound}}
	for _, g := range gets {
		p, err := c.Get(ctx, g.index)
		if !errors.Is(err, g.err) || string(p) != g.want {
			t.Errorf("Get(%d) = %q, %v; want %q, %v", g.index, p, err, g.want, g.err)
		}
	}
	if _, err := c.Get(ctx, 9); !strings.Contains(fmt.Sprint(err), "not committed; the commit index is 6") {
		t.Errorf("Get(9): %v; want the node's message", err)
	}
	p, _ := c.Get(ctx, 2)
	p[0] = 'z' // the caller's copy
	if p, _ := c.Get(ctx, 2); string(p) != "a" {
		t.Errorf("Get(2) after changing a returned payload = %q", p)
	}
	ranges := []struct {
		from     uint64
		maxCount int
		want     []string
	}{{1, 0, []string{"", "a", "b", "", "c", "members"}}, {2, 2, []string{"a", "b"}}, {5, 9, []string{"c", "members"}}, {7, 0, nil}}
	for _, r := range ranges {
		es, err := c.Range(ctx, r.from, r.maxCount)
		var got []string
		for i, e := range es {
			got = append(got, string(e.Payload))
			if e.Index != r.from+uint64(i) {
				t.Errorf("Range(%d): entry %d has index %d", r.from, i, e.Index)
			}
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(r.want) {
			t.Errorf("Range(%d, %d) = %q, %v; want %q", r.from, r.maxCount, got, err, r.want)
		}
	}
	l.mu.Lock()
	l.first = 3
	l.mu.Unlock()
	for _, get := range []func() error{
		func() error { _, err := c.Get(ctx, 2); return err },
		func() error { _, err := c.Range(ctx, 1, 0); return err },
	} {
		if err := get(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "first index is 3") {
			t.Errorf("read of a deleted entry: %v; want ErrNotFound naming the first index", err)
		}
	}
	if nodes[0].conns0() != 1 {
		t.Errorf("%d connections, want 1", nodes[0].conns0())
	}
}

func TestAdmin(t *testing.T) {
	_, nodes := group(t, 2)
	c := dial(t, addrsOf(nodes[1]))
	ctx := ctxFor(t, 10*time.Second)
	if s, err := c.Status(ctx); err != nil || string(s) != `{"id":"n0"}` {
		t.Errorf("Status = %s, %v", s, err)
	}
	if err := c.Transfer(ctx, "n1"); err != nil {
		t.Errorf("Transfer: %v", err)
	}
	nodes[0].set(func(n *testNode) { n.transfer = proto.CodeTransfer })
	if err := c.Transfer(ctx, "n1"); !errors.Is(err, ErrTransfer) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Transfer: %v; want ErrTransfer with the node's message", err)
	}
}

func TestPinned(t *testing.T) {
	l, nodes := group(t, 2)
	leader, follower := nodes[0], nodes[1]
	l.append(0, [][]byte{[]byte("a")})
	c := dial(t, addrsOf(follower, leader), WithPinned())
	ctx := ctxFor(t, 10*time.Second)
	_, err := c.Append(ctx, []byte("p"))
	var nle *NotLeaderError
	if !errors.As(err, &nle) || !errors.Is(err, ErrNotLeader) || nle.Leader != "n0" || nle.LeaderAddr != leader.addr || nle.Node != follower.addr {
		t.Fatalf("Append on a pinned follower: %v (%+v); want a NotLeaderError naming n0", err, nle)
	}
	if m, err := c.Meta(ctx); err != nil || m.ID != "n1" {
		t.Errorf("Meta = %+v, %v; want n1's", m, err)
	}
	if p, err := c.Get(ctx, 1); err != nil || string(p) != "a" {
		t.Errorf("Get on the follower = %q, %v", p, err)
	}
	follower.set(func(n *testNode) { n.lead(); n.codes = []proto.Code{proto.CodeBusy} })
	if _, err := c.Append(ctx, []byte("p")); !errors.Is(err, ErrBusy) {
		t.Errorf("Append: %v; want ErrBusy, not retried", err)
	}
	if leader.conns0() != 0 || c.Addr() != follower.addr {
		t.Errorf("the leader got %d connections, client at %s: want none, pinned to %s", leader.conns0(), c.Addr(), follower.addr)
	}
}

// TestCancelKeepsConnection: a call whose context ends leaves the
// connection to the others, and a Future can be waited for again.
func TestCancelKeepsConnection(t *testing.T) {
	l, nodes := group(t, 1)
	hold := make(chan struct{})
	c := dial(t, addrsOf(nodes...))
	nodes[0].set(func(n *testNode) { n.hold = hold })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Append(ctx, []byte("p")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context: %v", err)
	}
	f := c.AppendAsync([]byte("f"))
	if _, err := f.Wait(ctxFor(t, 50*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "pending on "+nodes[0].addr) {
		t.Errorf("Wait: %v; want a deadline error naming what was pending", err)
	}
	nodes[0].set(func(n *testNode) { n.hold = nil })
	close(hold)
	ctx = ctxFor(t, 10*time.Second)
	index, err := f.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, l, index, []byte("f"))
	if again, err := f.Wait(ctx); again != index || err != nil {
		t.Errorf("Wait again = %d, %v; want %d", again, err, index)
	}
	if _, err := c.Append(ctx, []byte("q")); err != nil || nodes[0].conns0() != 1 || nodes[0].count(proto.TypeAppend) != 2 {
		t.Errorf("Append: %v, %d connections, %d appends; want one connection, 2 appends", err, nodes[0].conns0(), nodes[0].count(proto.TypeAppend))
	}
}

func TestClose(t *testing.T) {
	_, nodes := group(t, 1)
	c := dial(t, addrsOf(nodes...))
	nodes[0].set(func(n *testNode) { n.hold = make(chan struct{}) })
	const n = 8
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		f := c.AppendAsync([]byte("p"))
		go func() {
			_, err := f.Wait(context.Background())
			errs <- err
		}()
		go func() {
			_, err := c.Append(context.Background(), []byte("q"))
			errs <- err
		}()
	}
	nodes[0].waitFor("the appends", func(x *testNode) bool { return x.reqs[proto.TypeAppend] == 2*n })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2*n; i++ {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("pending append: %v; want ErrClosed", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Append(context.Background(), []byte("p")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := c.AppendAsync([]byte("p")).Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("AppendAsync after Close: %v", err)
	}
	if _, err := c.Meta(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Meta after Close: %v", err)
	}
	if len(c.conns) != 0 || c.Addr() != "" {
		t.Errorf("%d connections left, Addr %q", len(c.conns), c.Addr())
	}
}

// TestConcurrent: 64 goroutines share one connection; every index is
// distinct and holds the payload it was returned for.
func TestConcurrent(t *testing.T) {
	const goroutines, each = 64, 200
	l, nodes := group(t, 1)
	c := dial(t, addrsOf(nodes...))
	ctx := ctxFor(t, 30*time.Second)
	var mu sync.Mutex
	seen := map[uint64]string{}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Go(func() {
			for i := 0; i < each; i++ {
				p := fmt.Sprintf("g%d-%d", g, i)
				index, err := c.Append(ctx, []byte(p))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if q, dup := seen[index]; dup {
					t.Errorf("index %d returned for %s and %s", index, q, p)
				}
				seen[index] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for index, p := range seen {
		checkCommitted(t, l, index, []byte(p))
	}
	if len(seen) != goroutines*each || nodes[0].conns0() != 1 {
		t.Errorf("%d indexes over %d connections; want %d over 1", len(seen), nodes[0].conns0(), goroutines*each)
	}
}

// TestAsyncOrder: pipelined appends on one connection are appended in
// the order of the calls.
func TestAsyncOrder(t *testing.T) {
	l, nodes := group(t, 1)
	c := dial(t, addrsOf(nodes...))
	ctx := ctxFor(t, 10*time.Second)
	futures := make([]*Future, 1000)
	for i := range futures {
		futures[i] = c.AppendAsync([]byte(fmt.Sprint(i)))
	}
	for i, f := range futures {
		index, err := f.Wait(ctx)
		if err != nil || index != uint64(i+1) {
			t.Fatalf("append %d = %d, %v; want %d", i, index, err, i+1)
		}
	}
	checkCommitted(t, l, 1000, []byte("999"))
}
