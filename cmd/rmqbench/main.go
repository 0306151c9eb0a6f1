// Command rmqbench is rmqlog's load generator: it starts a local group of
// three rmqlog processes (or drives one given by --target), runs a load
// through package client, prints one line per second, and at the end a
// table of throughput and HdrHistogram latency percentiles; it writes every
// run to results/local/<date>-<scenario>/ (summary.md, summary.json,
// .hgrm, PNG plots; git ignores results/local), or with --record to
// results/<date>-<scenario>/, regenerating results/README.md.
//
//	rmqbench                           # SYNC_FLUSH then ASYNC_FLUSH, 1 KiB, 64 producers, 20 s each
//	rmqbench --scenario failover       # kill -9 the leader under load, restart it, check nothing was lost
//	rmqbench --scenario membership     # replace a follower, grow to 5, remove the leader, shrink to 3 under load
//	rmqbench --scenario sweep          # 128 B/1 KiB/16 KiB x 1/16/64/256 producers x both modes
//	rmqbench --rate 20000 --producers 4096   # open loop at 20k/s (latency from the intended send time)
//	rmqbench --target 10.0.0.1:30913,10.0.0.2:30913,10.0.0.3:30913   # client ports (rmqlogClientPort)
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
	"strconv"
	"strings"
	"syscall"
	"time"

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
	scenario   string
	rounds     int
	target     []string
	modes      []string
	spec       load.Spec
	warmup     time.Duration
	killAt     time.Duration
	restartAt  time.Duration
	payloads   []int
	producers  []int
	results    string
	record     bool
	rmqlog     string
	set        map[string]string
	quiet      bool
	headline   bool
	commandArg string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "rmqbench: %v\n", err)
		return 2
	}
	if cfg.headline {
		if err := report.Headline(cfg.results); err != nil {
			fmt.Fprintf(stderr, "rmqbench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "regenerated %s\n", filepath.Join(cfg.results, "README.md"))
		return 0
	}
	results, err := runRounds(ctx, cfg, stdout)
	if len(results) > 0 {
		printTable(stdout, results)
		medians := report.MedianTable(results)
		printMedians(stdout, medians)
		if werr := write(cfg, results, medians, err, stdout); werr != nil {
			fmt.Fprintf(stderr, "rmqbench: writing results: %v\n", werr)
			if err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "rmqbench: %v\n", err)
		return 1
	}
	for _, r := range results {
		if f := r.Failover; f != nil && f.Failed() {
			fmt.Fprintf(stderr, "rmqbench: %s: the check failed: lost %s, diverged %q, verified %v\n", r.Name, bench.LostString(f.Lost), f.Diverged, f.Verified)
			return 1
		}
		if m := r.Membership; m != nil && m.Failed() {
			fmt.Fprintf(stderr, "rmqbench: %s: the check failed: lost %s, diverged %q, verified %v\n", r.Name, bench.LostString(m.Lost), m.Diverged, m.Verified)
			return 1
		}
	}
	return 0
}

// runRounds runs the scenario cfg.rounds times; with more than one round
// each result's name ends in its round (" #2").
func runRounds(ctx context.Context, cfg *config, stdout io.Writer) ([]*load.Result, error) {
	var out []*load.Result
	for k := 1; k <= cfg.rounds; k++ {
		if cfg.rounds > 1 {
			fmt.Fprintf(stdout, "=== round %d of %d\n", k, cfg.rounds)
		}
		rs, err := runScenario(ctx, cfg, stdout)
		for _, r := range rs {
			if cfg.rounds > 1 {
				r.Round, r.Name = k, fmt.Sprintf("%s #%d", r.Name, k)
			}
		}
		out = append(out, rs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// printMedians prints the medians over the rounds, if there were several.
func printMedians(w io.Writer, t *report.Table) {
	if t == nil {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", t.Title)
	for _, row := range append([][]string{t.Header}, t.Rows...) {
		fmt.Fprintf(w, "%-40s %6s %9s %15s %8s %8s %9s %9s %5s\n", row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8])
	}
}

func runScenario(ctx context.Context, cfg *config, stdout io.Writer) ([]*load.Result, error) {
	o := bench.Options{Spec: cfg.spec, Modes: cfg.modes, Warmup: cfg.warmup, KillAt: cfg.killAt, RestartAt: cfg.restartAt}
	if !cfg.quiet {
		o.Live = stdout
	}
	if len(cfg.target) > 0 {
		return bench.Remote(ctx, cfg.target, o)
	}
	scratch, err := os.MkdirTemp("", "rmqbench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		// Each group removes its own directory after a clean stop and keeps
		// it (with the node logs) otherwise; so remove scratch only if empty.
		if os.Remove(scratch) != nil {
			fmt.Fprintf(stdout, "node data and logs kept in %s\n", scratch)
		}
	}()
	o.Scratch = scratch
	sys := bench.Rmqlog{Binary: cfg.rmqlog, Set: cfg.set}
	fmt.Fprintf(stdout, "nodes: %s\n", strings.Join(sys.Props(), ", "))
	switch cfg.scenario {
	case "failover":
		return bench.Failover(ctx, sys, o)
	case "membership":
		return bench.Membership(ctx, sys, o)
	case "sweep":
		return bench.Sweep(ctx, sys, o, cfg.payloads, cfg.producers)
	default:
		return bench.Default(ctx, sys, o)
	}
}

// write records the run in results/ and regenerates results/README.md.
// write records the run in results/ and, if it completed, regenerates
// results/README.md; runErr is the run's error (an incomplete run is
// written with the reason, and never becomes the headline).
func write(cfg *config, results []*load.Result, medians *report.Table, runErr error, stdout io.Writer) error {
	if cfg.results == "" {
		return nil
	}
	m := report.Meta{
		Title:    title(cfg),
		Scenario: cfg.scenario,
		Command:  cfg.commandArg,
		Start:    results[0].Start,
		Machine:  report.ProbeMachine(),
	}
	if len(cfg.target) > 0 {
		m.Scenario = "remote"
		m.Notes = append(m.Notes, "Driven against an existing group ("+strings.Join(cfg.target, ",")+"); node CPU not measured.")
	} else {
		m.Notes = append(m.Notes, "Node properties beyond the group's layout: "+strings.Join(bench.Rmqlog{Set: cfg.set}.Props(), ", ")+".")
	}
	if cfg.spec.Form == load.Open {
		m.Notes = append(m.Notes, "Open loop: every latency counts from the append's intended send time (no coordinated omission).")
	}
	if medians != nil {
		m.Notes = append(m.Notes, fmt.Sprintf("%d rounds, each on fresh groups, the modes alternating; the medians table is the claim, single runs move by 10-20%% on this machine.", cfg.rounds))
	}
	dir, err := report.Record(cfg.results, m, results, medians, runErr)
	switch {
	case err != nil:
		return err
	case runErr != nil:
		fmt.Fprintf(stdout, "results of the incomplete run: %s (results/README.md unchanged)\n", dir)
	default:
		fmt.Fprintf(stdout, "results: %s (and %s)\n", dir, filepath.Join(cfg.results, "README.md"))
	}
	return nil
}

func title(cfg *config) string {
	switch cfg.scenario {
	case "failover":
		return "rmqbench failover: kill -9 of the leader under load"
	case "membership":
		return "rmqbench membership: replace a follower, grow to five, remove the leader, shrink to three, under load"
	case "sweep":
		return "rmqbench sweep: payload x producers x flush mode"
	}
	return "rmqbench: " + strings.Join(cfg.modes, " vs ")
}

// printTable prints the final comparison table.
func printTable(w io.Writer, results []*load.Result) {
	fmt.Fprintf(w, "\n%-44s %10s %8s %9s %9s %9s %9s %9s %9s %8s %9s\n",
		"run", "msgs/s", "MB/s", "p50", "p90", "p99", "p99.9", "p99.99", "max", "errors", "cpu-us/msg")
	for _, r := range results {
		l := r.Latency
		var errs int64
		for _, n := range r.Errors {
			errs += n
		}
		cpu := "-"
		if len(r.NodeCPU) > 0 && r.Acked > 0 {
			var total time.Duration
			for _, d := range r.NodeCPU {
				total += d
			}
			cpu = fmt.Sprintf("%.1f", float64(total.Microseconds())/float64(r.Acked))
		}
		fmt.Fprintf(w, "%-44s %10.0f %8.1f %9s %9s %9s %9s %9s %9s %8d %9s\n", r.Name, r.MsgsPerSec, r.MBPerSec,
			load.FormatUs(l.P50), load.FormatUs(l.P90), load.FormatUs(l.P99), load.FormatUs(l.P999),
			load.FormatUs(l.P9999), load.FormatUs(l.Max), errs, cpu)
	}
	for _, r := range results {
		if len(r.Errors) > 0 {
			fmt.Fprintf(w, "errors of %s: %v\n", r.Name, r.Errors)
		}
		if f := r.Failover; f != nil {
			fmt.Fprintf(w, "%s: old leader %s killed at %v, new leader %s; write outage %v; restarted at %v, caught up in %v\n",
				r.Name, f.OldLeader, f.KillAt.Round(time.Millisecond), f.NewLeader, f.Outage, f.RestartAt.Round(time.Millisecond), f.CatchUp.Round(time.Millisecond))
			fmt.Fprintf(w, "acknowledged: %d, lost: %s (duplicates: %d)\n", f.Acknowledged, bench.LostString(f.Lost), f.Duplicates)
		}
		if m := r.Membership; m != nil {
			printMembership(w, r.Name, m)
		}
	}
	if t := report.MembershipMedians(results); t != nil && len(results) > 1 {
		fmt.Fprintf(w, "\n%s:\n", t.Title)
		printAligned(w, t)
	}
	if len(results) == 2 && results[0].Spec.Mode != results[1].Spec.Mode && results[0].MsgsPerSec > 0 &&
		results[0].Failover == nil && results[0].Membership == nil {
		fmt.Fprintf(w, "%s vs %s: %.2fx msgs/s, p99 %.2fx\n", results[1].Spec.Mode, results[0].Spec.Mode,
			results[1].MsgsPerSec/results[0].MsgsPerSec, float64(results[1].Latency.P99)/float64(max(results[0].Latency.P99, 1)))
	}
}

// printMembership prints a membership run's steps, its baseline and its
// check.
func printMembership(w io.Writer, name string, m *load.Membership) {
	fmt.Fprintf(w, "\n%s: baseline (longest gap outside the steps) %v; a leader removal's target: <= %v\n",
		name, m.Baseline, m.ElectionTimeout)
	printAligned(w, report.MembershipSteps(m))
	fmt.Fprintf(w, "acknowledged: %d, lost: %s (duplicates: %d); members at the end: %s\n",
		m.Acknowledged, bench.LostString(m.Lost), m.Duplicates, strings.Join(m.Members, ", "))
}

// printAligned prints t's header and rows in columns, the first two
// (names) left-aligned and the others (numbers) right-aligned.
func printAligned(w io.Writer, t *report.Table) {
	report.WriteAligned(w, t, "  ", func(col int) bool { return col >= 2 })
}

// intList parses "1,16,64".
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
