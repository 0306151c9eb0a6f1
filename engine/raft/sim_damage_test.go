package raft

import (
	"flag"
	"fmt"
	"testing"
)

var damageSeeds = flag.Int("damage.seeds", 300, "seeds per TestSimDamage configuration")

// repairingCount counts the nodes whose hard state says they repair.
func (s *sim) repairingCount() int {
	k := 0
	for _, n := range s.nodes {
		if n.up && n.r.repairing() || !n.up && (n.hs.RepairTo != 0 || n.hs.TermLost) {
			k++
		}
	}
	return k
}

// damagedRestart restarts n; with some chance its log was damaged while it was
// down: recovery cut it before a random entry it had synced, and recorded
// RepairTo = the highest index it held (the synced hint survived, the
// favourable case), RepairTerm = its term, as Node.recordDamage does. With
// another chance its hard state was lost (Node.readState: lostState), or
// its whole directory (wiped: an empty log and lostState(0)). At
// most a minority is ever repairing at once unless cfg.lossy: then any
// number, and the checks allow the loss of an entry no member holds any
// more (checkComplete).
func (s *sim) damagedRestart(n *simNode) {
	minority := s.repairingCount() < (len(s.nodes)-1)/2
	switch k := s.rng.IntN(8); {
	case k == 0 && (minority || s.cfg.lossy) && s.remembered(n):
		n.log, n.hs = newMemLog(), LostState(0) // Node.noState of an empty directory
		s.logf("%s wiped: it restarts with an empty directory", n.id)
	case k <= 2 && (minority || s.cfg.lossy) && (n.log.lastTerm() >= n.hs.Term || s.remembered(n)):
		n.hs = LostState(n.log.lastTerm())
		s.logf("%s lost its hard state", n.id)
	}
	if s.rng.IntN(2) == 0 && (minority || s.cfg.lossy) {
		had := n.log.synced
		if !s.cfg.syncQuorum {
			had = n.log.LastIndex() // ASYNC + CheckUnsynced: a valid entry follows the bad one
		}
		first := n.log.FirstIndex()
		if had >= first && had > 0 {
			k := first + uint64(s.rng.IntN(int(had-first+1)))
			if err := n.log.TruncateSuffix(k); err != nil {
				s.fatalf("damage cut: %v", err)
			}
			n.hs.RepairTo = max(n.hs.RepairTo, had)
			n.hs.RepairTerm = max(n.hs.RepairTerm, n.hs.Term)
			s.logf("%s damaged at %d (had %d), repairTo %d repairTerm %d", n.id, k, had, n.hs.RepairTo, n.hs.RepairTerm)
		}
	}
	s.restart(n)
}

// remembered reports whether a member other than n remembers a term at
// least as high as n's, so that wiping n, or losing its hard state, does
// not lose the group's highest term: if no member remembered it, terms
// would be used a second time, which the checks take for two leaders of
// one term (every member losing its state is the end of the group, not a
// fault it survives).
func (s *sim) remembered(n *simNode) bool {
	for _, o := range s.nodes {
		if o != n && (o.up && o.r.term >= n.hs.Term || !o.up && o.hs.Term >= n.hs.Term) {
			return true
		}
	}
	return false
}

func (s *sim) damageStep() { s.stepWith(s.damagedRestart) }

func TestSimDamage(t *testing.T) {
	cfgs := []simConfig{
		{name: "sync-damage-3", nodes: 3, syncQuorum: true, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.01, powerLoss: true, partition: 0.02, unreachable: true},
		{name: "sync-damage-5-retention", nodes: 5, syncQuorum: true, drop: 0.05, dup: 0.02, maxDelay: 4, crash: 0.01, powerLoss: true, partition: 0.03, retention: true},
		{name: "async-kill-damage-3", nodes: 3, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.01, partition: 0.02, unreachable: true},
		{name: "async-power-loss-damage-any-3", nodes: 3, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.01, powerLoss: true, partition: 0.02, unreachable: true, lossy: true},
		{name: "sync-damage-any-5", nodes: 5, syncQuorum: true, drop: 0.05, dup: 0.02, maxDelay: 4, crash: 0.01, powerLoss: true, partition: 0.03, lossy: true},
	}
	for _, cfg := range cfgs {
		t.Run(cfg.name, func(t *testing.T) {
			first, seeds := uint64(1), uint64(*damageSeeds)
			if *simSeed != 0 {
				first, seeds = *simSeed, 1
			}
			var acked, lost int
			for seed := first; seed < first+seeds; seed++ {
				s := newSim(t, cfg, seed)
				s.verbose = *simSeed != 0 && testing.Verbose()
				for range *simSteps {
					s.damageStep()
				}
				s.heal()
				s.finalCheck()
				acked += len(s.acked)
				lost += s.lostAcks
			}
			t.Logf("%d schedules: %d entries acknowledged, %d lost because every member holding them lost them", seeds, acked, lost)
		})
	}
}

// TestSimFullHouseLiveness: every member repairing at once (a power cut of
// every node under ASYNC_FLUSH) must still elect a leader, by a full house,
// within the heal deadline, however the timers fall: 3 and 5 nodes, with
// message delays.
func TestSimFullHouseLiveness(t *testing.T) {
	for _, nodes := range []int{3, 5} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
			cfg := simConfig{name: fmt.Sprintf("full-house-%d", nodes), nodes: nodes, maxDelay: 4}
			for seed := uint64(1); seed <= uint64(*damageSeeds); seed++ {
				s := newSim(t, cfg, seed)
				for _, n := range s.nodes {
					n.up = false
					n.hs = HardState{Term: 3, RepairTo: RepairUnknown, RepairTerm: 3}
					s.start(n, s.ids())
				}
				s.heal()
				s.finalCheck()
			}
		})
	}
}
