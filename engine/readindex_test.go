package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
)

// TestReadRounds: a leader's read round is confirmed once a majority
// echoed it; a leader cut off from the group never confirms one, and after
// a successor is elected it cannot start one.
func TestReadRounds(t *testing.T) {
	s := newManual(t, 3, false)
	s.campaign("n0")
	s.settle(true, nil)
	l := s.mustLead("n0")
	seq, err := l.requestRead()
	if err != nil {
		t.Fatal(err)
	}
	if l.readDone >= seq {
		t.Fatal("read confirmed before any follower answered")
	}
	s.after(s.node("n0"))
	s.settle(true, nil)
	if l.readDone < seq {
		t.Fatalf("read round %d not confirmed after the heartbeats (done %d)", seq, l.readDone)
	}

	s.isolate("n0")
	seq, _ = l.requestRead()
	s.after(s.node("n0"))
	s.settle(true, nil)
	if l.readDone >= seq {
		t.Fatal("an isolated leader confirmed a read")
	}
	// n1 or n2 is elected meanwhile; n0, back, learns the term and cannot read.
	var nl *simNode
	for k := 0; nl == nil && k < 50*s.node("n1").r.cfg.ElectionTicks; k++ {
		s.tickN("n1", 1)
		s.tickN("n2", 1)
		s.settle(true, nil)
		for _, id := range []string{"n1", "n2"} {
			if s.node(id).r.role == Leader {
				nl = s.node(id)
			}
		}
	}
	if nl == nil {
		t.Fatalf("no new leader: %s", s.describe())
	}
	clear(s.cut)
	s.tickN(nl.id, nl.r.cfg.HeartbeatTicks)
	s.settle(true, nil)
	if l.role == Leader {
		t.Fatal("the old leader still leads")
	}
	if _, err := l.requestRead(); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed leader requestRead: %v", err)
	}
}

// TestNodeReadIndex: on real nodes, the leader confirms and returns its
// commit index, a follower refuses with the leader's name, and a leader
// whose followers are gone cannot confirm.
func TestNodeReadIndex(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	l := c.leader()
	if _, err := l.Append(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ri, err := l.ReadIndex(ctx)
	if err != nil || ri < 2 || ri > l.CommitIndex() {
		t.Fatalf("leader ReadIndex = %d, %v (commit %d)", ri, err, l.CommitIndex())
	}
	f := c.nodes[c.follower(l)]
	var nl *NotLeaderError
	if _, err := f.ReadIndex(ctx); !errors.As(err, &nl) || nl.Leader != l.ID() {
		t.Fatalf("follower ReadIndex: %v, want NotLeaderError naming %s", err, l.ID())
	}
	for _, id := range c.ids {
		if id != l.ID() {
			c.stop(id)
		}
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := l.ReadIndex(short); err == nil {
		t.Fatal("a leader without followers confirmed a read")
	}
}
