package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/replication/wire"
	"github.com/rmqlog/rmqlog/segment"
)

// Driver tests: one real Node on a MemFS, fed messages directly. They
// guard the review findings of the first engine version.

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func listenLocal(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func openSolo(t *testing.T, fs segment.FS, peers map[string]string, tweak func(*Config)) *Node {
	t.Helper()
	ln := listenLocal(t)
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

// TestReadAfterClose: reads and waits after Close fail cleanly (the log
// is unmapped by then).
func TestReadAfterClose(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	poll.Eventually(t, 5*time.Second, "leadership", func() bool { return n.Status().Writable })
	i, err := n.Append(ctx, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Read(i); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}
	if err := n.WaitCommit(ctx, i+1); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitCommit after Close: %v, want ErrClosed", err)
	}
	if err := n.TransferLeadership(ctx, "n0"); !errors.Is(err, ErrClosed) {
		t.Fatalf("TransferLeadership after Close: %v, want ErrClosed", err)
	}
	if _, err := n.Propose([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Propose after Close: %v, want ErrClosed", err)
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

// TestNotLeaderErrorWithoutAddress (issue 13): a NotLeaderError whose leader's address is
// unknown says so instead of printing an empty address.
func TestNotLeaderErrorWithoutAddress(t *testing.T) {
	for _, tc := range []struct {
		e    NotLeaderError
		want string
	}{
		{NotLeaderError{}, "no leader is known yet"},
		{NotLeaderError{Leader: "n1"}, "the leader is n1 (its client address is not known here yet)"},
		{NotLeaderError{Leader: "n1", LeaderAddr: "10.0.0.1:30911"}, "the leader is n1 at 10.0.0.1:30911"},
	} {
		if got := tc.e.Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}

// TestPreVoteReportedAsPreCandidate (issue 13): a pre-vote was reported as
// "candidate, term 0" to the embedder but as "pre-candidate" by Status.
func TestPreVoteReportedAsPreCandidate(t *testing.T) {
	roles := make(chan RoleChange, 16)
	n := openSolo(t, segment.NewMemFS(), map[string]string{"n1": "127.0.0.1:1", "n2": "127.0.0.1:2"}, func(c *Config) {
		c.OnRoleChange = func(rc RoleChange) { roles <- rc }
		c.ElectionTimeout, c.HeartbeatInterval, c.TickInterval = 50*time.Millisecond, 10*time.Millisecond, 5*time.Millisecond
	})
	select {
	case rc := <-roles:
		if rc.Role != PreCandidate || rc.Term != 0 || n.Status().Role != PreCandidate {
			t.Fatalf("first role change %+v, status %v", rc, n.Status().Role)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no role change")
	}
}
