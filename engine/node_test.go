package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/replication/wire"
	"github.com/rmqlog/rmqlog/segment"
)

// Driver tests: one real Node on a MemFS, fed messages directly. They
// guard the review findings of the first engine version.

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openSolo opens node n0 on fs, in directory /d, with peers besides itself
// (none by default; listed, they never answer), adjusted by tweak, and
// closes it when the test ends.
//
// It is the one harness of package engine's own tests. They reach into
// the node they open: they feed it messages (handle), count its loop's
// rounds (loops), hold its lock and set leading, read its log (st.Log)
// and its hard state on the MemFS (loadState, saveState). Only code inside
// the package can, and inside it testgroup cannot serve them: it imports
// engine, a cycle. The tests that need only the API, whole groups
// included, are in package engine_test, on testgroup.
func openSolo(t *testing.T, fs segment.FS, peers map[string]string, tweak func(*Config)) *Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if peers == nil {
		peers = map[string]string{}
	}
	peers["n0"] = ln.Addr().String()
	cfg := Config{Group: "g", ID: "n0", Peers: peers, Listener: ln, Dir: "/d", FS: fs,
		SegmentSize: 64 << 10, IndexEntries: 4096, MaxEntrySize: 4 << 10, Logger: quietLogger()}
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// leaderLog builds entries 1..5 of term 1 and 6..10 of term t2, as a
// leader's log holds them.
func leaderLog(t *testing.T, t2 uint64) *segment.Log {
	t.Helper()
	l, err := segment.Open("/l", segment.Options{FS: segment.NewMemFS(), SegmentSize: 64 << 10,
		IndexEntries: 512, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for k := 1; k <= 10; k++ {
		term := uint64(1)
		if k > 5 {
			term = t2
		}
		if _, err := l.Append(term, segment.TypeNormal, []byte{byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func framedRange(t *testing.T, l *segment.Log, from uint64, n int) []byte {
	t.Helper()
	bufs, _, err := l.Framed(from, math.MaxInt, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, x := range bufs {
		b = append(b, x...)
	}
	return b
}

// TestReplacedSuffixIsSynced: a follower replaces its suffix 6..10 by a new
// leader's 6..10 in one batch, so its last index does not move; under
// SYNC_FLUSH the new entries must still be fsynced and reported.
func TestReplacedSuffixIsSynced(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), map[string]string{"n1": "127.0.0.1:1"},
		func(c *Config) { c.ElectionTimeout = 10 * time.Second })
	old, cur := leaderLog(t, 1), leaderLog(t, 2)
	n.handle(&wire.Msg{Type: wire.TypeAppend, From: "n1", To: "n0", Term: 1, Count: 10, Entries: framedRange(t, old, 1, 10)})
	poll.Eventually(t, 5*time.Second, "the first batch fsynced", func() bool { return n.Status().Durable == 10 })
	n.handle(&wire.Msg{Type: wire.TypeAppend, From: "n1", To: "n0", Term: 2, Index: 5, LogTerm: 1, Count: 5,
		Entries: framedRange(t, cur, 6, 5)})
	if term, _ := n.st.Log.Term(10); term != 2 {
		t.Fatalf("entry 10 has term %d after the new leader's batch, want 2", term)
	}
	poll.Eventually(t, 5*time.Second, "the replaced suffix fsynced", func() bool { return n.Status().Durable == 10 })
	if d := n.st.Log.DurableIndex(); d < 10 {
		t.Fatalf("flusher reports 10 durable, the log %d", d)
	}
}

// TestFlushFailureStopsNode: a failed fsync stops the node for good
// (fail-stop), and its loop then waits on ticks instead of spinning on the
// flusher's closed channel.
func TestFlushFailureStopsNode(t *testing.T) {
	fs := segment.NewMemFS()
	n := openSolo(t, fs, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	poll.Eventually(t, 5*time.Second, "leadership", func() bool { return n.Status().Writable })
	if _, err := n.Append(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	fs.SetFault(func(op, name string) error {
		if op == "sync" {
			return errors.New("injected EIO")
		}
		return nil
	})
	if _, err := n.Append(ctx, []byte("y")); err == nil {
		t.Fatal("append acknowledged although its fsync failed")
	}
	poll.Eventually(t, 5*time.Second, "the node to stop", func() bool { return n.Status().Err != nil })
	if !errors.Is(n.Status().Err, ErrStopped) {
		t.Fatalf("status error %v, want ErrStopped", n.Status().Err)
	}
	if _, err := n.Append(ctx, []byte("z")); err == nil {
		t.Fatal("a stopped node accepted an append")
	}
	// 100 ms is 20 ticks; a loop spinning on a closed channel runs
	// hundreds of thousands of times.
	l0 := n.loops.Load()
	time.Sleep(100 * time.Millisecond)
	if k := n.loops.Load() - l0; k > 1000 {
		t.Fatalf("loop ran %d times in 100 ms after the failure: spinning", k)
	}
}

// TestProposeBackPressure: appends beyond MaxPendingBytes are refused with
// ErrBusy instead of queueing without bound.
func TestProposeBackPressure(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), map[string]string{"n1": "127.0.0.1:1", "n2": "127.0.0.1:2"},
		func(c *Config) { c.MaxPendingBytes = 10 << 10 })
	// Nobody else is up, so this node never leads: make it look like one
	// to Propose, and hold the node lock so the loop cannot drain (and
	// fail) the queue meanwhile.
	n.mu.Lock()
	n.leading.Store(true)
	var busy bool
	for range 100 {
		if _, err := n.Propose(make([]byte, 1024)); errors.Is(err, ErrBusy) {
			busy = true
			break
		}
	}
	n.mu.Unlock()
	if !busy {
		t.Fatal("100 KiB of proposals accepted with a 10 KiB limit")
	}
}
