package testgroup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// timeout bounds the waits of a Group for a leader and for an address;
// convergeTimeout its wait for replication, which may trail far behind a
// long load on cores shared with other tests (the race detector slows
// the members several-fold).
const (
	timeout         = 10 * time.Second
	convergeTimeout = 20 * time.Second
)

// Options shape a Group. The zero value is a group of three.
type Options struct {
	// Nodes is the number of members, named n0, n1, ...; default 3.
	Nodes int
	// Config, if set, adjusts member cfg.ID's engine.Config after Defaults
	// and the group's own fields (ID, Peers, Dir, Listener) are set, at
	// every open, restarts included.
	Config func(cfg *engine.Config)
	// Network, if set, is called once, before any member opens, with every
	// member's listener address by id; it returns the peer addresses each
	// member is to dial (engine.Config.Peers), e.g. a fault proxy's
	// (netfault.Net.Peers). Cleanups it registers run after the members
	// are closed. By default every member dials the others' listeners.
	Network func(addrs map[string]string) (peers func(id string) map[string]string)
}

// Defaults returns the engine.Config every member starts from: group "g",
// SYNC_FLUSH, 1 MiB segment files of 4096 index entries, entries of at
// most 64 KiB, 5 ms ticks, 20 ms heartbeats, a 150 ms election timeout, a
// 100 ms retransmit timeout, and a logger that discards unless the
// environment sets RMQLOG_TEST_LOG (then: debug on stderr). The caller
// sets ID, Peers, Dir and Listener. Harnesses that open nodes their own
// way (server's tests open a Server around each) start from it too.
func Defaults() engine.Config {
	return engine.Config{Group: "g", FlushMode: flush.SyncFlush, SegmentSize: 1 << 20, IndexEntries: 4096,
		MaxEntrySize: 64 << 10, TickInterval: 5 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond,
		ElectionTimeout: 150 * time.Millisecond, RetransmitTimeout: 100 * time.Millisecond, Logger: logger()}
}

func logger() *slog.Logger {
	if os.Getenv("RMQLOG_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Group is a running group; see Start.
type Group struct {
	t      testing.TB
	ids    []string
	addrs  map[string]string            // each member's listener address, kept across restarts
	peers  map[string]map[string]string // the peer addresses each member dials
	dirs   map[string]string
	config func(*engine.Config)
	joined []string // nodes started by Join

	// mu guards nodes: the running members (Append reads it from any
	// goroutine).
	mu    sync.Mutex
	nodes map[string]*engine.Node
}

// Start opens every member of a group shaped by opts and returns once
// they run (not once one leads: see Leader). The members are closed when
// the test ends. Start fails the test if a member does not open.
func Start(t testing.TB, opts Options) *Group {
	t.Helper()
	n := opts.Nodes
	if n == 0 {
		n = 3
	}
	g := &Group{t: t, addrs: map[string]string{}, peers: map[string]map[string]string{}, dirs: map[string]string{},
		config: opts.Config, nodes: map[string]*engine.Node{}}
	lns := map[string]net.Listener{}
	// Closes the listeners no member took over (a member's own are closed
	// again, harmlessly); registered first, so it runs last.
	t.Cleanup(func() {
		for _, ln := range lns {
			ln.Close()
		}
	})
	for i := range n {
		id := fmt.Sprintf("n%d", i)
		g.ids = append(g.ids, id)
		g.dirs[id] = t.TempDir()
		lns[id] = listen(t, "127.0.0.1:0")
		g.addrs[id] = lns[id].Addr().String()
	}
	g.setPeers(opts.Network)
	// Registered after Network's cleanups, so it runs before them
	// (cleanups run last first): the members close before what is between them.
	t.Cleanup(g.close)
	for _, id := range g.ids {
		g.open(id, lns[id])
	}
	return g
}

// setPeers fills g.peers: from network if set, else every member's
// listener address.
func (g *Group) setPeers(network func(map[string]string) func(string) map[string]string) {
	var f func(string) map[string]string
	if network != nil {
		f = network(maps.Clone(g.addrs))
	}
	for _, id := range g.ids {
		g.peers[id] = maps.Clone(g.addrs)
		if f != nil {
			g.peers[id] = f(id)
		}
	}
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("testgroup: %v", err)
	}
	return ln
}

// open opens member id on ln; ln is closed if the node does not open.
func (g *Group) open(id string, ln net.Listener) *engine.Node {
	g.t.Helper()
	cfg := Defaults()
	cfg.ID, cfg.Peers, cfg.Dir, cfg.Listener = id, g.peers[id], g.dirs[id], ln
	cfg.Join = slices.Contains(g.joined, id)
	cfg.Logger = cfg.Logger.With("node", id)
	if g.config != nil {
		g.config(&cfg)
	}
	n, err := engine.Open(cfg)
	if err != nil {
		ln.Close()
		g.t.Fatalf("testgroup: open %s: %v", id, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes[id] = n
	return n
}

// Join starts a new node id that joins the group (engine.Config.Join): it
// has a data directory and a listener of its own, and dials every member
// of the group as started; it is no member until the leader adds it
// (engine.Node.ChangeMembership). It returns the node; Addr gives its peer
// address for the change. Stop and Restart work on it as on a member.
func (g *Group) Join(id string) *engine.Node {
	g.t.Helper()
	if g.dirs[id] != "" {
		g.t.Fatalf("testgroup: join of %s, which is already known", id)
	}
	ln := listen(g.t, "127.0.0.1:0")
	g.mu.Lock()
	g.ids = append(g.ids, id)
	g.mu.Unlock()
	g.dirs[id] = g.t.TempDir()
	g.addrs[id] = ln.Addr().String()
	g.peers[id] = maps.Clone(g.addrs)
	g.joined = append(g.joined, id)
	return g.open(id, ln)
}

// Addr returns node id's peer address.
func (g *Group) Addr(id string) string { return g.addrs[id] }

// Node returns member id, or nil while it is stopped.
func (g *Group) Node(id string) *engine.Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[id]
}

// Nodes returns the running members, in id order.
func (g *Group) Nodes() []*engine.Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ns []*engine.Node
	for _, id := range g.ids {
		if n := g.nodes[id]; n != nil {
			ns = append(ns, n)
		}
	}
	return ns
}

// Leader waits for a running member that is a writable leader (its
// no-op committed) and whose id is not among not, and returns it. After
// a partition or a stop, not names the old leader, which may still
// believe it leads.
func (g *Group) Leader(not ...string) *engine.Node {
	g.t.Helper()
	var l *engine.Node
	g.Eventually(timeout, "a writable leader", func() bool {
		for _, n := range g.Nodes() {
			if !slices.Contains(not, n.ID()) && n.Status().Writable {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// Append appends p on whichever member leads, trying the running members
// in turn until one takes it (a member that is not the leader or closed
// under the call is skipped), an append fails otherwise, or ctx ends. It
// returns what that member's Append returned, index and error.
func (g *Group) Append(ctx context.Context, p []byte) (uint64, error) {
	for {
		for _, n := range g.Nodes() {
			i, err := n.Append(ctx, p)
			if err == nil || ctx.Err() != nil {
				return i, err
			}
			if !errors.Is(err, engine.ErrNotLeader) && !errors.Is(err, engine.ErrClosed) {
				return 0, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond): // no leader yet: try again
		}
	}
}

// Converge waits until every running member has committed and holds
// index i, then checks that they hold the same entries (term, CRC and
// payload) from the highest first index among them (retention may have
// deleted a prefix, each member its own) to i.
func (g *Group) Converge(i uint64) {
	g.t.Helper()
	ns := g.Nodes()
	g.Eventually(convergeTimeout, fmt.Sprintf("commit of %d on every member", i), func() bool {
		for _, n := range ns {
			if n.CommitIndex() < i || n.Status().Last < i {
				return false
			}
		}
		return true
	})
	from := uint64(1)
	for _, n := range ns {
		from = max(from, n.Status().First)
	}
	for k := from; k <= i; k++ {
		want, err := ns[0].Read(k)
		if err != nil {
			g.t.Fatalf("%s read %d: %v", ns[0].ID(), k, err)
		}
		for _, n := range ns[1:] {
			got, err := n.Read(k)
			if err != nil || got.Term != want.Term || got.CRC != want.CRC || !bytes.Equal(got.Payload, want.Payload) {
				g.t.Fatalf("entry %d: %s has term %d crc %08x %q (%v), %s term %d crc %08x %q",
					k, n.ID(), got.Term, got.CRC, got.Payload, err, ns[0].ID(), want.Term, want.CRC, want.Payload)
			}
		}
	}
}

// Eventually waits up to timeout for cond, checked as poll.Until checks;
// if it does not hold by then, it fails the test naming what (a noun
// phrase) and every member's status (Describe). It must be called from
// the test's goroutine.
func (g *Group) Eventually(timeout time.Duration, what string, cond func() bool) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := poll.Until(ctx, cond); err != nil {
		g.t.Fatalf("gave up waiting for %s after %v:%s", what, timeout, g.Describe())
	}
}

// Describe returns a line per member, in id order, each starting with a
// newline: a running member's role, term, leader, commit index, log range,
// durable index, error and (on a leader) followers; or "stopped". It is
// for failure messages.
func (g *Group) Describe() string {
	var b strings.Builder
	for _, id := range g.ids {
		n := g.Node(id)
		if n == nil {
			fmt.Fprintf(&b, "\n%s stopped", id)
			continue
		}
		st := n.Status()
		fmt.Fprintf(&b, "\n%s %v term %d leader %q commit %d log [%d,%d] durable %d err %v conf %d (%s) followers %+v",
			id, st.Role, st.Term, st.Leader, st.Commit, st.First, st.Last, st.Durable, st.Err, st.ConfIndex,
			st.Membership.String(), st.Followers)
	}
	return b.String()
}

// Dir returns member id's data directory (engine.Config.Dir), which Stop
// and Restart keep: a test may damage or inspect its files while the
// member is stopped. It returns "" for an id that is no member.
func (g *Group) Dir(id string) string { return g.dirs[id] }

// Stop closes member id, keeping its directory and address for Restart;
// it fails the test if Close returns an error.
func (g *Group) Stop(id string) {
	g.t.Helper()
	g.mu.Lock()
	n := g.nodes[id]
	delete(g.nodes, id)
	g.mu.Unlock()
	if n == nil {
		g.t.Fatalf("testgroup: stop of %s, which is not running", id)
	}
	if err := n.Close(); err != nil {
		g.t.Fatalf("testgroup: close %s: %v", id, err)
	}
}

// Restart reopens stopped member id from its directory on its old
// address (the one its peers dial), with a fresh engine.Config from
// Defaults and Options.Config, and returns it.
func (g *Group) Restart(id string) *engine.Node {
	g.t.Helper()
	if g.addrs[id] == "" || g.Node(id) != nil {
		g.t.Fatalf("testgroup: restart of %s, which is no stopped member", id)
	}
	var ln net.Listener
	// The address was released by Close; another socket may hold it a while.
	poll.EventuallyNil(g.t, timeout, fmt.Sprintf("%s's address %s free", id, g.addrs[id]), func() (err error) {
		ln, err = net.Listen("tcp", g.addrs[id])
		return err
	})
	return g.open(id, ln)
}

// close closes the running members (at the end of the test; their errors
// are not the test's).
func (g *Group) close() {
	for _, n := range g.Nodes() {
		n.Close()
	}
}
