package raft

import (
	"testing"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// TestDamagedMinorityKeepsCommitted is the bit-flip-on-a-minority loss:
// entry 2 is committed by n0 and n1 only (n2 was cut off); n1's copy is
// damaged and cut; n0 dies. If n1 voted, n2 (which never had entry 2)
// would be elected with n1's vote and entry 2 would be lost. A repairing
// n1 votes for nobody, so n2 cannot win; when n0 returns it wins, repairs
// n1, and n1 votes again.
func TestDamagedMinorityKeepsCommitted(t *testing.T) {
	s := newManual(t, 3, true)
	s.campaign("n0")
	s.settle(true, nil)
	l := s.mustLead("n0")
	s.isolate("n2")
	s.propose(s.node("n0"))
	s.settle(true, nil)
	if l.commit != 2 {
		t.Fatalf("entry 2 not committed by n0 and n1: %s", s.describe())
	}

	// n1 stops; its log is damaged at entry 2 and cut; it restarts in repair.
	n1 := s.node("n1")
	n1.up = false
	if err := n1.log.TruncateSuffix(2); err != nil {
		t.Fatal(err)
	}
	n1.log.sync()
	n1.hs.RepairTo, n1.hs.RepairTerm = 2, n1.hs.Term
	s.node("n0").up = false
	clear(s.cut)
	s.isolate("n0")
	s.net = nil
	s.start(n1, s.ids())
	if !n1.r.repairing() {
		t.Fatal("n1 restarted without its repair state")
	}

	// Both campaign again and again: n1's grants count only in a full
	// house, which n0's absence rules out, so neither is elected.
	for range 5 {
		s.tickN("n2", 2*s.node("n2").r.cfg.ElectionTicks)
		s.tickN("n1", 2*n1.r.cfg.ElectionTicks)
		s.settle(true, nil)
		for _, id := range []string{"n1", "n2"} {
			if r := s.node(id).r; r.role == Leader {
				t.Fatalf("%s elected although n0, holding committed entry 2, is down: %s", id, s.describe())
			}
		}
	}

	// n0 returns: it is elected (n2 votes for it), repairs n1.
	n0 := s.node("n0")
	clear(s.cut)
	s.start(n0, s.ids())
	for range 10 {
		if n0.r.role == Leader && n0.r.Writable() {
			break
		}
		s.tickN("n0", 2*n0.r.cfg.ElectionTicks)
		s.settle(true, nil)
	}
	if n0.r.role != Leader || !n0.r.Writable() {
		t.Fatalf("n0 not leader after its return: %s", s.describe())
	}
	s.settle(true, nil)
	s.tickN("n0", n0.r.cfg.HeartbeatTicks)
	s.settle(true, nil)
	if n1.r.repairing() || n1.hs.RepairTo != 0 {
		t.Fatalf("n1 still repairing (commit %d, repairTo %d): %s", n1.r.commit, n1.r.repairTo, s.describe())
	}
	if n1.log.LastIndex() < 2 || n1.r.termAt(2) != n0.r.termAt(2) {
		t.Fatalf("n1 lacks entry 2 after the repair: %s", s.describe())
	}
}

// TestRepairingVotesCountOnlyInFullHouse: a repairing node grants votes and
// pre-votes to up-to-date candidates marked FlagRepairing, and a candidate
// counts such a grant only when every member granted; the repair ends when
// a newer term's entry commits even if the log never reaches the index it
// held (that tail was never committed).
func TestRepairingVotesCountOnlyInFullHouse(t *testing.T) {
	s := newManual(t, 3, false)
	n := s.node("n1")
	n.hs = HardState{Term: 5, RepairTo: 50, RepairTerm: 5}
	s.start(n, s.ids())
	for _, typ := range []wire.Type{wire.TypePreVote, wire.TypeVote} {
		n.r.Step(&wire.Msg{Type: typ, From: "n0", To: "n1", Term: 6, Index: 100, LogTerm: 5})
		msgs := n.r.takeMsgs()
		if len(msgs) != 1 || msgs[0].Reject() || msgs[0].Flags&wire.FlagRepairing == 0 {
			t.Fatalf("%v: answered %+v, want a grant marked repairing", typ, msgs)
		}
	}
	s.after(n)

	// A candidate's tally: {sure self, repairing n1} is no majority of
	// sure votes; with n2's sure vote it is a full house.
	c := s.node("n0").r
	c.becomeCandidate()
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n1", Term: c.term, Flags: wire.FlagRepairing})
	if c.role == Leader {
		t.Fatal("elected with one sure and one repairing vote of three")
	}
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n2", Term: c.term, Flags: wire.FlagRepairing})
	if c.role != Leader {
		t.Fatalf("not elected with every member's vote: %v", c.role)
	}
	c.becomeFollower(c.term, "")
	c.becomeCandidate()
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n1", Term: c.term, Flags: wire.FlagRepairing})
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n2", Term: c.term, Flags: wire.FlagReject})
	if c.role != Follower {
		t.Fatalf("a candidate that can get neither a sure majority nor a full house is %v", c.role)
	}
	c.takeMsgs()

	// A leader of term 7 appends its no-op (index 1) and commits it.
	n.r.Step(&wire.Msg{Type: wire.TypeHeartbeat, From: "n0", To: "n1", Term: 7})
	s.after(n)
	n.log.Append(7, 2, nil)
	n.r.matched = 1
	n.r.advanceCommit(1)
	if n.r.repairing() {
		t.Fatal("still repairing after a term-7 entry committed")
	}
	if !n.r.hsDirty {
		t.Fatal("the end of the repair is not persisted")
	}
}

// TestRepairEndsWhenHoldingLeaderLog: a repairing node whose RepairTo lies
// beyond the leader's log (an old uncommitted tail), in the leader's own
// term, in an idle group: it ends the repair once it holds the leader's
// whole log, which a heartbeat's index tells it.
func TestRepairEndsWhenHoldingLeaderLog(t *testing.T) {
	s := newManual(t, 3, false)
	s.campaign("n0")
	s.settle(true, nil)
	l := s.mustLead("n0")
	s.propose(s.node("n0"))
	s.settle(true, nil)
	n1 := s.node("n1")
	n1.up = false
	n1.hs.RepairTo, n1.hs.RepairTerm = 50, l.term // held 50 once; the leader has 2
	s.net = nil
	s.start(n1, s.ids())
	if !n1.r.repairing() {
		t.Fatal("not repairing")
	}
	l.Unreachable("n1") // its connection broke with the restart: the leader probes it again
	for range 3 {
		s.tickN("n0", l.cfg.HeartbeatTicks)
		s.settle(true, nil)
	}
	if n1.r.repairing() {
		t.Fatalf("still repairing with the leader's whole log (matched %d, leader last %d): %s",
			n1.r.matched, l.log.LastIndex(), s.describe())
	}
}
