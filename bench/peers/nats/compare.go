package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rmqlog/rmqlog/bench/peers/nats/natsgroup"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

// openCap bounds the open loop's appends in flight (either system): far
// above what a rate both sustain keeps in flight, so only a stall reaches
// it, and then the late sends count from their intended times.
const openCap = 4096

// compare runs every comparison, rmqlog first and NATS second each time.
func compare(ctx context.Context, cfg *config, stdout io.Writer) ([]*load.Result, *report.Table, error) {
	fmt.Fprintf(stdout, "building the pinned nats-server %s in %s\n", natsgroup.Version, cfg.serverDir)
	natsBin, err := natsgroup.BuildServer(ctx, cfg.serverDir)
	if err != nil {
		return nil, nil, err
	}
	scratch, err := os.MkdirTemp("", "peer-bench-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if os.Remove(scratch) != nil { // a group that did not stop cleanly kept its logs
			fmt.Fprintf(stdout, "node data and logs kept in %s\n", scratch)
		}
	}()
	systems := []bench.System{bench.Rmqlog{Binary: cfg.rmqlog}, natsgroup.New(natsBin)}
	o := bench.Options{Spec: cfg.spec, Warmup: cfg.warmup, Scratch: scratch, KillAt: cfg.killAt, RestartAt: cfg.restartAt}
	if !cfg.quiet {
		o.Live = stdout
	}
	c := newComparison(cfg.rounds)
	start := time.Now()
	for k := 1; k <= cfg.rounds; k++ {
		c.round = k
		for _, mode := range cfg.modes {
			o.Modes = []string{mode}
			if err := c.mode(ctx, systems, o, cfg); err != nil {
				return c.results, c.table(), err
			}
		}
	}
	fmt.Fprintf(stdout, "comparison done in %v (estimated %v)\n", time.Since(start).Round(time.Second), roundEstimate(cfg.estimate()))
	return c.results, c.table(), nil
}

// comparison collects the results and, per measure, each round's values.
type comparison struct {
	rounds, round int
	results       []*load.Result
	measures      []*measure
	rates         map[string]int        // open-loop rate per mode, fixed in round 1
	lost          map[string]*lostCount // failover check per mode, summed over rounds
	modes         []string              // modes with a failover count, in order
	// errors[mode][system] counts the appends that failed in the measured
	// loads (every shape and the open loop), over the rounds: a failed
	// append is in no percentile, so a table without them could flatter
	// either system.
	errors     map[string]*[2]int64
	errorModes []string
}

func newComparison(rounds int) *comparison {
	return &comparison{rounds: rounds, rates: map[string]int{}, lost: map[string]*lostCount{}, errors: map[string]*[2]int64{}}
}

// countErrors adds the failed appends of result r of system i.
func (c *comparison) countErrors(mode string, i int, r *load.Result) {
	e := c.errors[mode]
	if e == nil {
		e = &[2]int64{}
		c.errors[mode] = e
		c.errorModes = append(c.errorModes, mode)
	}
	for _, n := range r.Errors {
		e[i] += n
	}
}

// lostCount sums the failover checks of one mode over the rounds.
type lostCount struct {
	ackedR, ackedN int64
	lostR, lostN   []uint64
	verified       bool
}

// pair runs one scenario on both systems, rmqlog first, and keeps the
// results.
func (c *comparison) pair(ctx context.Context, systems []bench.System, o bench.Options,
	scenario func(context.Context, bench.System, bench.Options) ([]*load.Result, error)) ([2]*load.Result, error) {
	var out [2]*load.Result
	for i, sys := range systems {
		rs, err := scenario(ctx, sys, o)
		c.results = append(c.results, rs...)
		if err != nil {
			return out, err
		}
		if len(rs) != 1 {
			return out, fmt.Errorf("%s: %d results, want 1", sys.Name(), len(rs))
		}
		if c.rounds > 1 {
			rs[0].Round, rs[0].Name = c.round, fmt.Sprintf("%s #%d", rs[0].Name, c.round)
		}
		if rs[0].Failover == nil { // a failover's retried appends are expected
			c.countErrors(o.Modes[0], i, rs[0])
		}
		out[i] = rs[0]
	}
	return out, nil
}

// mode runs one round of one mode: every shape, the open loop and the
// failover, each on both systems.
func (c *comparison) mode(ctx context.Context, systems []bench.System, o bench.Options, cfg *config) error {
	mode := o.Modes[0]
	var first [2]*load.Result
	for _, s := range cfg.shapes() {
		so := o
		so.Spec = s.spec(o.Spec)
		r, err := c.pair(ctx, systems, so, bench.Default)
		if err != nil {
			return err
		}
		c.shapeRows(mode, s, r)
		if first[0] == nil {
			first = r
		}
	}
	if cfg.open {
		if err := c.openLoop(ctx, systems, o, cfg, first); err != nil {
			return err
		}
	}
	if cfg.failover {
		return c.failover(ctx, systems, o)
	}
	return nil
}

// shapeRows records a shape's measures: msgs/s, p99, p99.9 and, where both
// results have it, the node processes' CPU time per acknowledged message.
func (c *comparison) shapeRows(mode string, s shape, r [2]*load.Result) {
	l := s.label()
	c.row(mode, l+": msgs/s", r[0].MsgsPerSec, r[1].MsgsPerSec, "%.0f", s.throughputGoal())
	c.row(mode, l+": p99 (ms)", ms(r[0].Latency.P99), ms(r[1].Latency.P99), "%.2f", atMost(0.5))
	c.row(mode, l+": p99.9 (ms)", ms(r[0].Latency.P999), ms(r[1].Latency.P999), "%.2f", atMost(0.5))
	cr, okR := cpuPerMsg(r[0])
	cn, okN := cpuPerMsg(r[1])
	if okR && okN {
		c.row(mode, l+": node CPU per msg (us)", cr, cn, "%.1f", goal{})
	}
}

// openLoop runs the open loop at --rate, or at half the lower rate of the
// two systems in first (the mode's first shape in round 1), rounded down
// to 1000 and at least 1000.
func (c *comparison) openLoop(ctx context.Context, systems []bench.System, o bench.Options, cfg *config, first [2]*load.Result) error {
	mode := o.Modes[0]
	rate := cfg.rate
	if rate == 0 {
		rate = c.rates[mode]
	}
	if rate == 0 {
		rate = openRate(first[0].MsgsPerSec, first[1].MsgsPerSec)
		c.rates[mode] = rate
	}
	open := o
	open.Spec.Form, open.Spec.Rate, open.Spec.Producers = load.Open, rate, openCap
	r, err := c.pair(ctx, systems, open, bench.Default)
	if err != nil {
		return err
	}
	c.row(mode, fmt.Sprintf("open loop at %d/s: p99 (ms)", rate), ms(r[0].Latency.P99), ms(r[1].Latency.P99), "%.2f", atMost(0.5))
	c.row(mode, fmt.Sprintf("open loop at %d/s: p50 (ms)", rate), ms(r[0].Latency.P50), ms(r[1].Latency.P50), "%.2f", goal{})
	return nil
}

// openRate is half the lower of two rates, rounded down to 1000, at least
// 1000.
func openRate(a, b float64) int {
	return max(int(min(a, b)/2)/1000*1000, 1000)
}

// failover runs the failover scenario under the closed-loop load.
func (c *comparison) failover(ctx context.Context, systems []bench.System, o bench.Options) error {
	mode := o.Modes[0]
	fo, err := c.pair(ctx, systems, o, bench.Failover)
	if err != nil {
		return err
	}
	c.row(mode, "failover: write outage after kill -9 of the leader (ms)",
		float64(fo[0].Failover.Outage.Milliseconds()), float64(fo[1].Failover.Outage.Milliseconds()), "%.0f", atMost(0.1))
	l := c.lost[mode]
	if l == nil {
		l = &lostCount{verified: true}
		c.lost[mode] = l
		c.modes = append(c.modes, mode)
	}
	l.ackedR += fo[0].Failover.Acknowledged
	l.ackedN += fo[1].Failover.Acknowledged
	l.lostR = append(l.lostR, fo[0].Failover.Lost...)
	l.lostN = append(l.lostN, fo[1].Failover.Lost...)
	l.verified = l.verified && !fo[0].Failover.Failed()
	return nil
}

// ms converts microseconds to milliseconds.
func ms(us int64) float64 { return float64(us) / 1e3 }

// cpuPerMsg is the CPU time (user + system) the node processes used per
// acknowledged append, in microseconds, and false if r has no node CPU
// (bench.measure fills it for rmqlog and NATS alike, from
// /proc/<pid>/stat before and after the load) or no append.
func cpuPerMsg(r *load.Result) (float64, bool) {
	if len(r.NodeCPU) == 0 || r.Acked == 0 {
		return 0, false
	}
	var total time.Duration
	for _, d := range r.NodeCPU {
		total += d
	}
	return float64(total.Microseconds()) / float64(r.Acked), true
}
