package raft

import (
	"errors"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// Deterministic membership scenarios on the manual simulator (raft_test.go).

func members(voters []string, learners ...string) Membership {
	var c Membership
	for _, id := range voters {
		c.Members = append(c.Members, Member{ID: id, Peer: id + ":1"})
	}
	for _, id := range learners {
		c.Members = append(c.Members, Member{ID: id, Peer: id + ":1", Learner: true})
	}
	c.sort()
	return c
}

func TestMembershipCodec(t *testing.T) {
	long := strings.Repeat("x", 256)
	valid := []Membership{
		members([]string{"n0"}),
		members([]string{"n0", "n1", "n2"}, "j1"),
		{Members: []Member{{ID: "a", Peer: "127.0.0.1:1", Client: "127.0.0.1:2"}, {ID: "b", Learner: true}}},
	}
	for _, c := range valid {
		got, err := DecodeMembership(EncodeMembership(c))
		if err != nil || !got.Equal(c) {
			t.Fatalf("round trip of %v: %v, %v", c, got, err)
		}
	}
	cs := []ConfEntry{{Index: 3, Term: 1, Membership: valid[0]}, {Index: 9, Term: 2, Membership: valid[1]}}
	got, err := DecodeConfs(EncodeConfs(cs))
	if err != nil || len(got) != 2 || got[1].Index != 9 || !got[1].Equal(valid[1]) {
		t.Fatalf("confs round trip: %v, %v", got, err)
	}
	bad := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "0 bytes"},
		{"version", []byte{2, 1}, "version 2"},
		{"no members", []byte{1, 0}, "0 members"},
		{"truncated", EncodeMembership(valid[1])[:9], "truncated"},
		{"trailing", append(EncodeMembership(valid[0]), 0), "1 bytes after"},
		{"flags", []byte{1, 1, 2, 1, 'a', 0, 0}, "unknown flags"},
		{"unsorted", EncodeMembership(Membership{Members: []Member{{ID: "b"}, {ID: "a"}}}), "not sorted"},
		{"no voter", EncodeMembership(Membership{Members: []Member{{ID: "a", Learner: true}}}), "no voting member"},
		{"empty id", []byte{1, 1, 0, 0, 0, 0}, "member id"},
	}
	for _, tt := range bad {
		if _, err := DecodeMembership(tt.b); err == nil || !errors.Is(err, ErrMembership) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := (Membership{Members: []Member{{ID: long}}}).Validate(); err == nil {
		t.Error("a 256-byte id validated")
	}
	enc := EncodeConfs(cs)
	flip := append([]byte(nil), enc...)
	flip[10] ^= 1
	for name, b := range map[string][]byte{"crc": flip, "short": enc[:8], "magic": append([]byte("XXXX"), enc[4:]...)} {
		if _, err := DecodeConfs(b); err == nil || !errors.Is(err, ErrMembership) {
			t.Errorf("confs %s: %v", name, err)
		}
	}
}

func FuzzDecodeMembership(f *testing.F) {
	f.Add(EncodeMembership(members([]string{"n0", "n1", "n2"}, "j1")))
	f.Add([]byte{1, 1, 0, 1, 'a', 0, 0})
	f.Add([]byte{1, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeMembership(b)
		if err != nil {
			return
		}
		if again, err := DecodeMembership(EncodeMembership(c)); err != nil || !again.Equal(c) {
			t.Fatalf("re-encoding %v: %v, %v", c, again, err)
		}
	})
}

func FuzzDecodeConfs(f *testing.F) {
	f.Add(EncodeConfs([]ConfEntry{{Index: 3, Term: 1, Membership: members([]string{"n0"})}}))
	f.Add(EncodeConfs(nil))
	f.Add([]byte("RMQM\x01\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := DecodeConfs(b)
		if err != nil {
			return
		}
		if again, err := DecodeConfs(EncodeConfs(cs)); err != nil || len(again) != len(cs) {
			t.Fatalf("re-encoding: %v, %v", again, err)
		}
	})
}

// change proposes c on id and fails the test on an error.
func (s *sim) change(id string, c Change) uint64 {
	s.t.Helper()
	n := s.node(id)
	i, err := n.r.ProposeChange(c)
	if err != nil {
		s.t.Fatalf("%s: %s %s: %v", id, c.Type, c.Member.ID, err)
	}
	s.after(n)
	return i
}

func learner(id string) Change {
	return Change{Type: AddLearner, Member: Member{ID: id, Peer: id + ":1"}}
}

// elect makes n0 the leader of a fresh group of n and commits its no-op.
func elect(t *testing.T, n int, sync bool) *sim {
	s := newManual(t, n, sync)
	s.campaign("n0")
	s.settle(true, nil)
	s.mustLead("n0")
	return s
}

// TestLearnerDoesNotCount: a learner that cannot be reached does not stall
// commits; it cannot be promoted until it caught up; once promoted it
// counts (4 voters: a majority is 3).
func TestLearnerDoesNotCount(t *testing.T) {
	for _, sync := range []bool{true, false} {
		s := elect(t, 3, sync)
		l := s.node("n0")
		j := s.join()
		s.isolate(j.id)
		i := s.change("n0", learner(j.id))
		s.propose(l)
		s.settle(true, nil)
		if l.r.commit < i+1 {
			t.Fatalf("sync=%v: commit %d with the learner cut off, want >= %d", sync, l.r.commit, i+1)
		}
		if _, err := l.r.ProposeChange(Change{Type: Promote, Member: Member{ID: j.id}}); !errors.Is(err, ErrNotCaughtUp) {
			t.Fatalf("promoting a learner that has nothing: %v", err)
		}
		clear(s.cut)
		for range 3 * l.r.cfg.HeartbeatTicks {
			s.step2()
		}
		s.settle(true, nil)
		p := s.change("n0", Change{Type: Promote, Member: Member{ID: j.id}})
		s.settle(true, nil)
		if l.r.commit < p || !l.r.isVoter(j.id) || len(l.r.voters) != 4 {
			t.Fatalf("promotion not committed: commit %d, voters %v", l.r.commit, l.r.voters)
		}
		if c, _ := j.r.Membership(); !c.IsVoter(j.id) {
			t.Fatalf("the learner does not know it was promoted: %v", c)
		}
		s.isolate("n1")
		s.isolate("n2")
		before := l.r.commit
		s.propose(l)
		s.settle(true, nil)
		if l.r.commit != before {
			t.Fatalf("committed with 2 of 4 voters: %d -> %d", before, l.r.commit)
		}
	}
}

// TestOneChangeAtATime: a change is refused while another is uncommitted,
// and before the leader's no-op commits.
func TestOneChangeAtATime(t *testing.T) {
	s := elect(t, 3, true)
	s.isolate("n1")
	s.isolate("n2")
	s.join()
	s.change("n0", learner("j1"))
	if _, err := s.node("n0").r.ProposeChange(Change{Type: Remove, Member: Member{ID: "n2"}}); !errors.Is(err, ErrChangePending) {
		t.Fatalf("second change while the first is uncommitted: %v", err)
	}

	s = newManual(t, 3, true)
	s.campaign("n0")
	s.settle(false, func(m *wire.Msg) bool { return m.Type != wire.TypeAppendResp }) // elected, no-op not committed
	if _, err := s.mustLead("n0").ProposeChange(learner("j1")); !errors.Is(err, ErrChangePending) {
		t.Fatalf("change before the no-op committed: %v", err)
	}
}

// TestBadChanges: the refusals name the problem.
func TestBadChanges(t *testing.T) {
	s := elect(t, 3, false)
	r := s.node("n0").r
	for _, tt := range []struct {
		c    Change
		want string
	}{
		{learner("n1"), "already a member"},
		{Change{Type: AddLearner, Member: Member{ID: "x"}}, "no peer address"},
		{Change{Type: Promote, Member: Member{ID: "n1"}}, "already a voter"},
		{Change{Type: Promote, Member: Member{ID: "zz"}}, "not a member"},
		{Change{Type: Remove, Member: Member{ID: "zz"}}, "not a member"},
		{Change{Type: 9, Member: Member{ID: "n1"}}, "unknown change"},
	} {
		if _, err := r.ProposeChange(tt.c); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: %v, want %q", tt.c.Type, tt.c.Member.ID, err, tt.want)
		}
	}
	if _, err := r.Propose(record.TypeConfig, EncodeMembership(members([]string{"n0"}))); !errors.Is(err, ErrMembership) {
		t.Errorf("a configuration entry through Propose: %v", err)
	}
	s.join()
	s.change("n0", learner("j1"))
	s.settle(true, nil)
	if _, err := r.ProposeChange(Change{Type: AddLearner, Member: Member{ID: "x", Peer: "j1:1"}}); err == nil ||
		!strings.Contains(err.Error(), `member "j1"'s`) {
		t.Errorf("a second member at j1's address: %v", err)
	}
	s.join() // j2
	if _, err := r.ProposeChange(Change{Type: AddLearner, Member: Member{ID: "j2", Peer: "j2:1", Client: "j1:2"}}); err != nil {
		t.Errorf("a member with its own addresses: %v", err)
	}
	s.after(s.node("n0"))
	s.settle(true, nil)
	if _, err := r.ProposeChange(Change{Type: AddLearner, Member: Member{ID: "y", Peer: "y:1", Client: "j1:2"}}); err == nil ||
		!strings.Contains(err.Error(), `client address j1:2 is member "j2"'s`) {
		t.Errorf("a second member at j2's client address: %v", err)
	}
	solo := elect(t, 1, false)
	if _, err := solo.node("n0").r.ProposeChange(Change{Type: Remove, Member: Member{ID: "n0"}}); err == nil || !strings.Contains(err.Error(), "only voter") {
		t.Errorf("removing the only voter: %v", err)
	}
}

// TestLeaderRemovesItself: the leader commits its removal, hands leadership
// to a caught-up voter (which wins the next term at once) and never
// campaigns again.
func TestLeaderRemovesItself(t *testing.T) {
	s := elect(t, 3, true)
	l := s.node("n0")
	s.propose(l)
	s.settle(true, nil)
	i := s.change("n0", Change{Type: Remove, Member: Member{ID: "n0"}})
	s.settle(true, nil)
	next := s.leader()
	if l.r.role == Leader || next == nil || next.r.term != 2 || next.r.commit < i {
		t.Fatalf("no hand-off after the leader removed itself: %s", s.describe())
	}
	if next.r.Writable(); len(next.r.voters) != 2 {
		t.Fatalf("new leader's voters %v", next.r.voters)
	}
	var sent int
	s.onSend = func(m *wire.Msg) {
		if m.From == "n0" && (m.Type == wire.TypePreVote || m.Type == wire.TypeVote) {
			sent++
		}
	}
	s.isolate("n0")
	s.tickN("n0", 10*l.r.cfg.ElectionTicks)
	if sent != 0 {
		t.Fatalf("the removed node campaigned %d times", sent)
	}
}

// TestRemovedNodeDoesNotDisrupt: a node removed while cut off never learns
// it; when it returns, its campaigns (with its old configuration) do not
// depose the leader or raise the group's term.
func TestRemovedNodeDoesNotDisrupt(t *testing.T) {
	s := elect(t, 3, false)
	s.isolate("n2")
	s.change("n0", Change{Type: Remove, Member: Member{ID: "n2"}})
	s.settle(true, nil)
	l := s.node("n0")
	for range 5 {
		s.propose(l)
	}
	s.settle(true, nil)
	s.tickN("n2", 20*l.r.cfg.ElectionTicks)
	clear(s.cut)
	for range 20 * l.r.cfg.ElectionTicks {
		s.step2()
	}
	if r := s.mustLead("n0"); r.term != 1 {
		t.Fatalf("the removed node disturbed the group: term %d: %s", r.term, s.describe())
	}
}

// TestNonVoterVotesDoNotCount: a candidate asks only the voters of its
// configuration, and counts only their answers: a learner's grant (here
// one that arrives anyway) does not elect it.
func TestNonVoterVotesDoNotCount(t *testing.T) {
	s := elect(t, 3, false)
	s.join()
	s.change("n0", learner("j1"))
	s.settle(true, nil)
	s.restartWithout("n0")
	s.isolate("n2")
	var asked []string
	s.onSend = func(m *wire.Msg) {
		if m.From == "n1" && m.Type == wire.TypePreVote {
			asked = append(asked, m.To)
		}
	}
	s.campaign("n1")
	r := s.node("n1").r
	if strings.Join(asked, ",") != "n0,n2" {
		t.Fatalf("pre-vote asked %v, want the voters n0,n2", asked)
	}
	r.Step(&wire.Msg{Type: wire.TypePreVoteResp, From: "j1", To: "n1", Term: r.term + 1})
	r.Step(&wire.Msg{Type: wire.TypePreVoteResp, From: "zz", To: "n1", Term: r.term + 1})
	if r.role != PreCandidate {
		t.Fatalf("a learner's and a stranger's grants moved n1 to %v", r.role)
	}
}

// TestConfRevertsOnTruncation: a configuration entry that a new leader
// overwrites stops being in force, and leaves the saved list.
func TestConfRevertsOnTruncation(t *testing.T) {
	s := elect(t, 3, true)
	s.isolate("n0")
	s.join()
	s.change("n0", learner("j1"))
	if _, at := s.node("n0").r.Membership(); at == 0 || len(s.node("n0").log.confs()) != 1 {
		t.Fatal("the change is not in force and saved on the leader")
	}
	s.restartWithout("n0")
	s.node("n0").up = true
	s.isolate("n0")
	s.campaign("n1")
	s.settle(true, nil)
	l := s.mustLead("n1")
	s.propose(s.node("n1"))
	s.settle(true, nil)
	clear(s.cut)
	for range 3 * l.cfg.HeartbeatTicks {
		s.step2()
	}
	s.settle(true, nil)
	n0 := s.node("n0")
	if c, at := n0.r.Membership(); at != 0 || c.Equal(members([]string{"n0", "n1", "n2"}, "j1")) {
		t.Fatalf("n0 still uses the overwritten configuration %v at %d", c, at)
	}
	if cs := n0.log.confs(); len(cs) != 0 {
		t.Fatalf("n0's saved list still holds %v", cs)
	}
}

// TestResetCarriesConf: a follower restarted empty behind the leader's
// retention gets the configuration in force at the leader's base with the
// Reset, and keeps it over a restart.
func TestResetCarriesConf(t *testing.T) {
	s := elect(t, 3, true)
	l := s.node("n0")
	j := s.join()
	i := s.change("n0", learner(j.id))
	for range 5 {
		s.propose(l)
	}
	s.settle(true, nil)
	for _, n := range s.nodes {
		n.log.deletePrefix(i + 2)
	}
	n2 := s.node("n2")
	n2.log, n2.hs = newMemLog(), LostState(0)
	s.start(n2, s.ids())
	s.propose(l) // its rejection of the next batch shows the leader that n2 holds nothing
	for range 3 * l.r.cfg.HeartbeatTicks {
		s.step2()
	}
	s.settle(true, nil)
	want, _ := l.r.Membership()
	if got, at := n2.r.Membership(); at != i || !got.Equal(want) {
		t.Fatalf("n2 after the reset (%d resets sent): %v at %d, want %v at %d: %s", s.resets, got, at, want, i, s.describe())
	}
	s.start(n2, s.ids())
	if got, at := n2.r.Membership(); at != i || !got.Equal(want) {
		t.Fatalf("n2 after a restart: %v at %d", got, at)
	}
}

// TestSavedConfBeyondLogDropped: a configuration saved but never appended
// (the process died between the two) is dropped at the next start.
func TestSavedConfBeyondLogDropped(t *testing.T) {
	s := elect(t, 3, true)
	n1 := s.node("n1")
	extra := ConfEntry{Index: n1.log.LastIndex() + 1, Term: 1, Membership: members([]string{"n0", "n1", "n2"}, "j9")}
	n1.log.SaveMembership(EncodeConfs([]ConfEntry{extra}))
	s.start(n1, s.ids())
	if _, at := n1.r.Membership(); at != 0 || len(n1.log.confs()) != 0 {
		t.Fatalf("a saved entry beyond the log is in force (at %d) or kept (%v)", at, n1.log.confs())
	}
}
