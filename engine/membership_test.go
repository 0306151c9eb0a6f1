package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// TestMembershipChanges replaces a member and grows the group to five and
// back under a steady load of appends, through the engine's API and real
// sockets: add a learner, promote it, remove the old member, add two more,
// remove the leader itself. No acknowledged append is lost (every member
// holds the same log at the end) and every change commits.
func TestMembershipChanges(t *testing.T) {
	g := testgroup.Start(t, testgroup.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var (
		acked  atomic.Uint64 // highest acknowledged index
		failed atomic.Int64
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			actx, acancel := context.WithTimeout(ctx, 5*time.Second)
			i, err := g.Append(actx, fmt.Appendf(nil, "entry %d", k))
			acancel()
			if err != nil {
				failed.Add(1) // outcome unknown (leadership lost): allowed, counted
				continue
			}
			for old := acked.Load(); i > old && !acked.CompareAndSwap(old, i); old = acked.Load() {
			}
		}
	}()

	change := func(c engine.Change) uint64 {
		t.Helper()
		for {
			l := g.Leader()
			i, err := l.ChangeMembership(ctx, c)
			switch {
			case err == nil:
				return i
			case errors.Is(err, engine.ErrNotCaughtUp), errors.Is(err, engine.ErrChangePending),
				errors.Is(err, engine.ErrNotLeader), errors.Is(err, engine.ErrLeadershipLost):
				t.Logf("%s %s on %s: %v; retrying", c.Type, c.Member.ID, l.ID(), err)
				time.Sleep(10 * time.Millisecond)
			default:
				t.Fatalf("%s %s: %v%s", c.Type, c.Member.ID, err, g.Describe())
			}
			if ctx.Err() != nil {
				t.Fatalf("%s %s: %v%s", c.Type, c.Member.ID, ctx.Err(), g.Describe())
			}
		}
	}
	add := func(id string) {
		t.Helper()
		n := g.Join(id)
		if _, at, _ := n.Membership(); at != 0 {
			t.Fatalf("a joining node starts with a configuration at %d", at)
		}
		change(engine.Change{Type: engine.AddLearner, Member: engine.Member{ID: id, Peer: g.Addr(id)}})
		st := g.Leader().Status()
		if !isLearner(st, id) {
			t.Fatalf("leader's status does not show %s as a learner: %+v", id, st.Followers)
		}
		change(engine.Change{Type: engine.Promote, Member: engine.Member{ID: id}})
	}

	// Replace n2: add j3, promote it, remove n2.
	add("j3")
	change(engine.Change{Type: engine.Remove, Member: engine.Member{ID: "n2"}})
	g.Stop("n2")
	// Grow to five.
	add("j4")
	add("j5")
	if m, _, _ := g.Leader().Membership(); len(m.Voters()) != 5 {
		t.Fatalf("voters %v, want 5", m.Voters())
	}
	// Remove the leader itself: it hands off.
	old := g.Leader()
	change(engine.Change{Type: engine.Remove, Member: engine.Member{ID: old.ID()}})
	nl := g.Leader(old.ID())
	g.Stop(old.ID())
	// Shrink back to three.
	for _, id := range []string{"j4", "j5"} {
		if id != nl.ID() {
			change(engine.Change{Type: engine.Remove, Member: engine.Member{ID: id}})
			g.Stop(id)
			break
		}
	}
	close(stop)
	wg.Wait()
	m, at, committed := g.Leader().Membership()
	if len(m.Voters()) != 3 || !committed {
		t.Fatalf("configuration %v at %d (committed %v), want 3 voters", m, at, committed)
	}
	// A follower keeps the configuration over a restart (a joined one, if
	// one follows).
	j := ""
	for _, id := range m.Voters() {
		if id != g.Leader().ID() && (j == "" || id[0] == 'j') {
			j = id
		}
	}
	g.Stop(j)
	n := g.Restart(j)
	if got, _, _ := n.Membership(); !got.IsVoter(j) {
		t.Fatalf("%s after a restart is no voter: %v", j, got)
	}
	g.Eventually(10*time.Second, j+" holding the last configuration", func() bool {
		got, gotAt, _ := n.Membership()
		return gotAt >= at && got.Equal(m)
	})
	last, err := g.Append(ctx, []byte("final"))
	if err != nil {
		t.Fatal(err)
	}
	g.Converge(last)
	if acked.Load() == 0 {
		t.Fatal("nothing was acknowledged during the changes")
	}
	t.Logf("acknowledged up to %d; %d appends ended with an unknown outcome", acked.Load(), failed.Load())
}

func isLearner(st engine.Status, id string) bool {
	for _, f := range st.Followers {
		if f.ID == id {
			return f.Learner
		}
	}
	return false
}
