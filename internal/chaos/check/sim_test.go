package check

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// simConfig shapes a simulated run: clients issuing appends and reads
// against a correct log, with the outcomes a fault campaign produces.
type simConfig struct {
	clients, ops int
	seed         uint64
	reads        float64 // fraction of reads
	unknown      float64 // fraction of appends whose outcome is unknown (half of them applied)
	failed       float64 // fraction of operations failed (never applied)
	noops        float64 // chance of a leader's no-op before each operation
	dups         float64 // chance that an acked append was committed twice
	barrier      int     // every barrier operations, all clients pause: a quiescent point (0: never)
	gap, dur     time.Duration
}

// sim is a simulated run: the history and the committed log it left.
type sim struct {
	history []Op
	log     []Entry
	diverge int // if not 0, the last node's entry at this index has another term
}

// simOp is an operation being generated, with the instant it takes effect.
type simOp struct {
	Op
	at      time.Duration
	applied bool // an unknown append that took effect
}

// simulate generates a run of a correct system: every operation takes
// effect at one instant within its interval, on a single log.
func simulate(c simConfig) sim {
	rng := rand.New(rand.NewPCG(c.seed, c.seed^0x5eed))
	free := make([]time.Duration, c.clients)
	ops := make([]*simOp, 0, c.ops)
	for k := range c.ops {
		if c.barrier > 0 && k > 0 && k%c.barrier == 0 {
			t := slices.Max(free) + 1
			for i := range free {
				free[i] = t
			}
		}
		cl := slices.Index(free, slices.Min(free))
		o := &simOp{Op: Op{Client: cl, Call: free[cl] + dn(rng, c.gap+1)}}
		o.Return = o.Call + 1 + dn(rng, c.dur)
		o.at = o.Call + dn(rng, o.Return-o.Call+1)
		free[cl] = o.Return
		o.Kind, o.Outcome = Append, OK
		if rng.Float64() < c.reads {
			o.Kind = Read
		}
		switch r := rng.Float64(); {
		case r < c.failed:
			o.Outcome = Failed
		case r < c.failed+c.unknown && o.Kind == Append:
			o.Outcome, o.applied = Unknown, rng.IntN(2) == 0
		}
		ops = append(ops, o)
	}
	return run(ops, c, rng)
}

// dn is a random duration in [0, d).
func dn(rng *rand.Rand, d time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(d))) }

// run applies ops at their instants and records what each saw.
func run(ops []*simOp, c simConfig, rng *rand.Rand) sim {
	byAt := slices.Clone(ops)
	slices.SortStableFunc(byAt, func(a, b *simOp) int { return cmp.Compare(a.at, b.at) })
	var log []Entry
	term := uint64(1)
	add := func(typ uint8, id uint64) {
		i := uint64(len(log) + 1)
		e := Entry{Index: i, Term: term, Type: typ, ID: id, HasID: typ == TypeNormal}
		e.CRC = uint32(mix(i, id^term))
		log = append(log, e)
	}
	nextID := uint64(1000)
	for _, o := range byAt {
		if rng.Float64() < c.noops {
			term++
			add(TypeNoop, 0)
		}
		if o.Kind == Append {
			nextID++
			o.ID = nextID
			if o.Outcome == OK || o.applied {
				if o.Outcome == OK && rng.Float64() < c.dups {
					add(TypeNormal, o.ID)
				}
				add(TypeNormal, o.ID)
			}
			if o.Outcome == OK {
				o.Index = uint64(len(log))
			}
			continue
		}
		n := uint64(len(log))
		o.Index = max(1, n-min(n, 3)) + rng.Uint64N(6)
		if o.Outcome == OK && o.Index <= n {
			o.Found, o.ReadID = true, log[o.Index-1].seenID()
		}
	}
	s := sim{log: log}
	for _, o := range ops {
		if o.Outcome != OK {
			o.Return = 0 // unknown to the driver
		}
		s.history = append(s.history, o.Op)
	}
	return s
}

// nodes returns n copies of the log, as the node logs of a healed group.
func (s sim) nodes(n int) []NodeLog {
	logs := make([]NodeLog, n)
	for k := range logs {
		logs[k] = NodeLog{Node: fmt.Sprintf("n%d", k+1), Entries: slices.Clone(s.log)}
	}
	if s.diverge > 0 {
		logs[n-1].Entries[s.diverge-1].Term++
	}
	return logs
}

// clone copies s deeply, for a mutation.
func (s sim) clone() sim {
	return sim{history: slices.Clone(s.history), log: slices.Clone(s.log)}
}
