// Command nats is the side-by-side benchmark of rmqlog and its peer, NATS
// JetStream with a replicated (R3) file-backed stream: both systems run
// the same loads, alternately, on this machine in one run, and the ratios
// go into a table (`make bench-peers`).
//
// Per flush mode (SYNC_FLUSH against `sync_interval: always`, ASYNC_FLUSH
// against NATS's default interval sync), each on a fresh 3-node group:
//
//  1. closed loop: --producers producers, each waiting for its ack; msgs/s;
//
//  2. open loop at a fixed rate both sustain (--rate, or half the lower of
//     the two closed-loop rates just measured); p99 from intended send times;
//
//  3. failover: kill -9 of the leader (NATS: of the stream leader) under the
//     closed-loop load, restart, outage, and the lost-entry check.
//
//     go run . --rmqlog ../../../bin/rmqlog --results ../../../results
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/bench/peers/nats/natsgroup"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is the parsed command line.
type config struct {
	rmqlog, results, serverDir string
	modes                      []string
	spec                       load.Spec
	rate                       int
	warmup                     time.Duration
	failover                   bool
	killAt, restartAt          time.Duration
	quiet                      bool
	rounds                     int
	command                    string
}

func parse(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("nats-peer-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{command: "go run ./bench/peers/nats " + strings.Join(args, " ")}
	var modes string
	fs.StringVar(&cfg.rmqlog, "rmqlog", "", "the rmqlog binary (make build puts it in bin/)")
	fs.StringVar(&cfg.results, "results", "", "root directory of the results (empty: write nothing)")
	fs.StringVar(&cfg.serverDir, "server-dir", filepath.Join(os.TempDir(), "rmqlog-peer-bin"), "where the pinned nats-server is built (kept between runs)")
	fs.StringVar(&modes, "modes", "SYNC_FLUSH,ASYNC_FLUSH", "flush modes, in order")
	fs.IntVar(&cfg.spec.Payload, "payload", 1024, "payload bytes per append")
	fs.IntVar(&cfg.spec.Producers, "producers", 64, "closed-loop producers")
	fs.DurationVar(&cfg.spec.Duration, "duration", 20*time.Second, "each run's length")
	fs.IntVar(&cfg.rate, "rate", 0, "open-loop rate per second (0: half the lower closed-loop rate of the mode, rounded down to 1000)")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "discarded load before each run")
	fs.BoolVar(&cfg.failover, "failover", true, "run the failover comparison")
	fs.DurationVar(&cfg.killAt, "kill-at", 5*time.Second, "failover: kill -9 of the leader this long into the run")
	fs.DurationVar(&cfg.restartAt, "restart-at", 10*time.Second, "failover: its restart")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no per-second lines")
	fs.IntVar(&cfg.rounds, "rounds", 1, "repeat the whole comparison this many times; the table holds medians")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.rmqlog == "" {
		return nil, errors.New("--rmqlog is required (run `make build`, or use `make bench-peers`)")
	}
	if _, err := os.Stat(cfg.rmqlog); err != nil {
		return nil, fmt.Errorf("--rmqlog: %w", err)
	}
	var err error
	if cfg.modes, err = bench.ParseModes(modes); err != nil {
		return nil, err
	}
	cfg.spec.Form = load.Closed
	if cfg.rounds < 1 {
		return nil, fmt.Errorf("--rounds %d: must be >= 1", cfg.rounds)
	}
	if cfg.failover && (cfg.killAt <= 0 || cfg.restartAt <= cfg.killAt || cfg.restartAt >= cfg.spec.Duration) {
		return nil, fmt.Errorf("failover needs 0 < --kill-at < --restart-at < --duration")
	}
	return cfg, cfg.spec.Check()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "nats-peer-bench: %v\n", err)
		return 2
	}
	results, table, err := compare(ctx, cfg, stdout)
	if len(results) > 0 {
		printTable(stdout, table)
		if werr := write(cfg, results, table, err, stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "nats-peer-bench: %v\n", err)
		return 1
	}
	return 0
}

// compare runs every comparison, rmqlog first and NATS second each time.
func compare(ctx context.Context, cfg *config, stdout io.Writer) ([]*load.Result, *report.Table, error) {
	fmt.Fprintf(stdout, "building the pinned nats-server in %s\n", cfg.serverDir)
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
	c := &comparison{rounds: cfg.rounds, rates: map[string]int{}, lost: map[string]*lostCount{}}
	for k := 1; k <= cfg.rounds; k++ {
		c.round = k
		for _, mode := range cfg.modes {
			o.Modes = []string{mode}
			if err := c.mode(ctx, systems, o, cfg); err != nil {
				return c.results, c.table(), err
			}
		}
	}
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
	// errors[mode][system] counts the appends that failed in the closed
	// and open loops, over the rounds: a failed append is in no
	// percentile, so a table without them could flatter either system.
	errors     map[string]*[2]int64
	errorModes []string
}

// countErrors adds the failed appends of result r of system i.
func (c *comparison) countErrors(mode string, i int, r *load.Result) {
	if c.errors == nil {
		c.errors = map[string]*[2]int64{}
	}
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

// measure is one compared quantity with its values in each round.
type measure struct {
	mode, what, format, goal string
	met                      func(ratio float64) bool
	rmq, nats, ratio         []float64
}

// lostCount sums the failover checks of one mode over the rounds.
type lostCount struct {
	ackedR, ackedN int64
	lostR, lostN   []uint64
	verified       bool
}

// pair runs one scenario on both systems and keeps the results.
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

func (c *comparison) mode(ctx context.Context, systems []bench.System, o bench.Options, cfg *config) error {
	mode := o.Modes[0]
	closed, err := c.pair(ctx, systems, o, bench.Default)
	if err != nil {
		return err
	}
	c.row(mode, fmt.Sprintf("closed loop, %d producers: msgs/s", cfg.spec.Producers),
		closed[0].MsgsPerSec, closed[1].MsgsPerSec, "%.0f", ">= 3", func(r float64) bool { return r >= 3 })
	rate := cfg.rate
	if rate == 0 {
		rate = c.rates[mode]
	}
	if rate == 0 {
		rate = int(min(closed[0].MsgsPerSec, closed[1].MsgsPerSec)/2) / 1000 * 1000
		rate = max(rate, 1000)
		c.rates[mode] = rate
	}
	open := o
	open.Spec.Form, open.Spec.Rate, open.Spec.Producers = load.Open, rate, 4096
	opened, err := c.pair(ctx, systems, open, bench.Default)
	if err != nil {
		return err
	}
	c.row(mode, fmt.Sprintf("open loop at %d/s: p99 (ms)", rate),
		float64(opened[0].Latency.P99)/1e3, float64(opened[1].Latency.P99)/1e3, "%.2f", "<= 0.5", func(r float64) bool { return r <= 0.5 })
	c.row(mode, fmt.Sprintf("open loop at %d/s: p50 (ms)", rate),
		float64(opened[0].Latency.P50)/1e3, float64(opened[1].Latency.P50)/1e3, "%.2f", "", nil)
	if !cfg.failover {
		return nil
	}
	fo, err := c.pair(ctx, systems, o, bench.Failover)
	if err != nil {
		return err
	}
	c.row(mode, "failover: write outage after kill -9 of the leader (ms)",
		float64(fo[0].Failover.Outage.Milliseconds()), float64(fo[1].Failover.Outage.Milliseconds()), "%.0f", "<= 0.1", func(r float64) bool { return r <= 0.1 })
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

// row records one round's value of a measure for both systems.
func (c *comparison) row(mode, what string, rmq, nats float64, format, goal string, met func(float64) bool) {
	var m *measure
	for _, x := range c.measures {
		if x.mode == mode && x.what == what {
			m = x
		}
	}
	if m == nil {
		m = &measure{mode: mode, what: what, format: format, goal: goal, met: met}
		c.measures = append(c.measures, m)
	}
	m.rmq, m.nats = append(m.rmq, rmq), append(m.nats, nats)
	if nats > 0 {
		m.ratio = append(m.ratio, rmq/nats)
	}
}

// table is the side-by-side table: per measure the medians over the
// rounds, the median ratio rmqlog / NATS and each round's ratio, the goal
// and whether the median ratio meets it; then the failover checks.
func (c *comparison) table() *report.Table {
	t := &report.Table{Title: fmt.Sprintf("rmqlog vs NATS JetStream R3, side by side (same run, same machine; medians of %d rounds)", c.rounds),
		Header: []string{"mode", "measure", "rmqlog", "NATS", "ratio", "ratio per round", "goal", "met"}}
	for _, m := range c.measures {
		ratio, per, ok := "-", "", ""
		if len(m.ratio) > 0 {
			r := report.Median(m.ratio)
			ratio = fmt.Sprintf("%.2f", r)
			if m.met != nil {
				ok = yes(m.met(r))
			}
			var ps []string
			for _, x := range m.ratio {
				ps = append(ps, fmt.Sprintf("%.2f", x))
			}
			per = strings.Join(ps, " ")
		}
		t.Rows = append(t.Rows, []string{m.mode, m.what, fmt.Sprintf(m.format, report.Median(m.rmq)),
			fmt.Sprintf(m.format, report.Median(m.nats)), ratio, per, m.goal, ok})
	}
	for _, mode := range c.errorModes {
		e := c.errors[mode]
		t.Rows = append(t.Rows, []string{mode, "appends failed in the closed and open loops (all rounds; in no percentile)",
			fmt.Sprint(e[0]), fmt.Sprint(e[1]), "", "", "", ""})
	}
	for _, mode := range c.modes {
		l := c.lost[mode]
		t.Rows = append(t.Rows, []string{mode, "failover: acknowledged / lost (all rounds)",
			fmt.Sprintf("%d / %s", l.ackedR, bench.LostString(l.lostR)), fmt.Sprintf("%d / %s", l.ackedN, bench.LostString(l.lostN)),
			"", "", "0 lost", yes(len(l.lostR) == 0 && l.verified)})
	}
	return t
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printTable(w io.Writer, t *report.Table) {
	fmt.Fprintf(w, "\n%s\n", t.Title)
	for _, r := range append([][]string{t.Header}, t.Rows...) {
		fmt.Fprintf(w, "%-12s %-58s %14s %14s %6s %-18s %7s %4s\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
	}
}

// write records the run in results/ and, if it completed, regenerates
// results/README.md (an incomplete run is written with its reason).
func write(cfg *config, results []*load.Result, t *report.Table, runErr error, stdout io.Writer) error {
	if cfg.results == "" {
		return nil
	}
	m := report.Meta{
		Title:    "rmqlog vs NATS JetStream (R3, file storage): the same loads, alternately, in one run",
		Scenario: "peers",
		Command:  cfg.command,
		Start:    results[0].Start,
		Machine:  report.ProbeMachine(),
		Notes: []string{
			"nats-server " + natsgroup.Version + " (built from the module version this module pins); rmqlog from the binary given (--rmqlog), with its default config (1 GiB segment files) unless --set says otherwise.",
			"Ratios are rmqlog / NATS of the same measure in this run. SYNC_FLUSH is compared with NATS `sync_interval: always` (fsync per write); ASYNC_FLUSH with NATS's default (interval sync).",
			"Both systems get the same load shape: one client connection shared by all producers, " + load.Size(cfg.spec.Payload) + " payloads, acks awaited the same way; NATS publishes go to one R3 file stream.",
			"Open loop: latencies count from each append's intended send time (no coordinated omission); the rate is half the lower closed-loop rate of the mode unless --rate is given.",
			"Failover: kill -9 of the leader (NATS: of the stream leader) under the closed-loop load; outage = longest gap between acks around the kill.",
		},
	}
	dir, err := report.Record(cfg.results, m, results, t, runErr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s\n", dir)
	return nil
}
