package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

func TestClusterReplicates(t *testing.T) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			g := startGroup(t, mode, testgroup.Options{})
			l := g.Leader()
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
							t.Errorf("append batch: %v%s", err, g.Describe())
							return
						}
					}
				}()
			}
			wg.Wait()
			last := l.Status().Last
			if last < uint64(count/800*800) {
				t.Fatalf("last index %d after %d appends", last, count)
			}
			g.Converge(last)
		})
	}
}

// TestClusterAdvertisesClientAddr: followers learn the leader's client
// address from its handshake and name it in NotLeaderError and Status; the
// leader counts the election it won.
func TestClusterAdvertisesClientAddr(t *testing.T) {
	g := startGroup(t, flush.SyncFlush, testgroup.Options{})
	l := g.Leader()
	want := "client-" + l.ID()
	if st := l.Status(); st.Elections == 0 || st.LeaderAddr != want {
		t.Fatalf("leader status: elections %d, leader address %q; want >= 1 and %q", st.Elections, st.LeaderAddr, want)
	}
	f := g.Node(follower(t, g, l))
	g.Eventually(5*time.Second, "the follower to know the leader's client address", func() bool {
		return f.Status().LeaderAddr == want
	})
	_, err := f.Append(context.Background(), []byte("x"))
	var nl *engine.NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != l.ID() || nl.LeaderAddr != want {
		t.Fatalf("append on a follower: %v; want NotLeaderError naming %s at %s", err, l.ID(), want)
	}
}

// TestClusterFailover: the leader stops; a new one is elected and takes
// writes; the old leader comes back with an uncommitted suffix of its own,
// which is truncated and replaced by the new leader's entries.
func TestClusterFailover(t *testing.T) {
	g := startGroup(t, flush.SyncFlush, testgroup.Options{})
	old := g.Leader()
	acked := load(t, g, 2000, 8, "before")
	// Give the leader a suffix nobody else has: stop both followers, append.
	oldID := old.ID()
	var others []string
	for _, n := range g.Nodes() {
		if n != old {
			others = append(others, n.ID())
			g.Stop(n.ID())
		}
	}
	before := old.Status().Last
	for k := range 50 {
		if _, err := old.Propose([]byte(fmt.Sprintf("uncommitted %d", k))); err != nil {
			break // it stepped down (check quorum): fine, fewer entries
		}
	}
	g.Eventually(5*time.Second, "the uncommitted suffix appended", func() bool { return old.Status().Last > before })
	suffixEnd := old.Status().Last
	g.Stop(oldID)
	for _, id := range others {
		g.Restart(id)
	}
	nl := g.Leader()
	if nl.ID() == oldID {
		t.Fatal("the stopped node leads")
	}
	more := load(t, g, 2000, 8, "after")
	maps.Copy(acked, more)
	back := g.Restart(oldID)
	last := nl.Status().Last
	settled(t, g, last, acked)
	if last < suffixEnd {
		t.Fatalf("test did not overwrite the old suffix: last %d, suffix ended at %d", last, suffixEnd)
	}
	for i := before + 1; i <= suffixEnd; i++ {
		e, err := back.Read(i)
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
	g := startGroup(t, flush.AsyncFlush, testgroup.Options{})
	l := g.Leader()
	f := follower(t, g, l)
	g.Stop(f)
	acked := load(t, g, 5000, 8, "while down")
	g.Restart(f)
	settled(t, g, l.Status().Last, acked)
}

// TestClusterRetentionReset: a follower needs entries the leader deleted;
// its log restarts at the leader's first index.
func TestClusterRetentionReset(t *testing.T) {
	g := startGroup(t, flush.SyncFlush, testgroup.Options{})
	l := g.Leader()
	f := follower(t, g, l)
	g.Stop(f)
	acked := load(t, g, 6000, 8, "retained") // ~600 KiB: several 256 KiB files
	// Seen from two hours later, every file's last write is older than the
	// one-hour limit: Retain deletes all but the newest file.
	for _, n := range g.Nodes() {
		if _, err := n.Retain(time.Now().Add(2*time.Hour), time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	first := l.Status().First
	if first <= 1 {
		t.Fatalf("retention deleted nothing: first index %d", first)
	}
	back := g.Restart(f)
	g.Converge(l.Status().Last)
	if got := back.Status().First; got != first {
		t.Fatalf("restarted follower starts at %d, leader at %d", got, first)
	}
	for i := range acked {
		if i < first {
			delete(acked, i)
		}
	}
	checkAcked(t, g, acked)
}

func TestClusterTransfer(t *testing.T) {
	g := startGroup(t, flush.SyncFlush, testgroup.Options{})
	l := g.Leader()
	load(t, g, 500, 4, "pre")
	target := "n0"
	if target == l.ID() {
		target = "n1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.TransferLeadership(ctx, target); err != nil {
		t.Fatalf("transfer: %v%s", err, g.Describe())
	}
	if nl := g.Leader(); nl.ID() != target {
		t.Fatalf("leader is %s, want %s", nl.ID(), target)
	}
	var nle *engine.NotLeaderError
	if _, err := l.Append(ctx, []byte("x")); !errors.As(err, &nle) || nle.Leader != target {
		t.Fatalf("old leader's append: %v, want NotLeaderError naming %s", err, target)
	}
}

// TestClusterConnectionCuts: connections into every node are cut again and
// again while appends run; the windows are resent from the match indexes,
// and nothing acknowledged is lost or stored twice.
func TestClusterConnectionCuts(t *testing.T) {
	var prox []*proxy
	g := startGroup(t, flush.SyncFlush, testgroup.Options{
		// Every member's peer address is a proxy in front of its listener.
		Network: func(addrs map[string]string) func(string) map[string]string {
			peers := map[string]string{}
			for id, addr := range addrs {
				p := newProxy(t, addr)
				t.Cleanup(p.close) // after the members' Close
				prox = append(prox, p)
				peers[id] = p.addr()
			}
			return func(string) map[string]string { return maps.Clone(peers) }
		},
	})
	g.Leader()
	done := make(chan struct{})
	var cuts int
	go func() {
		defer close(done)
		for k := 0; k < 20; k++ {
			time.Sleep(15 * time.Millisecond)
			for _, p := range prox {
				cuts += p.cut()
			}
		}
	}()
	acked := load(t, g, 6000, 16, "cut")
	<-done
	if cuts == 0 {
		t.Fatal("no connection was cut")
	}
	settled(t, g, g.Leader().Status().Last, acked)
}
