package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
)

// sets collects repeated --set key=value flags.
type sets map[string]string

func (s sets) String() string { return fmt.Sprint(map[string]string(s)) }
func (s sets) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q: want key=value (a property of the nodes' config)", v)
	}
	s[strings.TrimSpace(k)] = strings.TrimSpace(val)
	return nil
}

// scenario defaults: duration and warm-up unless given.
var scenarioDefaults = map[string]struct{ duration, warmup time.Duration }{
	"default":  {20 * time.Second, 3 * time.Second},
	"failover": {20 * time.Second, 2 * time.Second},
	// membership: fifteen steps, 1.5 s of load before each, and three new
	// nodes that each zero-fill a 1 GiB segment and copy the log.
	"membership": {60 * time.Second, 2 * time.Second},
	"sweep":      {5 * time.Second, time.Second},
}

func parse(args []string, stdout, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("rmqbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout) // asked for: readable with | less
		}
	}
	cfg := &config{set: sets{}, commandArg: strings.Join(append([]string{"rmqbench"}, args...), " ")}
	var target, modes, form, payloads, producers string
	fs.StringVar(&cfg.scenario, "scenario", "default", "default, failover, membership or sweep")
	fs.IntVar(&cfg.rounds, "rounds", 1, "run the scenario this many times (fresh groups each time) and add the medians")
	fs.StringVar(&target, "target", "", "client addresses of a running group (host:port,...): drive it instead of starting one")
	fs.StringVar(&modes, "modes", "SYNC_FLUSH,ASYNC_FLUSH", "flush modes to run, in order")
	fs.IntVar(&cfg.spec.Payload, "payload", 1024, "payload bytes per append")
	fs.IntVar(&cfg.spec.Producers, "producers", 64, "closed: concurrent producers; pipelined: appends in flight; open: cap on appends in flight")
	fs.StringVar(&form, "form", "closed", "closed (each producer waits for its ack), pipelined (AppendAsync, --producers in flight) or open (needs --rate)")
	fs.IntVar(&cfg.spec.Rate, "rate", 0, "open loop: appends per second, sent on schedule whatever the answers (implies --form open)")
	fs.DurationVar(&cfg.spec.Duration, "duration", 0, "how long each run sends (default 20s; membership 60s, sweep 5s per point)")
	fs.IntVar(&cfg.spec.Count, "count", 0, "send exactly this many appends per run instead of --duration")
	fs.DurationVar(&cfg.spec.OpTimeout, "op-timeout", load.DefaultOpTimeout, "bound on one append, its retries included")
	fs.DurationVar(&cfg.warmup, "warmup", 0, "a discarded load of the same shape before each run (if not given: 3s; failover and membership 2s, sweep 1s)")
	fs.DurationVar(&cfg.killAt, "kill-at", 5*time.Second, "failover: kill -9 the leader this long into the run")
	fs.DurationVar(&cfg.restartAt, "restart-at", 10*time.Second, "failover: restart it this long into the run")
	fs.StringVar(&payloads, "payloads", "128,1024,16384", "sweep: payload sizes")
	fs.StringVar(&producers, "producer-counts", "1,16,64,256", "sweep: producer counts")
	fs.StringVar(&cfg.results, "results", "results/local", "root directory of the results (empty: write nothing); git ignores the default")
	fs.BoolVar(&cfg.record, "record", false, "record the run in results/ (committed) and regenerate results/README.md: the same as --results results")
	fs.StringVar(&cfg.rmqlog, "rmqlog", "", "the rmqlog binary (default: next to rmqbench, else on $PATH)")
	fs.Var(sets(cfg.set), "set", "key=value: a property for every node's config (repeatable)")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no per-second lines")
	fs.BoolVar(&cfg.headline, "headline", false, "only regenerate <results>/README.md from the runs in <results> (e.g. after deleting some) and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rmqbench [flags]\n\nStarts a local 3-node rmqlog group on 127.0.0.1 (or drives --target), runs a load, prints\nlatency percentiles and throughput, and writes results/local/<date>-<scenario>/ (--record: results/).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.headline {
		return cfg, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	return cfg, cfg.finish(fs, target, modes, form, payloads, producers)
}

// finish checks the flags against each other and fills the defaults.
func (cfg *config) finish(fs *flag.FlagSet, target, modes, form, payloads, producers string) error {
	d, ok := scenarioDefaults[cfg.scenario]
	if !ok {
		return fmt.Errorf("--scenario %q: allowed default, failover, membership, sweep", cfg.scenario)
	}
	if cfg.rounds < 1 {
		return fmt.Errorf("--rounds %d: must be >= 1", cfg.rounds)
	}
	if cfg.spec.Duration == 0 && cfg.spec.Count == 0 {
		cfg.spec.Duration = d.duration
	}
	if !set(fs, "warmup") {
		cfg.warmup = d.warmup
	}
	if cfg.record {
		if set(fs, "results") && cfg.results != "results" {
			return fmt.Errorf("--record writes to results/; --results %q says elsewhere", cfg.results)
		}
		cfg.results = "results"
	}
	cfg.spec.Form = load.Form(form)
	if cfg.spec.Rate > 0 {
		if set(fs, "form") && form != string(load.Open) {
			return fmt.Errorf("--rate %d sends on a schedule (the open form); --form %s cannot have one", cfg.spec.Rate, form)
		}
		cfg.spec.Form = load.Open
		if !set(fs, "producers") {
			cfg.spec.Producers = 4096
		}
	}
	var err error
	if cfg.modes, err = bench.ParseModes(modes); err != nil {
		return err
	}
	if err := cfg.spec.Check(); err != nil {
		return err
	}
	if cfg.payloads, err = intList(payloads); err != nil {
		return fmt.Errorf("--payloads %v", err)
	}
	if cfg.producers, err = intList(producers); err != nil {
		return fmt.Errorf("--producer-counts %v", err)
	}
	if target != "" {
		if cfg.scenario != "default" {
			return fmt.Errorf("--target drives an existing group with the default scenario only (it cannot kill or restart nodes); have --scenario %s", cfg.scenario)
		}
		cfg.target = strings.Split(target, ",")
		return nil
	}
	if err := cfg.checkFaults(); err != nil {
		return err
	}
	return cfg.findRmqlog()
}

// checkFaults checks the flags of the scenarios that change the group
// under the load (failover, membership): they run for a --duration, and
// each append carries its id for the lost-entry check.
func (cfg *config) checkFaults() error {
	s := cfg.scenario
	if s != "failover" && s != "membership" {
		return nil
	}
	switch {
	case cfg.spec.Count > 0:
		return fmt.Errorf("--scenario %s runs for a --duration (its steps are timed), not a --count", s)
	case s == "failover" && (cfg.killAt <= 0 || cfg.restartAt <= cfg.killAt || cfg.restartAt >= cfg.spec.Duration):
		return fmt.Errorf("failover needs 0 < --kill-at (%v) < --restart-at (%v) < --duration (%v)", cfg.killAt, cfg.restartAt, cfg.spec.Duration)
	case cfg.spec.Payload < load.IDBytes:
		return fmt.Errorf("--scenario %s needs --payload >= %d: each append carries its id there for the lost-entry check", s, load.IDBytes)
	}
	return nil
}

func set(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// findRmqlog resolves the rmqlog binary: --rmqlog, else next to this
// executable (make build puts both in bin/), else $PATH.
func (cfg *config) findRmqlog() error {
	if cfg.rmqlog != "" {
		if _, err := os.Stat(cfg.rmqlog); err != nil {
			return fmt.Errorf("--rmqlog: %w", err)
		}
		return nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "rmqlog")
		if _, err := os.Stat(p); err == nil {
			cfg.rmqlog = p
			return nil
		}
	}
	p, err := exec.LookPath("rmqlog")
	if err != nil {
		return fmt.Errorf("no rmqlog binary next to rmqbench or on $PATH: run `make build` (it puts both in bin/) or pass --rmqlog")
	}
	cfg.rmqlog = p
	return nil
}
