package netfault_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// startGroup starts three real engine nodes whose peer links all go
// through a Net: every node's peer list names Net.Peers(id).
func startGroup(t *testing.T) (*testgroup.Group, *netfault.Net) {
	t.Helper()
	var nf *netfault.Net
	g := testgroup.Start(t, testgroup.Options{
		Network: func(addrs map[string]string) func(string) map[string]string {
			n, err := netfault.New(addrs, netfault.Options{Seed: 42, Logger: testLogger(), ReorderWindow: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() }) // after the nodes' Close
			nf = n
			return n.Peers
		},
		Config: func(c *engine.Config) {
			// ElectionTimeout 600ms: the race detector and the other tests on
			// two shared cores must not starve a healthy leader into an
			// election.
			c.TickInterval, c.HeartbeatInterval = 10*time.Millisecond, 50*time.Millisecond
			c.ElectionTimeout, c.RetransmitTimeout = 600*time.Millisecond, 200*time.Millisecond
		},
	})
	return g, nf
}

// appendAnywhere appends p on whichever node leads, within 10 s.
func appendAnywhere(g *testgroup.Group, p []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return g.Append(ctx, p)
}

// TestEngineThroughNet runs three real engine nodes through a Net: a
// leader is elected and commits; isolated, it is replaced within a
// deadline, and after Heal it follows the new leader and catches up; under
// drops, duplicates and reordering on every link appends still commit.
func TestEngineThroughNet(t *testing.T) {
	g, nf := startGroup(t)
	old := g.Leader()
	first0, err := old.AppendBatch(context.Background(), payloads("before", 20))
	if err != nil {
		t.Fatal(err)
	}
	g.Converge(first0 + 19)

	nf.Isolate(old.ID())
	nl := g.Leader(old.ID())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := nl.AppendBatch(ctx, payloads("isolated", 20))
	if err != nil {
		t.Fatalf("append on the new leader %s: %v", nl.ID(), err)
	}
	if old.CommitIndex() >= first {
		t.Fatalf("the isolated node committed %d, the majority's entry %d", old.CommitIndex(), first)
	}
	if st := nf.Stats().Total; st.Blackholed == 0 {
		t.Fatalf("nothing blackholed while %s was isolated: %+v", old.ID(), st)
	}

	nf.Heal()
	poll.Eventually(t, 10*time.Second, "the old leader following the new one", func() bool {
		st := old.Status()
		return st.Role == engine.Follower && st.Leader == nl.ID()
	})
	g.Converge(first + 19)

	nf.SetFaults(netfault.Faults{Drop: 0.1, Duplicate: 0.1, Reorder: 0.1})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 25 {
				if _, err := appendAnywhere(g, fmt.Appendf(nil, "faulty w%d k%d", w, k)); err != nil {
					t.Errorf("append under faults: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := nf.Stats().Total
	if st.Dropped == 0 || st.Duplicated == 0 || st.Reordered == 0 {
		t.Fatalf("faults not applied: %+v", st)
	}
	nf.Heal()
	l := g.Leader()
	g.Converge(l.Status().Last)
	t.Logf("net stats: %+v", st)
}

func payloads(tag string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s %d", tag, i)
	}
	return out
}
