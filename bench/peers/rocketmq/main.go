// Command rocketmq is the broker benchmark (`make bench-broker`): rmqlog's
// RocketMQ-compatible broker driven by the official RocketMQ Go client
// (github.com/apache/rocketmq-client-go/v2), side by side in one run with
// rmqbench's native closed-loop load of the same shape.
//
// Per flush mode, each on fresh processes with the user's defaults (1 GiB
// segment files):
//
//  1. native: three `rmqlog serve` nodes (broker off), --producers closed-loop
//     producers appending --payload bytes through package client (rmqbench's
//     headline load, internal/bench.Default);
//
//  2. broker: `rmqlog namesrv` and three `rmqlog serve` nodes (broker on),
//     one topic of --queues queues; --producers goroutines calling SendSync
//     on one DefaultProducer, each waiting for its answer; a push consumer
//     (clustering) stamps the end-to-end latency of every message, from the
//     send time written into its body to the consumer's callback.
//
// The table gives broker vs native msgs/s (the goal: >= 0.7x) and the
// latency percentiles. It lives in a module of its own so that the main
// module never depends on the RocketMQ client.
//
//	go run . --rmqlog ../../../bin/rmqlog --results ../../../results/local
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"

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
	rmqlog, results string
	modes           []string
	spec            load.Spec
	warmup, drain   time.Duration
	queues, rounds  int
	quiet           bool
	set             map[string]string
	notes           notes
	command         string
}

// notes collects repeated --note flags.
type notes []string

func (n *notes) String() string     { return strings.Join(*n, "; ") }
func (n *notes) Set(v string) error { *n = append(*n, v); return nil }

// sets collects repeated --set key=value flags.
type sets map[string]string

func (s sets) String() string { return fmt.Sprint(map[string]string(s)) }
func (s sets) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q: want key=value", v)
	}
	s[strings.TrimSpace(k)] = strings.TrimSpace(val)
	return nil
}

func parse(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("broker-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{set: sets{}, command: "go run ./bench/peers/rocketmq " + strings.Join(args, " ")}
	var modes string
	fs.StringVar(&cfg.rmqlog, "rmqlog", "", "the rmqlog binary (make build puts it in bin/)")
	fs.StringVar(&cfg.results, "results", "", "root directory of the results (empty: write nothing)")
	fs.StringVar(&modes, "modes", "SYNC_FLUSH,ASYNC_FLUSH", "flush modes, in order")
	fs.IntVar(&cfg.spec.Payload, "payload", 1024, "body bytes per message (>= 16: id and send time)")
	fs.IntVar(&cfg.spec.Producers, "producers", 64, "closed-loop producers (SendSync goroutines; native: appenders)")
	fs.DurationVar(&cfg.spec.Duration, "duration", 20*time.Second, "each measured run's length")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "discarded load before each run")
	fs.DurationVar(&cfg.drain, "drain", 10*time.Second, "broker: how long to wait after the run for the consumer to receive every acknowledged message")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds: each runs native then broker per mode; the table gives medians")
	fs.IntVar(&cfg.queues, "queues", 4, "broker: the topic's queues (RocketMQ's defaultTopicQueueNums is 4)")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no per-second lines")
	fs.Var(sets(cfg.set), "set", "key=value: a property for every node's config (repeatable)")
	fs.Var(&cfg.notes, "note", "a line for the summary's notes, e.g. what else ran on the machine (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.rmqlog == "" {
		return nil, errors.New("--rmqlog is required (run `make build`, or use `make bench-broker`)")
	}
	if _, err := os.Stat(cfg.rmqlog); err != nil {
		return nil, fmt.Errorf("--rmqlog: %w", err)
	}
	var err error
	if cfg.modes, err = bench.ParseModes(modes); err != nil {
		return nil, err
	}
	if cfg.spec.Payload < stampAt+8 {
		return nil, fmt.Errorf("--payload %d: at least %d (the body carries its id and send time)", cfg.spec.Payload, stampAt+8)
	}
	if cfg.rounds < 1 {
		return nil, fmt.Errorf("--rounds %d: at least 1", cfg.rounds)
	}
	if cfg.queues < 1 {
		return nil, fmt.Errorf("--queues %d: at least 1", cfg.queues)
	}
	cfg.spec.Form, cfg.spec.OpTimeout = load.Closed, load.DefaultOpTimeout
	return cfg, cfg.spec.Check()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "broker-bench: %v\n", err)
		return 2
	}
	rlog.SetLogLevel("error")
	results, err := compare(ctx, cfg, stdout)
	if len(results) > 0 {
		t := table(results)
		printTable(stdout, results, t)
		if werr := write(cfg, results, t, err, stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "broker-bench: %v\n", err)
		return 1
	}
	return 0
}

// compare runs, per mode, the native load and then the broker load.
func compare(ctx context.Context, cfg *config, stdout io.Writer) ([]*load.Result, error) {
	scratch, err := os.MkdirTemp("", "broker-bench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if os.Remove(scratch) != nil {
			fmt.Fprintf(stdout, "node data and logs kept in %s\n", scratch)
		}
	}()
	o := bench.Options{Spec: cfg.spec, Warmup: cfg.warmup, Scratch: scratch}
	if !cfg.quiet {
		o.Live = &lockedWriter{w: stdout}
	}
	var out []*load.Result
	add := func(k int, rs []*load.Result) {
		for _, r := range rs {
			if cfg.rounds > 1 {
				r.Round, r.Name = k, fmt.Sprintf("%s #%d", r.Name, k)
			}
		}
		out = append(out, rs...)
	}
	for k := 1; k <= cfg.rounds; k++ {
		if cfg.rounds > 1 {
			fmt.Fprintf(stdout, "=== round %d of %d\n", k, cfg.rounds)
		}
		for _, mode := range cfg.modes {
			o.Modes = []string{mode}
			rs, err := bench.Default(ctx, bench.Rmqlog{Binary: cfg.rmqlog, Set: cfg.set}, o)
			add(k, rs)
			if err != nil {
				return out, err
			}
			rs, err = brokerRun(ctx, cfg, mode, o)
			add(k, rs)
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}
