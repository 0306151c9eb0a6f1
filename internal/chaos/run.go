package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/rmqlog/rmqlog/internal/chaos/check"
)

// RunConfig is one run: a fault class under a flush mode.
type RunConfig struct {
	Binary   string
	Dir      string // scratch directory; kept when the run fails
	Fault    Fault
	Mode     string
	Duration time.Duration // of the faults (the load runs a little longer)
	Cycle    time.Duration // one inject-heal cycle
	Seed     uint64
	Workload Workload
	Logger   *slog.Logger
	// CheckTimeout bounds the linearizability search.
	CheckTimeout time.Duration
}

// Result is what a run measured and what the checker found.
type Result struct {
	Fault, Mode                         string
	Nodes                               int
	Seed                                uint64
	Duration                            time.Duration // of the whole run
	Injections                          []string
	Ops, Appends, Acked, Unknown, Reads int
	Lost, Duplicates, Divergent         int
	NonMonotonic, UnknownEntries        int
	Other                               int // other anomalies the checker reports (see fill)
	ReadMismatch                        int // reads the final log contradicts
	// LostOutside counts lost appends acknowledged outside the window a
	// power cut of every node may lose (see lossWindow).
	LostOutside int
	// Cuts counts power cuts of every node; LostAge is the longest time
	// between a lost append's acknowledgement and the cut that lost it.
	Cuts         int
	LostAge      time.Duration
	Linearizable string // "yes", "NO", or "unknown (...)"
	Outage       time.Duration
	LostBytes    int64 // unsynced bytes power cuts zeroed
	LossAllowed  bool
	Errors       map[string]int // client errors by kind
	Report       string         // the checker's summary
	// Changes are the membership changes of the run (membership class).
	Changes []ChangeTime
	Err     string // the run could not complete
	Dir     string // where the nodes' logs are kept (failed runs)
}

// Pass reports whether the run found nothing wrong: no acknowledged entry
// lost (unless the fault's documented risk allows it), no divergence, no
// read going backwards, no entry nobody wrote, linearizable.
//
// Where a loss is the mode's documented risk (a power cut of every node
// under ASYNC_FLUSH) the reads that saw a lost entry go backwards and the
// history is not linearizable: those are the loss's consequences, measured
// and reported; the run still must keep the nodes' logs identical and hold
// only entries clients wrote.
func (r Result) Pass() bool {
	if r.Err != "" || r.Divergent > 0 || r.UnknownEntries > 0 {
		return false
	}
	if r.Other > 0 {
		return false
	}
	if r.LossAllowed {
		return r.LostOutside == 0
	}
	return r.Lost == 0 && r.NonMonotonic == 0 && r.ReadMismatch == 0 && r.Linearizable == "yes"
}

// lossWindow is how long before a power cut of every node an acknowledged
// append may be lost under ASYNC_FLUSH: the flush interval of the runs
// (200 ms) and a margin for the flusher's scheduling.
const lossWindow = 700 * time.Millisecond

// lostOutside counts the lost appends acknowledged outside every cut's
// window (a loss the mode's documented risk does not explain) and returns
// the longest time from a lost append's acknowledgement to the next cut.
func lostOutside(rep check.Report, h *history, cuts []time.Time) (int, time.Duration) {
	n := 0
	var age time.Duration
	for _, l := range rep.Lost {
		at := h.start.Add(h.ops[l.Op].Return)
		ok := false
		for _, c := range cuts {
			if !at.Before(c.Add(-lossWindow)) && !at.After(c) {
				ok = true
				age = max(age, c.Sub(at))
				break
			}
		}
		if !ok {
			n++
		}
	}
	return n, age
}

// Run starts a group, runs the workload while the fault is injected, heals,
// waits until every node holds the same committed log, reads every log and
// checks the history.
func Run(ctx context.Context, rc RunConfig) Result {
	started := time.Now()
	nodes := max(rc.Fault.Nodes, 3)
	res := Result{Fault: rc.Fault.Name, Mode: rc.Mode, Nodes: nodes, Seed: rc.Seed, Dir: rc.Dir}
	if rc.Fault.LossAllowed != nil {
		res.LossAllowed = rc.Fault.LossAllowed(rc.Mode)
	}
	if err := os.MkdirAll(rc.Dir, 0o755); err != nil {
		res.Err = err.Error()
		return res
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	c, err := Start(sctx, Config{Binary: rc.Binary, Dir: rc.Dir, Nodes: nodes, Spares: rc.Fault.Spares, Mode: rc.Mode,
		Seed: rc.Seed, Logger: rc.Logger})
	cancel()
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer func() {
		if err := c.Stop(); err != nil && res.Err == "" && res.Pass() {
			res.Err = "stopping the group: " + err.Error()
		}
		res.Duration = time.Since(started)
	}()

	// The load runs through the faults and a little after the heal, so
	// that writes resume (the outage ends) before it stops.
	lctx, stopLoad := context.WithCancel(ctx)
	type loaded struct {
		h   *history
		err error
	}
	done := make(chan loaded, 1)
	go func() {
		h, err := rc.Workload.run(lctx, c.Addrs(), rc.Seed)
		done <- loaded{h, err}
	}()
	f := &Faulter{C: c, Rng: rand.New(rand.NewPCG(rc.Seed, 0xfa17)), Cycle: rc.Cycle, start: time.Now()}
	fctx, stopFaults := context.WithTimeout(ctx, rc.Duration)
	ferr := rc.Fault.Inject(fctx, f)
	stopFaults()
	res.Injections, res.LostBytes = f.Events(), f.LostBytes
	if err := c.Heal(); err != nil && ferr == nil {
		ferr = err
	}
	hctx, cancel := context.WithTimeout(ctx, time.Minute)
	_, lerr := c.Leader(hctx)
	cancel()
	wait(ctx, 2*time.Second) // writes resume after the heal
	stopLoad()
	ld := <-done
	switch {
	case ferr != nil:
		res.Err = "injecting: " + ferr.Error()
	case ld.err != nil:
		res.Err = "load: " + ld.err.Error()
	case lerr != nil:
		res.Err = "after the heal: " + lerr.Error()
	}
	if ld.h == nil {
		return res
	}
	res.Errors = ld.h.errs
	res.Outage = outage(ld.h.ops)
	res.Changes = changeOutages(f.Changes(), ld.h.start, ld.h.ops)

	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	_, cerr := c.Converge(cctx)
	cancel()
	if cerr != nil && res.Err == "" {
		res.Err = "converging: " + cerr.Error()
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	logs := c.ReadLogs(rctx)
	cancel()
	rep := check.Check(ld.h.ops, logs, check.Options{Timeout: rc.CheckTimeout, MaxReported: 1 << 20})
	res.fill(rep)
	res.LostOutside, res.LostAge = lostOutside(rep, ld.h, f.Cuts)
	res.Cuts = len(f.Cuts)
	if res.Err == "" {
		if bad := c.Unexpected(); len(bad) > 0 {
			res.Err = "nodes exited by themselves: " + strings.Join(bad, "; ")
		}
	}
	if !res.Pass() {
		_ = os.WriteFile(filepath.Join(rc.Dir, "history.txt"), []byte(rep.String()), 0o644)
		if err := rep.Visualize(filepath.Join(rc.Dir, "linearizability.html")); err != nil && !errors.Is(err, check.ErrNothingToShow) {
			rc.Logger.Warn("chaos: visualization", "err", err)
		}
	}
	return res
}

// outage is the longest stretch between two acknowledged appends.
func outage(ops []check.Op) time.Duration {
	var ts []time.Duration
	for _, op := range ops {
		if op.Kind == check.Append && op.Outcome == check.OK {
			ts = append(ts, op.Return)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	var gap time.Duration
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i]-ts[i-1])
	}
	return gap
}

func (r *Result) fill(rep check.Report) {
	r.Ops, r.Appends, r.Acked, r.Unknown, r.Reads = rep.Ops, rep.Appends, rep.Acked, rep.UnknownOutcome, rep.Reads
	k := rep.Counts
	r.Lost, r.Duplicates, r.Divergent = k.Lost, k.Duplicates, k.Divergent
	r.NonMonotonic, r.UnknownEntries = k.NonMonotonic, k.Unknown
	// Anything else the checker flags (a failed append that was applied, a
	// read the final log contradicts, malformed operations, unreadable
	// logs) fails the run too.
	r.Other = k.Malformed + k.FailedApplied + len(rep.NodeErrors)
	r.ReadMismatch = k.ReadMismatch
	switch rep.Linearizable.Result {
	case porcupine.Ok:
		r.Linearizable = "yes"
	case porcupine.Illegal:
		r.Linearizable = "NO"
	default:
		r.Linearizable = "unknown (" + rep.Linearizable.Reason + ")"
	}
	r.Report = rep.String()
}

func (r Result) String() string {
	verdict := "PASS"
	if !r.Pass() {
		verdict = "FAIL"
	}
	s := fmt.Sprintf("%s %-16s %-11s %d nodes: %d ops, %d acked, %d unknown, %d reads; lost %d, dup %d, divergent %d, non-monotonic %d, unknown entries %d, linearizable %s, outage %v",
		verdict, r.Fault, r.Mode, r.Nodes, r.Ops, r.Acked, r.Unknown, r.Reads, r.Lost, r.Duplicates, r.Divergent,
		r.NonMonotonic, r.UnknownEntries, r.Linearizable, r.Outage.Round(time.Millisecond))
	if r.LossAllowed && r.Lost > 0 {
		s += fmt.Sprintf(" (%d of the lost outside the %v before a cut)", r.LostOutside, lossWindow)
	}
	if r.Err != "" {
		s += "; error: " + r.Err
	}
	return s
}
