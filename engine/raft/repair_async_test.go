package raft

import (
	"errors"
	"testing"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// The ASYNC_FLUSH power-cut scenarios of the durability review (issue 14):
// under ASYNC_FLUSH an entry counts on a node once it is in its page cache,
// so a node that lost power may have acknowledged entries it no longer
// holds. Before startState, such a node voted at once after its restart and
// one power cut (plus a delay, or a kill -9) lost an acknowledged entry.

// electAmong ticks the running nodes until one of them leads, at most
// rounds election timeouts, and returns it (nil if none).
func (s *sim) electAmong(rounds int) *simNode {
	for range rounds {
		for _, n := range s.nodes {
			if n.up && n.r.role == Leader {
				return n
			}
		}
		for _, n := range s.nodes { // one after the other: no split vote by construction
			if n.up && n.r.role != Leader {
				s.tickN(n.id, n.r.cfg.ElectionTicks)
				s.settle(true, nil)
			}
		}
	}
	for _, n := range s.nodes {
		if n.up && n.r.role == Leader {
			return n
		}
	}
	return nil
}

// ackWithoutN2 elects n0, cuts n2 off and has n0 and n1 commit and
// acknowledge entry 2 (synced if syncs), the starting point of the loss
// scenarios: n2 lacks an acknowledged entry.
func (s *sim) ackWithoutN2(t *testing.T, syncs bool) {
	t.Helper()
	s.campaign("n0")
	s.settle(true, nil)
	s.mustLead("n0")
	s.isolate("n2")
	s.propose(s.node("n0"))
	s.settle(syncs, nil)
	if _, ok := s.acked[2]; !ok {
		t.Fatalf("entry 2 not acknowledged: %s", s.describe())
	}
}

// commitFresh has leader l commit a new entry and send a few rounds of
// heartbeats, so that every node that follows it holds its whole log.
func (s *sim) commitFresh(l *simNode) {
	s.propose(l)
	for range 5 {
		s.tickN(l.id, l.r.cfg.HeartbeatTicks)
		s.settle(true, nil)
	}
}

// mustNotRepair fails t for every node still repairing or without its
// term (census).
func (s *sim) mustNotRepair(t *testing.T) {
	t.Helper()
	for _, n := range s.nodes {
		if n.r.repairing() || n.r.termLost {
			t.Errorf("%s still repairing (termLost %v): %s", n.id, n.r.termLost, s.describe())
		}
	}
}

// TestAsyncMinorityPowerLossKeepsAck: entry 2 is acknowledged with n0 and n1
// (n2 was cut off). n1 loses power (one node: a minority) and n0 is killed
// (kill -9: its page cache, and so entry 2, survives) and stays down. n1 and
// n2 hold no entry 2 and are a majority: if n1 voted as before, n2 would be
// elected and entry 2 overwritten. n1 restarts repairing (its last run ended
// without a final sync), so no leader is elected while n0 is down; when n0
// returns, a full house elects it and entry 2 survives.
func TestAsyncMinorityPowerLossKeepsAck(t *testing.T) {
	s := newManual(t, 3, false) // ASYNC_FLUSH commit rule
	s.cfg.powerLoss = true      // the checks allow only losses no member could prevent
	s.campaign("n0")
	s.settle(true, nil)
	s.mustLead("n0")
	s.isolate("n2")
	s.propose(s.node("n0"))
	s.settle(false, nil) // in n0's and n1's page cache, fsynced nowhere
	if _, ok := s.acked[2]; !ok {
		t.Fatalf("entry 2 not acknowledged: %s", s.describe())
	}
	n0, n1 := s.node("n0"), s.node("n1")
	n1.up = false
	n1.log.powerLoss()
	n0.up = false
	clear(s.cut)
	s.net = nil
	s.start(n1, s.ids())
	if !n1.r.repairing() || n1.r.repairTo != RepairUnknown {
		t.Fatalf("n1 restarted after an unclean stop under ASYNC_FLUSH without repairing: repairTo %d", n1.r.repairTo)
	}
	if l := s.electAmong(10); l != nil {
		t.Fatalf("%s elected while n0, the only holder of entry 2, is down: %s", l.id, s.describe())
	}
	s.start(n0, s.ids())
	l := s.electAmong(10)
	if l == nil || l.id != "n0" {
		t.Fatalf("n0 (holding entry 2) not elected once back: %s", s.describe())
	}
	s.commitFresh(l)
	s.mustNotRepair(t)
	s.finalCheck()
}

// TestAsyncLeaderPowerLossKeepsAck: one fault only. The leader n0 loses power
// right after entry 2 committed with n1's ack (n2 had not received it yet:
// a delay). n0 and n2 hold no entry 2; a repairing n0's vote counts only in
// a full house, so only n1 can be elected, and entry 2 survives.
func TestAsyncLeaderPowerLossKeepsAck(t *testing.T) {
	s := newManual(t, 3, false)
	s.cfg.powerLoss = true
	s.campaign("n0")
	s.settle(true, nil)
	s.mustLead("n0")
	n0 := s.node("n0")
	s.propose(n0)
	s.settle(false, func(m *wire.Msg) bool { return m.To != "n2" }) // n0->n2 is slow
	if _, ok := s.acked[2]; !ok {
		t.Fatalf("entry 2 not acknowledged: %s", s.describe())
	}
	n0.up = false
	n0.log.powerLoss()
	s.net = nil
	s.start(n0, s.ids())
	l := s.electAmong(20)
	if l == nil || l.id != "n1" {
		t.Fatalf("want n1 (the only holder of entry 2) elected: %s", s.describe())
	}
	s.commitFresh(l)
	s.finalCheck()
}

// TestAsyncEveryNodePowerLoss: every member loses power at once. All three
// restart repairing; a full house (every member votes) elects the most up to
// date, so the group is writable again without a human, and it holds every
// entry any member still holds.
func TestAsyncEveryNodePowerLoss(t *testing.T) {
	s := newManual(t, 3, false)
	s.cfg.powerLoss = true
	s.campaign("n0")
	s.settle(true, nil)
	for range 3 {
		s.propose(s.node("n0"))
	}
	s.settle(true, nil) // synced everywhere
	s.propose(s.node("n0"))
	s.settle(false, nil) // entry 5: page caches only
	for _, n := range s.nodes {
		n.up = false
		n.log.powerLoss()
	}
	s.net = nil
	for _, n := range s.nodes {
		s.start(n, s.ids())
	}
	l := s.electAmong(20)
	if l == nil {
		t.Fatalf("no leader after every member restarted: %s", s.describe())
	}
	s.commitFresh(l)
	if l.log.LastIndex() < 4 {
		t.Fatalf("the leader lacks the synced entries: %s", s.describe())
	}
	s.mustNotRepair(t)
	s.finalCheck()
}

// TestAsyncCleanStopVotes: a node stopped cleanly (final sync, AsyncOpen
// cleared) is not repairing at its next start; one that was killed is.
func TestAsyncCleanStopVotes(t *testing.T) {
	hs := StartState(HardState{Term: 4}, true)
	if !hs.AsyncOpen || hs.RepairTo != 0 {
		t.Fatalf("first start: %+v", hs)
	}
	killed := StartState(hs, true)
	if killed.RepairTo != RepairUnknown || killed.RepairTerm != 4 || !killed.AsyncOpen {
		t.Fatalf("after a kill: %+v", killed)
	}
	hs.AsyncOpen = false // Node.Close after its final sync
	if clean := StartState(hs, true); clean.RepairTo != 0 {
		t.Fatalf("after a clean stop: %+v", clean)
	}
	if sync := StartState(HardState{Term: 4}, false); sync.AsyncOpen || sync.RepairTo != 0 {
		t.Fatalf("SYNC_FLUSH: %+v", sync)
	}
	if toSync := StartState(HardState{Term: 4, AsyncOpen: true}, false); toSync.AsyncOpen || toSync.RepairTo != RepairUnknown {
		// ASYNC_FLUSH killed, restarted under SYNC_FLUSH: still repairs.
		t.Fatalf("killed under ASYNC_FLUSH, restarted under SYNC_FLUSH: %+v", toSync)
	}
}

// TestFollowerRefusesToOverwriteCommitted: the black-box power-cut run of the
// review ended with a follower that panicked and exited when a leader
// (elected without its committed entries) sent conflicting entries. The
// follower must refuse, keep its log and its process, and report it.
func TestFollowerRefusesToOverwriteCommitted(t *testing.T) {
	s := newManual(t, 3, false)
	s.campaign("n0")
	s.settle(true, nil)
	for range 3 {
		s.propose(s.node("n0"))
	}
	s.settle(true, nil)
	n1 := s.node("n1")
	if n1.r.commit != 4 {
		t.Fatalf("n1 commit %d: %s", n1.r.commit, s.describe())
	}
	// A leader of term 2 whose log lacks entries 3 and 4 sends its own entry 3.
	other := newMemLog()
	for i := 1; i <= 2; i++ {
		b := s.node("n0").log.framed(uint64(i), 1)
		if _, err := other.AppendFramed(b); err != nil {
			t.Fatal(err)
		}
	}
	other.Append(2, record.TypeNoop, nil)
	msg := wire.Msg{Type: wire.TypeAppend, From: "n2", To: "n1", Term: 2, Index: 2, LogTerm: 1, Count: 1,
		Entries: other.framed(3, 1), Commit: 2}
	before, _ := n1.log.crcAt(3)
	n1.r.Step(&msg)
	for _, m := range n1.r.takeMsgs() {
		if m.Type == wire.TypeAppendResp && !m.Reject() && m.Index >= 3 {
			t.Fatalf("acknowledged the conflicting entry: %+v", m)
		}
	}
	if after, ok := n1.log.crcAt(3); !ok || after != before || n1.log.LastIndex() != 4 {
		t.Fatalf("committed entries changed: log [%d,%d]", n1.log.FirstIndex(), n1.log.LastIndex())
	}
	if !errors.Is(n1.r.contradiction, ErrContradiction) || n1.r.contradictions != 1 {
		t.Fatalf("contradiction not reported: %v (%d)", n1.r.contradiction, n1.r.contradictions)
	}
	n1.r.Step(&msg) // the leader resends: refused again, counted
	if n1.r.contradictions != 2 || n1.r.stopped != nil {
		t.Fatalf("second refusal: %d, stopped %v", n1.r.contradictions, n1.r.stopped)
	}
}
