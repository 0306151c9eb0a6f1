package netfault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
)

// A group of three real engine nodes whose peer links all go through a
// Net: every node's peer list names Net.Peers(id).

type group3 struct {
	t     *testing.T
	net   *netfault.Net
	ids   []string
	nodes map[string]*engine.Node
}

func startGroup(t *testing.T) *group3 {
	t.Helper()
	g := &group3{t: t, ids: []string{"n0", "n1", "n2"}, nodes: map[string]*engine.Node{}}
	lns, addrs := map[string]net.Listener{}, map[string]string{}
	for _, id := range g.ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id], addrs[id] = ln, ln.Addr().String()
	}
	n, err := netfault.New(addrs, netfault.Options{Seed: 42, Logger: testLogger(), ReorderWindow: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	g.net = n
	t.Cleanup(func() { n.Close() }) // after the nodes' Close (cleanups run last first)
	for _, id := range g.ids {
		node, err := engine.Open(engine.Config{
			Group: "g", ID: id, Peers: n.Peers(id), Listener: lns[id], Dir: t.TempDir(),
			SegmentSize: 1 << 20, IndexEntries: 4096, MaxEntrySize: 64 << 10,
			// ElectionTimeout 600ms: the race detector and the other tests on
			// two shared cores must not starve a healthy leader into an
			// election.
			TickInterval: 10 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond,
			ElectionTimeout: 600 * time.Millisecond, RetransmitTimeout: 200 * time.Millisecond,
			Logger: testLogger(),
		})
		if err != nil {
			t.Fatalf("open %s: %v", id, err)
		}
		g.nodes[id] = node
		t.Cleanup(func() { node.Close() })
	}
	return g
}

// leader waits for a writable leader other than not, and returns it.
func (g *group3) leader(not *engine.Node, within time.Duration) *engine.Node {
	g.t.Helper()
	var l *engine.Node
	waitFor(g.t, within, "a writable leader", func() bool {
		for _, n := range g.nodes {
			if n != not && n.Status().Writable {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// appendAnywhere appends p on whichever node leads, within 10 s.
func (g *group3) appendAnywhere(p []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		for _, n := range g.nodes {
			i, err := n.Append(ctx, p)
			if err == nil || ctx.Err() != nil {
				return i, err
			}
			if !errors.Is(err, engine.ErrNotLeader) {
				return 0, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond): // no leader yet: poll again
		}
	}
}

// converge waits until every node in ns has committed i, then checks that
// they hold the same entries up to i.
func (g *group3) converge(i uint64, ns ...*engine.Node) {
	g.t.Helper()
	waitFor(g.t, 10*time.Second, fmt.Sprintf("commit of %d everywhere", i), func() bool {
		for _, n := range ns {
			if n.CommitIndex() < i {
				return false
			}
		}
		return true
	})
	for k := uint64(1); k <= i; k++ {
		want, err := ns[0].Read(k)
		if err != nil {
			g.t.Fatalf("%s read %d: %v", ns[0].ID(), k, err)
		}
		for _, n := range ns[1:] {
			got, err := n.Read(k)
			if err != nil || got.Term != want.Term || !bytes.Equal(got.Payload, want.Payload) {
				g.t.Fatalf("entry %d: %s has term %d %q (%v), %s term %d %q", k, n.ID(), got.Term, got.Payload, err, ns[0].ID(), want.Term, want.Payload)
			}
		}
	}
}

func (g *group3) all() []*engine.Node {
	var ns []*engine.Node
	for _, id := range g.ids {
		ns = append(ns, g.nodes[id])
	}
	return ns
}

// TestEngineThroughNet runs three real engine nodes through a Net: a
// leader is elected and commits; isolated, it is replaced within a
// deadline, and after Heal it follows the new leader and catches up; under
// drops, duplicates and reordering on every link appends still commit.
func TestEngineThroughNet(t *testing.T) {
	g := startGroup(t)
	old := g.leader(nil, 10*time.Second)
	first0, err := old.AppendBatch(context.Background(), payloads("before", 20))
	if err != nil {
		t.Fatal(err)
	}
	g.converge(first0+19, g.all()...)

	g.net.Isolate(old.ID())
	nl := g.leader(old, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := nl.AppendBatch(ctx, payloads("isolated", 20))
	if err != nil {
		t.Fatalf("append on the new leader %s: %v", nl.ID(), err)
	}
	if old.CommitIndex() >= first {
		t.Fatalf("the isolated node committed %d, the majority's entry %d", old.CommitIndex(), first)
	}
	if st := g.net.Stats().Total; st.Blackholed == 0 {
		t.Fatalf("nothing blackholed while %s was isolated: %+v", old.ID(), st)
	}

	g.net.Heal()
	waitFor(t, 10*time.Second, "the old leader following the new one", func() bool {
		st := old.Status()
		return st.Role == engine.Follower && st.Leader == nl.ID()
	})
	g.converge(first+19, g.all()...)

	g.net.SetFaults(netfault.Faults{Drop: 0.1, Duplicate: 0.1, Reorder: 0.1})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 25 {
				if _, err := g.appendAnywhere(fmt.Appendf(nil, "faulty w%d k%d", w, k)); err != nil {
					t.Errorf("append under faults: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := g.net.Stats().Total
	if st.Dropped == 0 || st.Duplicated == 0 || st.Reordered == 0 {
		t.Fatalf("faults not applied: %+v", st)
	}
	g.net.Heal()
	l := g.leader(nil, 10*time.Second)
	g.converge(l.Status().Last, g.all()...)
	t.Logf("net stats: %+v", st)
}

func payloads(tag string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s %d", tag, i)
	}
	return out
}
