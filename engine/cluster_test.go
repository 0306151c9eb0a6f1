package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
)

// In-process clusters over real TCP on 127.0.0.1 with real segment files.
// Every node's peer address is a proxy in front of its listener, so a test
// can cut the connections into a node mid-stream.

type testCluster struct {
	t     testing.TB
	mode  flush.Mode
	ids   []string
	dirs  map[string]string
	addrs map[string]string // real listener addresses
	prox  map[string]*proxy
	nodes map[string]*Node
	tweak func(*Config)
	// direct: peers dial each other's listeners, no proxies.
	direct bool
	// lns holds each node's first listener, open from the cluster's
	// creation until the node starts (a port closed and reopened later can
	// be taken meanwhile, e.g. as another connection's local port).
	lns map[string]net.Listener
}

func newTestCluster(t *testing.T, n int, mode flush.Mode) *testCluster {
	t.Helper()
	return newCluster(t, n, mode, false)
}

// newCluster prepares n nodes (data directories, listeners, and unless
// direct a proxy in front of each); start them with start or startAll.
func newCluster(tb testing.TB, n int, mode flush.Mode, direct bool) *testCluster {
	c := &testCluster{t: tb, mode: mode, dirs: map[string]string{}, addrs: map[string]string{},
		lns: map[string]net.Listener{}, prox: map[string]*proxy{}, nodes: map[string]*Node{}, direct: direct}
	for i := range n {
		id := fmt.Sprintf("n%d", i)
		c.ids = append(c.ids, id)
		c.dirs[id] = tb.TempDir()
		ln := listenLocal(tb)
		c.lns[id], c.addrs[id] = ln, ln.Addr().String()
		if !direct {
			c.prox[id] = newProxy(tb, c.addrs[id])
		}
	}
	tb.Cleanup(c.closeAll)
	return c
}

// follower returns the id of a member other than l.
func (c *testCluster) follower(l *Node) string {
	for _, id := range c.ids {
		if id != l.ID() {
			return id
		}
	}
	c.t.Fatal("a group of one has no follower")
	return ""
}

func listenLocal(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func (c *testCluster) config(id string) Config {
	peers := map[string]string{}
	for _, p := range c.ids {
		if c.direct {
			peers[p] = c.addrs[p]
		} else {
			peers[p] = c.prox[p].addr()
		}
	}
	cfg := Config{Group: "g", ID: id, Peers: peers, Dir: c.dirs[id], FlushMode: c.mode, ClientAddr: "client-" + id,
		FlushInterval: 20 * time.Millisecond, SegmentSize: 256 << 10, IndexEntries: 4096,
		TickInterval: 5 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond,
		ElectionTimeout: 150 * time.Millisecond, RetransmitTimeout: 100 * time.Millisecond,
		MaxBatchBytes: 64 << 10, MaxEntrySize: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if raceEnabled {
		// The race detector slows the nodes several-fold, and `make test`
		// runs other packages' tests (real processes among them) on the
		// same two cores: a 150 ms starvation would make the leader step
		// down (CheckQuorum) in the middle of a test that expects none.
		cfg.ElectionTimeout = 600 * time.Millisecond
	}
	if os.Getenv("RMQLOG_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

func (c *testCluster) start(id string) *Node {
	c.t.Helper()
	cfg := c.config(id)
	cfg.Listener = c.listener(id)
	n, err := Open(cfg)
	if err != nil {
		c.t.Fatalf("open %s: %v", id, err)
	}
	clusterMu.Lock()
	c.nodes[id] = n
	clusterMu.Unlock()
	return n
}

// listener returns the node's first listener, or for a restart a new one:
// on a fresh port behind the node's proxy, whose address its peers know.
func (c *testCluster) listener(id string) net.Listener {
	if ln := c.lns[id]; ln != nil {
		delete(c.lns, id)
		return ln
	}
	if c.direct {
		c.t.Fatalf("restart of %s without a proxy in front of it", id)
	}
	ln := listenLocal(c.t)
	c.addrs[id] = ln.Addr().String()
	c.prox[id].retarget(c.addrs[id])
	return ln
}

func (c *testCluster) startAll() {
	for _, id := range c.ids {
		c.start(id)
	}
}

func (c *testCluster) stop(id string) {
	c.t.Helper()
	if n := c.nodes[id]; n != nil {
		clusterMu.Lock()
		delete(c.nodes, id)
		clusterMu.Unlock()
		if err := n.Close(); err != nil {
			c.t.Fatalf("close %s: %v", id, err)
		}
	}
}

func (c *testCluster) closeAll() {
	for _, n := range c.snapshot() {
		n.Close()
	}
	for _, ln := range c.lns {
		ln.Close()
	}
	for _, p := range c.prox {
		p.close()
	}
}

// leader waits for a writable leader among the running nodes.
func (c *testCluster) leader() *Node {
	c.t.Helper()
	var found *Node
	c.waitFor(10*time.Second, "a writable leader", func() bool {
		found = nil
		for _, n := range c.nodes {
			if st := n.Status(); st.Writable {
				found = n
			}
		}
		return found != nil
	})
	return found
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func (c *testCluster) waitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("no %s within %v: %s", what, d, c.describe())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *testCluster) describe() string {
	var b bytes.Buffer
	for _, id := range c.ids {
		if n := c.nodes[id]; n != nil {
			st := n.Status()
			fmt.Fprintf(&b, "\n%s %v term %d leader %q commit %d log [%d,%d] durable %d err %v followers %+v",
				id, st.Role, st.Term, st.Leader, st.Commit, st.First, st.Last, st.Durable, st.Err, st.Followers)
		} else {
			fmt.Fprintf(&b, "\n%s stopped", id)
		}
	}
	return b.String()
}

// stopConvergedFollower appends count entries (workers at a time), waits
// until every node holds them, stops a follower and returns its id and the
// acknowledged entries.
func (c *testCluster) stopConvergedFollower(t *testing.T, count, workers int) (string, map[uint64][]byte) {
	t.Helper()
	l := c.leader()
	f := c.follower(l)
	acked := load(t, c, count, workers, "before")
	c.converge(l.st.Log.LastIndex())
	c.stop(f)
	return f, acked
}

// converge waits until every running node has committed and holds index i.
func (c *testCluster) converge(i uint64) {
	c.t.Helper()
	c.waitFor(20*time.Second, fmt.Sprintf("commit of %d on every node", i), func() bool {
		for _, n := range c.nodes {
			if n.CommitIndex() < i || n.st.Log.LastIndex() < i {
				return false
			}
		}
		return true
	})
}

// identical checks that every running node holds the same bytes for every
// entry from the highest first index to i.
func (c *testCluster) identical(i uint64) {
	c.t.Helper()
	var ref *Node
	for _, n := range c.nodes {
		ref = n
		break
	}
	from := uint64(1)
	for _, n := range c.nodes {
		from = max(from, n.st.Log.FirstIndex())
	}
	for k := from; k <= i; k++ {
		want, err := ref.Read(k)
		if err != nil {
			c.t.Fatalf("%s read %d: %v", ref.ID(), k, err)
		}
		for _, n := range c.nodes {
			got, err := n.Read(k)
			if err != nil || got.CRC != want.CRC || got.Term != want.Term || !bytes.Equal(got.Payload, want.Payload) {
				c.t.Fatalf("entry %d differs: %s has %+v (%v), %s has crc %08x", k, n.ID(), got.CRC, err, ref.ID(), want.CRC)
			}
		}
	}
}

// load appends count unique payloads from workers goroutines and returns
// the acknowledged payloads by index. Appends that fail with an unknown
// outcome are retried elsewhere only by the caller.
func load(t *testing.T, c *testCluster, count, workers int, tag string) map[uint64][]byte {
	t.Helper()
	var mu sync.Mutex
	acked := map[uint64][]byte{}
	var wg sync.WaitGroup
	per := count / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < per; {
				p := []byte(fmt.Sprintf("%s w%d k%d %s", tag, w, k, bytes.Repeat([]byte{'x'}, 64)))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				i, err := appendAnywhere(ctx, c, p)
				cancel()
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				acked[i] = p
				mu.Unlock()
				k++
			}
		}()
	}
	wg.Wait()
	return acked
}

// appendAnywhere appends on whichever node leads, following redirects.
func appendAnywhere(ctx context.Context, c *testCluster, p []byte) (uint64, error) {
	for {
		for _, n := range c.snapshot() {
			i, err := n.Append(ctx, p)
			if err == nil {
				return i, nil
			}
			if ctx.Err() != nil {
				return 0, err
			}
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrClosed) {
				return 0, err
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var clusterMu sync.Mutex

func (c *testCluster) snapshot() []*Node {
	clusterMu.Lock()
	defer clusterMu.Unlock()
	var ns []*Node
	for _, n := range c.nodes {
		ns = append(ns, n)
	}
	return ns
}

// settled waits for every running node to hold and commit last, then
// checks the replicas are identical and hold every acknowledged entry.
func (c *testCluster) settled(last uint64, acked map[uint64][]byte) {
	c.t.Helper()
	c.converge(last)
	c.identical(last)
	c.checkAcked(acked)
}

func (c *testCluster) checkAcked(acked map[uint64][]byte) {
	c.t.Helper()
	seen := map[string]uint64{}
	for _, n := range c.nodes {
		for i, p := range acked {
			e, err := n.Read(i)
			if err != nil || !bytes.Equal(e.Payload, p) {
				c.t.Fatalf("%s: acknowledged entry %d lost or changed (%v)", n.ID(), i, err)
			}
		}
		clear(seen)
		for k := n.st.Log.FirstIndex(); k <= n.CommitIndex(); k++ {
			e, _ := n.Read(k)
			if j, dup := seen[string(e.Payload)]; dup && len(e.Payload) > 0 {
				c.t.Fatalf("%s: payload %q at %d and %d", n.ID(), e.Payload, j, k)
			}
			seen[string(e.Payload)] = k
		}
	}
}

func TestClusterReplicates(t *testing.T) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestCluster(t, 3, mode)
			c.startAll()
			l := c.leader()
			count := 100_000
			if testing.Short() {
				count = 10_000
			}
			// Batches of 100 from 8 goroutines: the throughput form.
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					batch := make([][]byte, 100)
					for k := 0; k < count/8/100; k++ {
						for j := range batch {
							batch[j] = fmt.Appendf(nil, "w%d b%d e%d", w, k, j)
						}
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err := l.AppendBatch(ctx, batch)
						cancel()
						if err != nil {
							t.Errorf("append batch: %v%s", err, c.describe())
							return
						}
					}
				}()
			}
			wg.Wait()
			last := l.st.Log.LastIndex()
			if last < uint64(count/800*800) {
				t.Fatalf("last index %d after %d appends", last, count)
			}
			c.converge(last)
			c.identical(last)
		})
	}
}

// TestClusterAdvertisesClientAddr: followers learn the leader's client
// address from its handshake and name it in NotLeaderError and Status; the
// leader counts the election it won.
func TestClusterAdvertisesClientAddr(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	l := c.leader()
	want := "client-" + l.ID()
	if st := l.Status(); st.Elections == 0 || st.LeaderAddr != want {
		t.Fatalf("leader status: elections %d, leader address %q; want >= 1 and %q", st.Elections, st.LeaderAddr, want)
	}
	f := c.nodes[c.follower(l)]
	c.waitFor(5*time.Second, "follower knows the leader's client address", func() bool {
		return f.Status().LeaderAddr == want
	})
	_, err := f.Append(context.Background(), []byte("x"))
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != l.ID() || nl.LeaderAddr != want {
		t.Fatalf("append on a follower: %v; want NotLeaderError naming %s at %s", err, l.ID(), want)
	}
}

// TestClusterFailover: the leader stops; a new one is elected and takes
// writes; the old leader comes back with an uncommitted suffix of its own,
// which is truncated and replaced by the new leader's entries.
func TestClusterFailover(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	old := c.leader()
	acked := load(t, c, 2000, 8, "before")
	// Give the leader a suffix nobody else has: stop both followers, append.
	oldID := old.ID()
	for _, id := range c.ids {
		if id != oldID {
			c.stop(id)
		}
	}
	before := old.st.Log.LastIndex()
	for k := range 50 {
		if _, err := old.Propose([]byte(fmt.Sprintf("uncommitted %d", k))); err != nil {
			break // it stepped down (check quorum): fine, fewer entries
		}
	}
	c.waitFor(5*time.Second, "the uncommitted suffix appended", func() bool { return old.st.Log.LastIndex() > before })
	suffixEnd := old.st.Log.LastIndex()
	c.stop(oldID)
	for _, id := range c.ids {
		if id != oldID {
			c.start(id)
		}
	}
	nl := c.leader()
	if nl.ID() == oldID {
		t.Fatal("the stopped node leads")
	}
	more := load(t, c, 2000, 8, "after")
	for i, p := range more {
		acked[i] = p
	}
	c.start(oldID)
	last := nl.st.Log.LastIndex()
	c.settled(last, acked)
	if last < suffixEnd {
		t.Fatalf("test did not overwrite the old suffix: last %d, suffix ended at %d", last, suffixEnd)
	}
	for i := before + 1; i <= suffixEnd; i++ {
		e, err := c.nodes[oldID].Read(i)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(e.Payload, []byte("uncommitted")) {
			t.Fatalf("entry %d of the old leader's uncommitted suffix survived", i)
		}
	}
}

// TestClusterFollowerCatchUp: a follower stopped while the group writes
// catches up after it restarts.
func TestClusterFollowerCatchUp(t *testing.T) {
	c := newTestCluster(t, 3, flush.AsyncFlush)
	c.startAll()
	l := c.leader()
	f := c.follower(l)
	c.stop(f)
	acked := load(t, c, 5000, 8, "while down")
	c.start(f)
	last := l.st.Log.LastIndex()
	c.settled(last, acked)
}

// TestClusterRetentionReset: a follower needs entries the leader deleted;
// its log restarts at the leader's first index.
func TestClusterRetentionReset(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	l := c.leader()
	f := c.follower(l)
	c.stop(f)
	acked := load(t, c, 6000, 8, "retained") // ~600 KiB: several 256 KiB files
	// Seen from two hours later, every file's last write is older than the
	// one-hour limit: Retain deletes all but the newest file.
	for _, n := range c.nodes {
		if _, err := n.Retain(time.Now().Add(2*time.Hour), time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	first := l.st.Log.FirstIndex()
	if first <= 1 {
		t.Fatalf("retention deleted nothing: first index %d", first)
	}
	c.start(f)
	last := l.st.Log.LastIndex()
	c.converge(last)
	if got := c.nodes[f].st.Log.FirstIndex(); got != first {
		t.Fatalf("restarted follower starts at %d, leader at %d", got, first)
	}
	c.identical(last)
	for i := range acked {
		if i < first {
			delete(acked, i)
		}
	}
	c.checkAcked(acked)
}

func TestClusterTransfer(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	l := c.leader()
	load(t, c, 500, 4, "pre")
	target := c.ids[0]
	if target == l.ID() {
		target = c.ids[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.TransferLeadership(ctx, target); err != nil {
		t.Fatalf("transfer: %v%s", err, c.describe())
	}
	if nl := c.leader(); nl.ID() != target {
		t.Fatalf("leader is %s, want %s", nl.ID(), target)
	}
	var nle *NotLeaderError
	if _, err := l.Append(ctx, []byte("x")); !errors.As(err, &nle) || nle.Leader != target {
		t.Fatalf("old leader's append: %v, want NotLeaderError naming %s", err, target)
	}
}

// TestClusterConnectionCuts: connections into every node are cut again and
// again while appends run; the windows are resent from the match indexes,
// and nothing acknowledged is lost or stored twice.
func TestClusterConnectionCuts(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	c.leader()
	done := make(chan struct{})
	var cuts int
	go func() {
		defer close(done)
		for k := 0; k < 20; k++ {
			time.Sleep(15 * time.Millisecond)
			for _, p := range c.prox {
				cuts += p.cut()
			}
		}
	}()
	acked := load(t, c, 6000, 16, "cut")
	<-done
	if cuts == 0 {
		t.Fatal("no connection was cut")
	}
	l := c.leader()
	last := l.st.Log.LastIndex()
	c.settled(last, acked)
}
