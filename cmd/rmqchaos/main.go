// Command rmqchaos is rmqlog's fault campaign (`make chaos`): for every
// fault class and flush mode it starts a group of real rmqlog processes
// behind a fault proxy, runs writers and readers while the fault is
// injected, heals, reads every node's log back and checks the history (no
// acknowledged entry lost, no divergence, linearizable appends and leader
// reads). It writes results/reliability.md and results/reliability.json
// and exits 1 if any run failed.
//
//	rmqchaos                                   # every fault, both modes, 15 s each
//	rmqchaos --faults kill-leader,power-loss-all --modes SYNC_FLUSH --rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	faults   []chaos.Fault
	modes    []string
	duration time.Duration
	cycle    time.Duration
	rounds   int
	seed     uint64
	results  string
	rmqlog   string
	keep     bool
	verbose  bool
	work     chaos.Workload
	command  string
	include  []chaos.Section // Markdown files to add to the report
}

func parse(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("rmqchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	faults := fs.String("faults", "all", "fault classes, comma-separated, or all: "+faultNames())
	modes := fs.String("modes", "SYNC_FLUSH,ASYNC_FLUSH", "flush modes")
	var c config
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "how long each run injects faults")
	fs.DurationVar(&c.cycle, "cycle", 1500*time.Millisecond, "one inject-heal cycle")
	fs.IntVar(&c.rounds, "rounds", 1, "runs per fault and mode (different seeds)")
	fs.Uint64Var(&c.seed, "seed", 0, "seed of the first run (0: random)")
	fs.StringVar(&c.results, "results", "results", `directory for reliability.md and .json ("" = none)`)
	fs.StringVar(&c.rmqlog, "rmqlog", "", "rmqlog binary (default: next to rmqchaos, then $PATH)")
	fs.BoolVar(&c.keep, "keep", false, "keep every run's directory (failed runs are always kept)")
	fs.BoolVar(&c.verbose, "v", false, "log every injection")
	fs.IntVar(&c.work.Writers, "writers", 4, "writer clients")
	fs.IntVar(&c.work.Readers, "readers", 2, "reader clients")
	fs.DurationVar(&c.work.Interval, "interval", 2*time.Millisecond, "pause between one client's operations")
	fs.DurationVar(&c.work.OpTimeout, "op-timeout", 3*time.Second, "timeout of one operation (then its outcome is unknown)")
	fs.IntVar(&c.work.PayloadSize, "payload", 128, "payload bytes")
	fs.Func("include", "add a Markdown file to the report as a section: title=path (repeatable; make chaos adds the bad-input campaign)", func(v string) error {
		title, path, ok := strings.Cut(v, "=")
		if !ok || title == "" || path == "" {
			return fmt.Errorf("want title=path, got %q", v)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		c.include = append(c.include, chaos.Section{Title: title, Body: strings.TrimSpace(string(b))})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *faults == "all" {
		c.faults = chaos.Faults
	} else {
		for _, n := range strings.Split(*faults, ",") {
			f, ok := chaos.FaultByName(strings.TrimSpace(n))
			if !ok {
				return c, fmt.Errorf("--faults: unknown fault %q; known: %s", n, faultNames())
			}
			c.faults = append(c.faults, f)
		}
	}
	for _, m := range strings.Split(*modes, ",") {
		m = strings.TrimSpace(m)
		if m != "SYNC_FLUSH" && m != "ASYNC_FLUSH" {
			return c, fmt.Errorf("--modes: %q is not SYNC_FLUSH or ASYNC_FLUSH", m)
		}
		c.modes = append(c.modes, m)
	}
	switch {
	case c.rounds < 1:
		return c, fmt.Errorf("--rounds %d: at least 1", c.rounds)
	case c.duration < c.cycle:
		return c, fmt.Errorf("--duration %v is shorter than one --cycle %v", c.duration, c.cycle)
	case c.work.Writers < 1 || c.work.Readers < 0:
		return c, fmt.Errorf("--writers %d --readers %d: at least one writer", c.work.Writers, c.work.Readers)
	}
	if c.seed == 0 {
		c.seed = rand.Uint64() >> 1
	}
	c.command = "rmqchaos " + strings.Join(args, " ")
	return c, nil
}

func faultNames() string {
	var n []string
	for _, f := range chaos.Faults {
		n = append(n, f.Name)
	}
	return strings.Join(n, ",")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "rmqchaos:", err)
		}
		return 2
	}
	bin, err := findRmqlog(c.rmqlog)
	if err != nil {
		fmt.Fprintln(stderr, "rmqchaos:", err)
		return 2
	}
	scratch, err := os.MkdirTemp("", "rmqchaos-")
	if err != nil {
		fmt.Fprintln(stderr, "rmqchaos:", err)
		return 1
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	camp := chaos.Campaign{Command: c.command + fmt.Sprintf(" (seed %d)", c.seed), Sections: c.include}
	start := time.Now()
	seed := c.seed
	for _, f := range c.faults {
		for _, mode := range c.modes {
			for r := 0; r < c.rounds && ctx.Err() == nil; r++ {
				dir := filepath.Join(scratch, fmt.Sprintf("%s-%s-%d", f.Name, mode, r))
				res := chaos.Run(ctx, chaos.RunConfig{Binary: bin, Dir: dir, Fault: f, Mode: mode,
					Duration: c.duration, Cycle: c.cycle, Seed: seed, Workload: c.work, Logger: logger,
					CheckTimeout: time.Minute})
				seed++
				fmt.Fprintln(stdout, res.String())
				if res.Pass() && !c.keep {
					os.RemoveAll(dir)
					res.Dir = ""
				} else if !res.Pass() {
					fmt.Fprintf(stdout, "  kept %s\n%s\n", dir, indent(res.Report))
				}
				camp.Results = append(camp.Results, res)
			}
		}
	}
	camp.Took = time.Since(start)
	// The commit of the code that ran: changes under the results directory
	// (make chaos writes results/hostile.md before this) are outputs, not
	// code, and do not make it "+dirty".
	repo := c.results
	if repo == "" {
		repo = "."
	}
	camp.Meta(repo)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "rmqchaos: interrupted; results not written")
		return 1
	}
	if c.results != "" {
		if err := camp.Write(c.results); err != nil {
			fmt.Fprintln(stderr, "rmqchaos:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(c.results, "reliability.md"))
	}
	if n := camp.Failed(); n > 0 {
		fmt.Fprintf(stdout, "%d of %d runs FAILED\n", n, len(camp.Results))
		return 1
	}
	fmt.Fprintf(stdout, "all %d runs passed in %v\n", len(camp.Results), camp.Took.Round(time.Second))
	return 0
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

// findRmqlog returns the rmqlog binary: the flag, next to this program,
// or on $PATH.
func findRmqlog(flagPath string) (string, error) {
	if flagPath != "" {
		if _, err := os.Stat(flagPath); err != nil {
			return "", fmt.Errorf("--rmqlog: %w", err)
		}
		return flagPath, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "rmqlog")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("rmqlog"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no rmqlog binary next to rmqchaos or on $PATH; run `make build` or pass --rmqlog")
}
