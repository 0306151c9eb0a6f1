package raft

import (
	"testing"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// TestLostStateKeepsAck (the durability review's TestAdvCorruptStateAdvice
// LosesAck): entry 2 is committed by n0 and n1 (n2 cut off). n1's raft-state
// file is damaged. The old advice was to remove n1's data directory, after
// which n1 voted at once and elected n2, which lacks entry 2. Now n1 starts
// from lostState with its log: repairing, its vote counting only in a full
// house, so n2 is not elected while n0 is down.
func TestLostStateKeepsAck(t *testing.T) {
	s := newManual(t, 3, true)
	s.ackWithoutN2(t, true)
	n0, n1 := s.node("n0"), s.node("n1")
	n1.up, n0.up = false, false
	n1.hs = LostState(n1.log.lastTerm())
	clear(s.cut)
	s.net = nil
	s.start(n1, s.ids())
	if l := s.electAmong(10); l != nil {
		t.Fatalf("%s elected while n0, the only other holder of entry 2, is down: %s", l.id, s.describe())
	}
	if n1.r.census == nil {
		t.Fatal("n1 ended its census without hearing n0")
	}
	s.start(n0, s.ids())
	l := s.electAmong(10)
	if l == nil {
		t.Fatalf("no leader once n0 is back: %s", s.describe())
	}
	s.commitFresh(l)
	if n1.r.repairing() || n1.r.termLost {
		t.Fatalf("n1 still repairing (termLost %v): %s", n1.r.termLost, s.describe())
	}
	s.finalCheck()
}

// TestCensusFence: a node that lost its hard state after voting for n2 in
// term 7 (n2 won, then was cut off from n0) must not vote for n0 in term 7.
// The census hears n2's term 7 and closes it.
func TestCensusFence(t *testing.T) {
	s := newManual(t, 3, true)
	n1 := s.node("n1")
	n1.hs = LostState(0)
	s.start(n1, s.ids())
	// n2 is at term 7 (it was elected with n1's lost vote); n0 at term 6.
	s.node("n2").hs = HardState{Term: 7, Vote: "n2"}
	s.start(s.node("n2"), s.ids())
	s.node("n0").hs = HardState{Term: 6}
	s.start(s.node("n0"), s.ids())
	s.tickN("n1", 1) // queries
	s.settle(true, nil)
	if n1.r.termLost || n1.r.term != 7 || n1.r.vote != "n1" {
		t.Fatalf("after the census: termLost %v term %d vote %q", n1.r.termLost, n1.r.term, n1.r.vote)
	}
	n1.r.Step(&wire.Msg{Type: wire.TypeVote, From: "n0", To: "n1", Term: 7, Index: 100, LogTerm: 7})
	for _, m := range n1.r.takeMsgs() {
		if m.Type == wire.TypeVoteResp && !m.Reject() {
			t.Fatalf("granted a vote in term 7, in which it may have voted before: %+v", m)
		}
	}
	if !n1.r.repairing() {
		t.Fatal("the log repair ended with the census")
	}
}

// TestWipedNodeKeepsAck (issue 13; the second half of the durability
// review's TestAdvCorruptStateAdviceLosesAck): entry 2 is committed by n0
// and n1 (n2 cut off); n1's data directory is wiped and it restarts empty
// (a new node, as far as it can tell) while n0 is down. It voted at once
// before and elected n2, which lacks entry 2. Now it starts from lostState:
// it hears n2's term 1, so the group is not new, and its vote counts only
// in a full house until it holds the leader's log.
func TestWipedNodeKeepsAck(t *testing.T) {
	s := newManual(t, 3, true)
	s.ackWithoutN2(t, true)
	n0, n1 := s.node("n0"), s.node("n1")
	n1.up, n0.up = false, false
	n1.log, n1.hs = newMemLog(), LostState(0) // Node.noState of an empty directory
	clear(s.cut)
	s.net = nil
	s.start(n1, s.ids())
	if l := s.electAmong(10); l != nil {
		t.Fatalf("%s elected while n0, the only holder of entry 2, is down: %s", l.id, s.describe())
	}
	s.start(n0, s.ids())
	if l := s.electAmong(10); l == nil || l.id == "n2" {
		t.Fatalf("after n0's return: %s", s.describe())
	}
	l := s.leader()
	s.commitFresh(l)
	if n1.r.repairing() {
		t.Fatalf("n1 still repairing: %s", s.describe())
	}
	s.finalCheck()
}

// TestNewGroupWaitsForEveryMember: three new nodes with empty directories
// elect their first leader only once every member has answered (each node
// could be a wiped member of a group with history); with all three, they
// do, and none stays repairing.
func TestNewGroupWaitsForEveryMember(t *testing.T) {
	s := newManual(t, 3, true)
	for _, n := range s.nodes {
		n.up = false
		n.hs = LostState(0)
	}
	s.start(s.node("n0"), s.ids())
	s.start(s.node("n1"), s.ids())
	if l := s.electAmong(10); l != nil {
		t.Fatalf("%s elected before n2 ever answered: %s", l.id, s.describe())
	}
	if w := s.node("n0").r.Waiting(); len(w) != 1 || w[0] != "n2" {
		t.Fatalf("n0 waits for %v", w)
	}
	s.start(s.node("n2"), s.ids())
	l := s.electAmong(10)
	if l == nil {
		t.Fatalf("no leader with every member up: %s", s.describe())
	}
	s.commitFresh(l)
	s.mustNotRepair(t)
}
