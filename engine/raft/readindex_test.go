package raft

import (
	"errors"
	"testing"
)

// TestReadRounds: a leader's read round is confirmed once a majority
// echoed it; a leader cut off from the group never confirms one, and after
// a successor is elected it cannot start one.
func TestReadRounds(t *testing.T) {
	s := newManual(t, 3, false)
	s.campaign("n0")
	s.settle(true, nil)
	l := s.mustLead("n0")
	seq, err := l.RequestRead()
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
	seq, _ = l.RequestRead()
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
	if _, err := l.RequestRead(); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed leader requestRead: %v", err)
	}
}
