package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// Membership changes under the simulator's faults: the leader adds a new
// node as a learner (a fresh log, started as rmqlogJoin starts it: no
// member until the log names it), promotes caught-up learners, removes
// voters and learners (itself included), keeping 3 to 5 voters. A removed
// node either stops (the operator stops it) or keeps running with whatever
// it last knew, which must not disrupt the group. On top of the
// simulator's checks (one leader per term, committed entries never change,
// every new leader holds every committed entry, every acknowledged entry
// survives): a leader never commits an entry that a majority of the voters
// of its configuration does not hold (fsynced under SYNC_FLUSH).

// changeMembership proposes one random change on leader l.
func (s *sim) changeMembership(l *simNode) {
	conf, _ := l.r.Membership() // the core refuses a change while one commits (ErrChangePending)
	voters, learners := conf.Voters(), conf.Learners()
	var c Change
	switch {
	case len(learners) > 0 && s.rng.IntN(4) != 0:
		c = Change{Type: Promote, Member: Member{ID: learners[s.rng.IntN(len(learners))]}}
	case len(voters)+len(learners) < 6 && (len(voters) <= 3 || s.rng.IntN(2) == 0):
		id := fmt.Sprintf("j%d", s.joined+1)
		c = Change{Type: AddLearner, Member: Member{ID: id, Peer: id + ":1"}}
	case len(voters) > 3 || len(learners) > 0:
		ids := append(slices.Clone(voters), learners...)
		if len(voters) <= 3 {
			ids = learners
		}
		c = Change{Type: Remove, Member: Member{ID: ids[s.rng.IntN(len(ids))]}}
	default:
		return
	}
	if c.Type == AddLearner {
		s.join()
	}
	i, err := l.r.ProposeChange(c)
	if err != nil && c.Type == AddLearner { // never added: it never heard of anyone
		s.nodes, s.joined = s.nodes[:len(s.nodes)-1], s.joined-1
	}
	switch {
	case err == nil:
		s.changes++
		s.logf("%s proposes %s %s at %d", l.id, c.Type, c.Member.ID, i)
	case errors.Is(err, ErrNotCaughtUp), errors.Is(err, ErrChangePending), errors.Is(err, ErrTransferring):
	default:
		s.fatalf("%s: %s %s: %v", l.id, c.Type, c.Member.ID, err)
	}
	s.after(l)
}

// join starts a new node with an empty log that is no member yet.
func (s *sim) join() *simNode {
	s.joined++
	n := &simNode{id: fmt.Sprintf("j%d", s.joined), log: newMemLog(), hs: LostState(0), joiner: true}
	s.nodes = append(s.nodes, n)
	s.start(n, nil)
	s.logf("%s starts, joining", n.id)
	return n
}

// retire stops, for good, removed nodes that know they were removed, one
// time in two (the other half keep running, as an operator may forget).
func (s *sim) retire() {
	for _, n := range s.nodes {
		if n.gone || n.lingering || !n.up {
			continue
		}
		conf, at := n.r.Membership()
		if _, ok := conf.Get(n.id); ok {
			n.wasMember = true
			continue
		}
		if l := s.leader(); !n.wasMember || at == 0 || n.r.commit < at || l == nil || s.member(l, n) {
			continue
		}
		if s.rng.IntN(2) == 0 {
			n.lingering = true
			s.logf("%s was removed and keeps running", n.id)
			continue
		}
		n.gone, n.up = true, false
		s.logf("%s was removed and stops", n.id)
	}
}

// checkCommitQuorum: leader n just committed up to its commit index: a
// majority of the voters of its configuration hold that entry (under
// SYNC_FLUSH, fsynced).
func (s *sim) checkCommitQuorum(n *simNode) {
	r := n.r
	if r.role != Leader || !n.leading {
		n.quorumChecked = r.commit // only what this leader commits is checked
		return
	}
	if r.commit <= n.quorumChecked || (s.cfg.powerLoss && !s.cfg.syncQuorum) {
		return
	}
	n.quorumChecked = r.commit
	want, _ := n.log.crcAt(r.commit)
	held := 0
	for _, id := range r.voters {
		v := s.node(id)
		c, ok := v.log.crcAt(r.commit)
		switch {
		case v.log.FirstIndex() > r.commit: // deleted by retention: committed before
			held++
		case ok && c == want && (!s.cfg.syncQuorum || v.log.synced >= r.commit):
			held++
		}
	}
	if held < majority(len(r.voters)) {
		s.fatalf("%s committed %d held by %d of the voters %v", n.id, r.commit, held, r.voters)
	}
}

var simMembershipConfigs = []simConfig{
	{name: "sync-membership", nodes: 3, syncQuorum: true, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.003, powerLoss: true, partition: 0.02, unreachable: true, membership: true},
	{name: "async-membership-retention", nodes: 3, drop: 0.05, dup: 0.02, maxDelay: 3, crash: 0.003, partition: 0.02, retention: true, unreachable: true, membership: true},
	{name: "sync-membership-5-retention", nodes: 5, syncQuorum: true, drop: 0.05, maxDelay: 4, crash: 0.003, powerLoss: true, partition: 0.03, retention: true, membership: true},
}

func TestSimMembership(t *testing.T) {
	for _, cfg := range simMembershipConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			var acked, changes, joined, leaders int
			seeds := eachSeed(t, cfg, func(s *sim) {
				acked += len(s.acked)
				changes += s.changes
				joined += s.joined
				leaders += len(s.leaders)
			})
			if changes == 0 {
				t.Fatal("no membership change was proposed")
			}
			t.Logf("%d schedules: %d membership changes appended, %d nodes joined, %d leaders, %d entries acknowledged",
				seeds, changes, joined, leaders, acked)
		})
	}
}
