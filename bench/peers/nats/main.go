// Command nats is the side-by-side benchmark of rmqlog and its peer, NATS
// JetStream with a replicated (R3) file-backed stream: both systems run
// the same loads, alternately, on this machine in one run, and the ratios
// go into a table (`make bench-peers`).
//
// Per flush mode (SYNC_FLUSH against `sync_interval: always`, ASYNC_FLUSH
// against NATS's default interval sync), each run on a fresh 3-node group,
// rmqlog first and NATS second:
//
//  1. the client shapes (shape.go): the closed loop of --producers
//     producers each waiting for its ack (rmqlog Append / NATS synchronous
//     publish), then per --windows count W the pipelined shape, W appends
//     in flight (rmqlog AppendAsync / NATS PublishAsync with W pending
//     acks); msgs/s, p99, p99.9 and node CPU per message;
//
//  2. open loop at a fixed rate both sustain (--rate, or half the lower of
//     the two systems' rates in the mode's first shape); p99 from intended
//     send times;
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

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
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
	spec                       load.Spec // the closed loop's; shapes change Form and Producers
	closed                     bool      // run the closed-loop shape
	windows                    []int     // in-flight counts of the pipelined shape
	open                       bool      // run the open loop
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
	var modes, windows string
	fs.StringVar(&cfg.rmqlog, "rmqlog", "", "the rmqlog binary (make build puts it in bin/)")
	fs.StringVar(&cfg.results, "results", "", "root directory of the results (empty: write nothing)")
	fs.StringVar(&cfg.serverDir, "server-dir", filepath.Join(os.TempDir(), "rmqlog-peer-bin"), "where the pinned nats-server is built (kept between runs)")
	fs.StringVar(&modes, "modes", "SYNC_FLUSH,ASYNC_FLUSH", "flush modes, in order")
	fs.IntVar(&cfg.spec.Payload, "payload", 1024, "payload bytes per append")
	fs.BoolVar(&cfg.closed, "closed", true, "run the closed-loop shape: --producers producers, each waiting for its ack (NATS: a synchronous publish)")
	fs.IntVar(&cfg.spec.Producers, "producers", 64, "closed-loop producers (also the failover's load)")
	fs.StringVar(&windows, "windows", "256,1024", "pipelined shape: appends in flight, one run per count, comma-separated (NATS: PublishAsync with that many acks pending); empty: none")
	fs.BoolVar(&cfg.open, "open", true, "run the open-loop p99 comparison")
	fs.DurationVar(&cfg.spec.Duration, "duration", 60*time.Second, "each run's length")
	fs.IntVar(&cfg.rate, "rate", 0, "open-loop rate per second (0: half the lower rate of the two systems in the mode's first shape, rounded down to 1000)")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "discarded load before each run")
	fs.BoolVar(&cfg.failover, "failover", true, "run the failover comparison")
	fs.DurationVar(&cfg.killAt, "kill-at", 5*time.Second, "failover: kill -9 of the leader this long into the run")
	fs.DurationVar(&cfg.restartAt, "restart-at", 10*time.Second, "failover: its restart")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no per-second lines")
	fs.IntVar(&cfg.rounds, "rounds", 1, "repeat the whole comparison this many times; the table holds medians")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only)", fs.Args())
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
	if cfg.windows, err = parseWindows(windows); err != nil {
		return nil, err
	}
	cfg.spec.Form = load.Closed
	return cfg, cfg.check()
}

// check returns an error naming the first flag that cannot run.
func (cfg *config) check() error {
	switch {
	case cfg.rounds < 1:
		return fmt.Errorf("--rounds %d: must be >= 1", cfg.rounds)
	case cfg.rate < 0:
		return fmt.Errorf("--rate %d: must be >= 0", cfg.rate)
	case len(cfg.shapes()) == 0 && !cfg.open && !cfg.failover:
		return errors.New("nothing to run: --closed=false, --windows empty, --open=false and --failover=false")
	case len(cfg.shapes()) == 0 && cfg.open && cfg.rate == 0:
		return errors.New("the open loop's rate comes from the first shape measured: give --rate, or --closed or --windows")
	case cfg.failover && (cfg.killAt <= 0 || cfg.restartAt <= cfg.killAt || cfg.restartAt >= cfg.spec.Duration):
		return errors.New("failover needs 0 < --kill-at < --restart-at < --duration")
	}
	return cfg.spec.Check()
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
	fmt.Fprintln(stdout, cfg.plan())
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

// What a run costs beyond its warm-up and load, on the development machine
// (2 shared cores), for the estimate: starting a group (processes up, a
// leader, NATS's stream current), then stopping it, deleting its data and
// the sync before the next; and a failover's check of every acknowledged
// append on every node (60 s of closed-loop load: about a million
// messages, 12 to 20 s for NATS, README.md).
const (
	groupOverhead = 10 * time.Second
	failoverCheck = 20 * time.Second
)

// runsPerMode is how many runs each system makes per mode and round.
func (cfg *config) runsPerMode() int {
	n := len(cfg.shapes())
	if cfg.open {
		n++
	}
	if cfg.failover {
		n++
	}
	return n
}

// estimate is how long the whole comparison takes: every run's warm-up
// and load, groupOverhead per run and failoverCheck per failover run.
func (cfg *config) estimate() time.Duration {
	per := time.Duration(cfg.runsPerMode()) * (cfg.warmup + cfg.spec.Duration + groupOverhead)
	if cfg.failover {
		per += failoverCheck
	}
	return per * time.Duration(2*len(cfg.modes)*cfg.rounds)
}

// plan is the line printed at the start: what runs and how long it takes.
func (cfg *config) plan() string {
	var names []string
	for _, s := range cfg.shapes() {
		names = append(names, s.label())
	}
	if cfg.open {
		names = append(names, "open loop")
	}
	if cfg.failover {
		names = append(names, "failover")
	}
	return fmt.Sprintf("plan: %d round(s) x %d mode(s) x 2 systems x %d runs (%s), each %v warm-up + %v load, on a fresh group;\n"+
		"estimated total about %v (%v per run to start and stop a group, %v per failover check; see --windows, --closed, --open, --failover, --duration, --rounds)",
		cfg.rounds, len(cfg.modes), cfg.runsPerMode(), strings.Join(names, "; "), cfg.warmup, cfg.spec.Duration,
		roundEstimate(cfg.estimate()), groupOverhead, failoverCheck)
}

// roundEstimate rounds d to minutes from ten minutes on, to seconds below.
func roundEstimate(d time.Duration) time.Duration {
	if d >= 10*time.Minute {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}
