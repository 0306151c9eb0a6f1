package check

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// window is a stretch of the history that the search takes at once.
type window struct {
	ops  []*mop
	init *state // the state after the windows before it
}

// windows cuts p.ops (by call) at quiescent points: a window ends at its
// last quiescent point once it holds size operations, or at the first
// one after.
func (p *plan) windows(size int) []window {
	var ws []window
	s := &state{}
	start, cut := 0, 0 // the open window, the last quiescent point in it
	var maxRet int64 = math.MinInt64
	for k, m := range p.ops {
		if k > start && maxRet < m.call { // quiescent before k
			cut = k
		}
		if k-start >= size && cut > start {
			ws = append(ws, window{ops: p.ops[start:cut], init: s})
			s = after(s, p.ops[start:cut])
			start = cut
		}
		maxRet = max(maxRet, m.ret)
	}
	if start < len(p.ops) {
		ws = append(ws, window{ops: p.ops[start:], init: s})
	}
	return ws
}

// after returns the state once ops, all of them complete, took effect on
// s: the highest index they claim, and the ids at contested indexes (the
// first claimed: if ops are linearizable they all agree).
func after(s *state, ops []*mop) *state {
	for _, m := range ops {
		if !m.claims() {
			continue
		}
		last := max(s.last, m.index)
		if _, ok := s.at(m.index); m.contested && !ok {
			s = s.fill(last, m)
		} else if last != s.last {
			s = &state{last: last, fixed: s.fixed, n: s.n, sum: s.sum}
		}
	}
	return s
}

// visual is what Report.Visualize draws.
type visual struct {
	model porcupine.Model
	info  porcupine.LinearizationInfo
}

// linearize runs the search on the windows of h, in parallel, within
// opts.Timeout. Windows after the first illegal one are skipped.
func linearize(h *hist, f *final, opts Options) (Linearizability, *visual) {
	t0 := time.Now()
	p := planSearch(h, f)
	ws := p.windows(opts.WindowOps)
	res := Linearizability{Result: porcupine.Ok, Ops: len(p.ops), Pruned: p.pruned, Dropped: p.dropped,
		Windows: len(ws), Window: -1}
	for _, w := range ws {
		res.Largest = max(res.Largest, len(w.ops))
	}
	s := &search{ws: ws, results: make([]porcupine.CheckResult, len(ws)), illegal: len(ws),
		deadline: t0.Add(opts.Timeout), maxOps: opts.MaxWindow}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ws)) {
		wg.Go(s.work)
	}
	wg.Wait()
	var vis *visual
	if k := slices.Index(s.results, porcupine.Illegal); k >= 0 { // every window before it ran
		res.Result, res.Window = porcupine.Illegal, k
		res.From, res.To = time.Duration(ws[k].ops[0].call), time.Duration(ws[k].end())
		vis = ws[k].explain(opts.Timeout)
	} else if k := slices.Index(s.results, porcupine.Unknown); k >= 0 {
		res.Result = porcupine.Unknown
		res.Reason = fmt.Sprintf("the search ran out of its %v (Options.Timeout)", opts.Timeout)
		if res.Largest > opts.MaxWindow {
			res.Reason = fmt.Sprintf("a stretch of %d operations without a quiescent point is over MaxWindow (%d): not searched",
				res.Largest, opts.MaxWindow)
		}
	}
	res.Took = time.Since(t0)
	return res, vis
}

// search hands the windows out to the workers.
type search struct {
	ws       []window
	results  []porcupine.CheckResult
	deadline time.Time
	maxOps   int

	mu      sync.Mutex // guards next and illegal
	next    int        // the next window to search
	illegal int        // the first illegal window found so far, or len(ws)
}

// work searches windows until none is left.
func (s *search) work() {
	for k := s.take(); k >= 0; k = s.take() {
		w := s.ws[k]
		switch left := time.Until(s.deadline); {
		case len(w.ops) > s.maxOps || left <= 0:
			s.results[k] = porcupine.Unknown
		default:
			s.results[k] = porcupine.CheckOperationsTimeout(model(w.init), w.operations(), left)
		}
		if s.results[k] == porcupine.Illegal {
			s.mu.Lock()
			s.illegal = min(s.illegal, k)
			s.mu.Unlock()
		}
	}
}

// take returns the next window to search, or -1.
func (s *search) take() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= s.illegal {
		return -1
	}
	s.next++
	return s.next - 1
}

// end is the latest return in w.
func (w window) end() int64 {
	var t int64
	for _, m := range w.ops {
		t = max(t, m.ret)
	}
	return t
}

// operations converts w for porcupine.
func (w window) operations() []porcupine.Operation {
	ops := make([]porcupine.Operation, len(w.ops))
	for k, m := range w.ops {
		ops[k] = porcupine.Operation{ClientId: m.client, Input: m, Call: m.call, Return: m.ret}
	}
	return ops
}

// explain searches illegal window w again, verbosely, for Visualize.
func (w window) explain(timeout time.Duration) *visual {
	m := model(w.init)
	_, info := porcupine.CheckOperationsVerbose(m, w.operations(), timeout)
	return &visual{model: m, info: info}
}
