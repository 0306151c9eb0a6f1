package check

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// campaign is the shape of the simulated runs of the property tests.
var campaign = simConfig{clients: 4, ops: 300, reads: 0.4, unknown: 0.03, failed: 0.03, noops: 0.01, dups: 0.01,
	barrier: 50, gap: 20 * time.Microsecond, dur: 300 * time.Microsecond}

func TestSimulatedRunsPass(t *testing.T) {
	tests := []struct {
		name string
		c    simConfig
	}{
		{"campaign", campaign},
		{"no quiescent point", simConfig{clients: 5, ops: 600, reads: 0.4, unknown: 0.05, failed: 0.05, noops: 0.02, dups: 0.02,
			gap: time.Microsecond, dur: 500 * time.Microsecond}},
		{"appends only", simConfig{clients: 8, ops: 500, unknown: 0.1, barrier: 100, gap: time.Microsecond, dur: time.Millisecond}},
		{"reads mostly", simConfig{clients: 3, ops: 500, reads: 0.9, failed: 0.1, barrier: 30, gap: 100 * time.Microsecond, dur: 100 * time.Microsecond}},
		{"one client", simConfig{clients: 1, ops: 300, reads: 0.5, unknown: 0.1, noops: 0.1, gap: time.Microsecond, dur: time.Microsecond}},
	}
	for _, tt := range tests {
		for seed := range uint64(5) {
			s := tt.c.clone(seed)
			if r := Check(s.history, s.nodes(3), Options{WindowOps: 64}); !r.OK() {
				t.Fatalf("%s, seed %d: a correct run fails:\n%v", tt.name, seed, r)
			}
		}
	}
}

// clone simulates c with another seed.
func (c simConfig) clone(seed uint64) sim {
	c.seed = seed
	return simulate(c)
}

// A run of 20 000 operations of 8 clients, with a quiescent point every
// 250 operations, checks within a few seconds (the package doc gives the
// cost without quiescent points).
func TestLargeHistory(t *testing.T) {
	c := simConfig{clients: 8, ops: 20000, seed: 7, reads: 0.4, unknown: 0.02, failed: 0.02, noops: 0.002, dups: 0.002,
		barrier: 250, gap: 20 * time.Microsecond, dur: 300 * time.Microsecond}
	s := simulate(c)
	r := Check(s.history, s.nodes(3), Options{})
	if !r.OK() || r.Linearizable.Windows < 20 {
		t.Fatalf("a correct run fails, or is searched in too few windows:\n%v", r)
	}
	if r.Took > 15*time.Second {
		t.Errorf("checked in %v, want a few seconds", r.Took)
	}
	t.Logf("%v", r)
}

// mutation is one fault planted in a correct run, and what must catch it.
type mutation struct {
	name   string
	plant  func(s *sim, rng *rand.Rand) bool // false: no place to plant it
	caught func(r Report) bool
}

var mutations = []mutation{
	{"an acked entry lost", func(s *sim, rng *rand.Rand) bool {
		a, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Append && o.Outcome == OK })
		if ok {
			s.log[s.history[a].Index-1] = Entry{Index: s.history[a].Index, Term: s.log[s.history[a].Index-1].Term, Type: TypeNoop}
		}
		return ok
	}, func(r Report) bool { return r.Counts.Lost > 0 }},
	{"a wrong index acked", func(s *sim, rng *rand.Rand) bool {
		a, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Append && o.Outcome == OK && o.Index > 1 })
		if ok {
			s.history[a].Index -= 1 + rng.Uint64N(min(s.history[a].Index-1, 3))
			ok = !s.log[s.history[a].Index-1].holds(s.history[a].ID)
		}
		return ok
	}, func(r Report) bool { return r.Counts.Lost > 0 }},
	{"a node diverging", func(s *sim, rng *rand.Rand) bool {
		s.diverge = 1 + rng.IntN(len(s.log))
		return true
	}, func(r Report) bool { return r.Counts.Divergent == 1 }},
	{"an entry nobody appended", func(s *sim, rng *rand.Rand) bool {
		i := rng.IntN(len(s.log))
		s.log[i] = Entry{Index: uint64(i + 1), Term: s.log[i].Term, Type: TypeNormal, ID: math.MaxUint64, HasID: true}
		return true
	}, func(r Report) bool { return r.Counts.Unknown == 1 }},
	{"a stale read", func(s *sim, rng *rand.Rand) bool {
		a, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Append && o.Outcome == OK })
		if !ok {
			return false
		}
		done := s.history[a].Return
		r, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Read && o.Outcome == OK && o.Call > done })
		if ok {
			s.history[r].Index, s.history[r].Found, s.history[r].ReadID = s.history[a].Index, false, 0
		}
		return ok
	}, func(r Report) bool { return r.Linearizable.Result == porcupine.Illegal }},
	{"a read of a wrong id", func(s *sim, rng *rand.Rand) bool {
		r, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Read && o.Outcome == OK && o.Found && o.ReadID != 0 })
		if ok {
			s.history[r].ReadID++
		}
		return ok
	}, func(r Report) bool { return r.Counts.ReadMismatch > 0 }},
	{"a committed append reported failed", func(s *sim, rng *rand.Rand) bool {
		a, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Append && o.Outcome == OK })
		if ok {
			s.history[a].Outcome = Failed
		}
		return ok
	}, func(r Report) bool { return r.Counts.FailedApplied > 0 }},
	{"two sequential appends committed in reverse", func(s *sim, rng *rand.Rand) bool {
		a, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Append && o.Outcome == OK })
		if !ok {
			return false
		}
		first := s.history[a]
		b, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Append && o.Outcome == OK && o.Call > first.Return })
		if ok {
			i, j := first.Index-1, s.history[b].Index-1
			s.log[i], s.log[j] = s.log[j], s.log[i]
			s.log[i].Index, s.log[j].Index = i+1, j+1
			s.history[a].Index, s.history[b].Index = j+1, i+1
		}
		return ok
	}, func(r Report) bool { return r.Linearizable.Result == porcupine.Illegal }},
	{"a client's read going backwards", func(s *sim, rng *rand.Rand) bool {
		r1, ok := pick(s.history, rng, func(o Op) bool { return o.Kind == Read && o.Outcome == OK && o.Found })
		if !ok {
			return false
		}
		first := s.history[r1]
		r2, ok := pick(s.history, rng, func(o Op) bool {
			return o.Kind == Read && o.Outcome == OK && o.Client == first.Client && o.Call > first.Return
		})
		if ok {
			s.history[r2].Index, s.history[r2].Found, s.history[r2].ReadID = first.Index, false, 0
		}
		return ok
	}, func(r Report) bool { return r.Counts.NonMonotonic > 0 }},
}

// pick returns the position of a random operation for which ok holds.
func pick(h []Op, rng *rand.Rand, ok func(Op) bool) (int, bool) {
	var ps []int
	for p, o := range h {
		if ok(o) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return 0, false
	}
	return ps[rng.IntN(len(ps))], true
}

// Every single fault planted in a correct run is caught, by the check
// meant for it.
func TestMutationsCaught(t *testing.T) {
	const seeds = 20
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			planted := 0
			for seed := range uint64(seeds) {
				s := campaign.clone(seed)
				rng := rand.New(rand.NewPCG(seed, 99))
				if !m.plant(&s, rng) {
					continue
				}
				planted++
				if r := Check(s.history, s.nodes(3), Options{WindowOps: 64}); r.OK() || !m.caught(r) {
					t.Fatalf("seed %d: not caught (OK %v):\n%v", seed, r.OK(), r)
				}
			}
			if planted < seeds/2 {
				t.Fatalf("planted in %d runs of %d", planted, seeds)
			}
		})
	}
}

// The search's verdict equals that of a naive search on the whole
// history (no pruning, no bounds, no windows, every position's id kept),
// on correct runs and on runs with random faults in their operations.
func TestAgainstNaiveSearch(t *testing.T) {
	c := simConfig{clients: 3, ops: 40, reads: 0.5, unknown: 0.1, failed: 0.05, noops: 0.05, dups: 0.05,
		barrier: 10, gap: 10 * time.Microsecond, dur: 100 * time.Microsecond}
	verdicts := map[porcupine.CheckResult]int{}
	for seed := range uint64(300) {
		s := c.clone(seed)
		rng := rand.New(rand.NewPCG(seed, 7))
		for range rng.IntN(3) {
			perturb(s.history, rng)
		}
		got := Check(s.history, s.nodes(1), Options{WindowOps: 4}).Linearizable.Result
		want := naive(s)
		if got != want {
			t.Fatalf("seed %d: %s, the naive search %s; history:\n%v", seed, got, want, s.history)
		}
		verdicts[got]++
	}
	if verdicts[porcupine.Ok] < 50 || verdicts[porcupine.Illegal] < 50 {
		t.Fatalf("verdicts %v: want many of each", verdicts)
	}
	t.Logf("verdicts %v", verdicts)
}

// perturb changes one operation of h at random.
func perturb(h []Op, rng *rand.Rand) {
	o := &h[rng.IntN(len(h))]
	switch {
	case o.Outcome != OK:
	case o.Kind == Append:
		o.Index = shift(o.Index, rng.IntN(5)-2)
	case rng.IntN(2) == 0:
		o.Index = shift(o.Index, rng.IntN(3)-1)
	case o.Found:
		o.Found, o.ReadID = false, 0
	default:
		o.Found, o.ReadID = true, h[rng.IntN(len(h))].ID
	}
	if o.Outcome == OK && rng.IntN(4) == 0 { // move it in time, keeping its length
		d := time.Duration(rng.Int64N(int64(200*time.Microsecond))) - 100*time.Microsecond
		o.Call, o.Return = max(0, o.Call+d), max(0, o.Call+d)+o.Return-o.Call
	}
}

// shift returns index i moved by d, at least 1.
func shift(i uint64, d int) uint64 { return uint64(max(1, int64(i)+int64(d))) }

// naive searches s's history as the brief states the model: every
// position's id in the state, unknown appends found in the log (or by a
// read) returning at the end of time.
func naive(s sim) porcupine.CheckResult {
	at := map[uint64]uint64{} // id -> the lowest index of the log holding it
	for _, e := range slices.Backward(s.log) {
		if e.Type == TypeNormal && e.HasID {
			at[e.ID] = e.Index
		}
	}
	seen := map[uint64]uint64{} // id -> the lowest index a read found it at
	for _, o := range s.history {
		if i, ok := seen[o.ReadID]; o.Kind == Read && o.Outcome == OK && o.Found && o.ReadID != 0 && (!ok || o.Index < i) {
			seen[o.ReadID] = o.Index
		}
	}
	var ops []porcupine.Operation
	for _, o := range s.history {
		op := porcupine.Operation{ClientId: o.Client, Input: o, Call: int64(o.Call), Return: int64(o.Return)}
		switch {
		case o.Kind == Append && o.Outcome == Unknown:
			i, ok := at[o.ID]
			if !ok {
				i, ok = seen[o.ID]
			}
			if !ok {
				continue
			}
			o.Index = i
			op.Input, op.Return = o, math.MaxInt64
		case o.Outcome != OK:
			continue
		}
		ops = append(ops, op)
	}
	return porcupine.CheckOperationsTimeout(naiveModel, ops, 10*time.Second)
}

// naiveState is the model's state with every position's id.
type naiveState struct {
	last uint64
	pos  map[uint64]uint64
}

var naiveModel = porcupine.Model{
	Init: func() any { return naiveState{pos: map[uint64]uint64{}} },
	Step: func(st, in, _ any) (bool, any) {
		s, o := st.(naiveState), in.(Op)
		fill := func(last uint64, id uint64) naiveState {
			pos := make(map[uint64]uint64, len(s.pos)+1)
			for i, id := range s.pos {
				pos[i] = id
			}
			pos[o.Index] = id
			return naiveState{last: last, pos: pos}
		}
		switch {
		case o.Kind == Append:
			return o.Index > s.last, fill(o.Index, o.ID)
		case !o.Found:
			return o.Index > s.last, s
		case o.Index > s.last:
			return true, fill(o.Index, o.ReadID)
		}
		if id, ok := s.pos[o.Index]; ok {
			return id == o.ReadID, s
		}
		return true, fill(s.last, o.ReadID)
	},
	Equal: func(a, b any) bool {
		x, y := a.(naiveState), b.(naiveState)
		return x.last == y.last && fmt.Sprint(x.pos) == fmt.Sprint(y.pos)
	},
}

// BenchmarkCheck measures Check on simulated runs of 8 clients, with a
// quiescent point every 250 operations or none.
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct{ ops, barrier int }{{20000, 250}, {100000, 250}, {20000, 0}} {
		c := simConfig{clients: 8, ops: bc.ops, seed: 7, reads: 0.4, unknown: 0.02, failed: 0.02, noops: 0.002, dups: 0.002,
			barrier: bc.barrier, gap: 20 * time.Microsecond, dur: 300 * time.Microsecond}
		s := simulate(c)
		logs := s.nodes(3)
		b.Run(fmt.Sprintf("ops=%d/barrier=%d", bc.ops, bc.barrier), func(b *testing.B) {
			b.ReportAllocs()
			var r Report
			for b.Loop() {
				r = Check(s.history, logs, Options{})
			}
			if !r.OK() {
				b.Fatalf("a correct run fails:\n%v", r)
			}
			b.ReportMetric(float64(r.Linearizable.Largest), "largest-window")
		})
	}
}
