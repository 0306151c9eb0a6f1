package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"image/png"

	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

var rmqlogBin string // built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rmqbench-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rmqlogBin = filepath.Join(dir, "rmqlog")
	if out, err := exec.Command("go", "build", "-o", rmqlogBin, "../rmqlog").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rmqlog: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// rmqbench runs rmqbench in-process with args and returns its exit status
// and output.
func rmqbench(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	// Small segments: the tests' logs are a few MiB, and each node
	// zero-fills a whole file at start (1 GiB by default).
	code := run(ctx, append([]string{"--rmqlog", rmqlogBin, "--set", "mappedFileSizeCommitLog=8388608"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestSmoke is a short real run: local groups of three rmqlog processes,
// both flush modes, two rounds, a tiny load; the files it writes parse and
// their counts add up.
func TestSmoke(t *testing.T) {
	root := t.TempDir()
	code, out, errs := rmqbench(t, "--duration", "1s", "--warmup", "200ms", "--producers", "4", "--payload", "128",
		"--rounds", "2", "--results", root)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"msg/s", "rmqlog SYNC_FLUSH 128B closed-4 #1", "rmqlog ASYNC_FLUSH 128B closed-4 #2", "Medians over the rounds"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "*-default"))
	if len(dirs) != 1 {
		t.Fatalf("result directories %v, want one *-default", dirs)
	}
	m, results, medians, err := report.Load(filepath.Join(dirs[0], "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Scenario != "default" || !strings.Contains(m.Command, "--payload 128") || m.Machine.Cores < 1 {
		t.Errorf("meta %+v", m)
	}
	if len(results) != 4 || medians == nil || len(medians.Rows) != 2 || medians.Rows[0][1] != "2" {
		t.Fatalf("%d results (want 4), medians %+v (want 2 rows of 2 rounds)", len(results), medians)
	}
	for _, r := range results {
		checkResult(t, dirs[0], r)
	}
	if _, err := os.Stat(filepath.Join(root, "README.md")); err != nil {
		t.Error("results/README.md not written:", err)
	}
	for _, name := range []string{"latency.png", "throughput.png", "summary.md"} {
		checkFile(t, filepath.Join(dirs[0], name))
	}
}

// checkResult checks that one result's counts add up and that its .hgrm
// holds as many latencies as it acknowledged.
func checkResult(t *testing.T, dir string, r *load.Result) {
	t.Helper()
	var errs, secAcked int64
	for _, n := range r.Errors {
		errs += n
	}
	for _, s := range r.Seconds {
		secAcked += s.Acked
	}
	if r.Acked == 0 || r.Acked+errs != r.Sent || secAcked != r.Acked || r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 {
		t.Errorf("%s: sent %d, acked %d, errors %d, per-second acked %d, latency %+v", r.Name, r.Sent, r.Acked, errs, secAcked, r.Latency)
	}
	if len(r.NodeCPU) != 3 {
		t.Errorf("%s: node CPU of %d nodes, want 3", r.Name, len(r.NodeCPU))
	}
	if got := hgrmTotal(t, filepath.Join(dir, report.Slug(r.Name)+".hgrm")); got != r.Acked {
		t.Errorf("%s: .hgrm total count %d, acked %d", r.Name, got, r.Acked)
	}
}

// hgrmTotal returns the total count on the last value line of an .hgrm.
func hgrmTotal(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 3 && !strings.HasPrefix(fs[0], "#") {
			if n, err := strconv.ParseInt(fs[2], 10, 64); err == nil {
				total = n
			}
		}
	}
	return total
}

func checkFile(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		t.Errorf("%s: %v", path, err)
		return
	}
	if strings.HasSuffix(path, ".png") {
		f, _ := os.Open(path)
		defer f.Close()
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// TestFailoverSmoke kills the leader under a small load, restarts it, and
// requires the check to find every acknowledged append on every node.
func TestFailoverSmoke(t *testing.T) {
	root := t.TempDir()
	code, out, errs := rmqbench(t, "--scenario", "failover", "--modes", "SYNC_FLUSH", "--duration", "4s", "--kill-at", "1s",
		"--restart-at", "2s", "--warmup", "0s", "--producers", "8", "--payload", "256", "--results", root,
		"--set", "raftElectionTimeoutMs=600")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, ", lost: 0") {
		t.Fatalf("no 'lost: 0' in:\n%s", out)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "*-failover"))
	if len(dirs) != 1 {
		t.Fatalf("result directories %v", dirs)
	}
	_, results, _, err := report.Load(filepath.Join(dirs[0], "summary.json"))
	if err != nil || len(results) != 1 || results[0].Failover == nil {
		t.Fatalf("results %v, %v", results, err)
	}
	f := results[0].Failover
	if !f.Verified || len(f.Lost) != 0 || f.OldLeader == "" || f.NewLeader == "" || f.NewLeader == f.OldLeader ||
		f.Outage <= 0 || f.Outage > 30*time.Second || f.CatchUp <= 0 || f.Acknowledged != results[0].Acked {
		t.Fatalf("failover %+v", f)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "soak"}, "allowed default, failover, membership, sweep"},
		{[]string{"--modes", "FAST"}, "allowed SYNC_FLUSH, ASYNC_FLUSH"},
		{[]string{"--form", "open"}, "rate"},
		{[]string{"--producers", "0"}, "producers"},
		{[]string{"--target", "127.0.0.1:1", "--scenario", "failover"}, "default scenario only"},
		{[]string{"--scenario", "failover", "--kill-at", "5s", "--restart-at", "3s"}, "--kill-at"},
		{[]string{"--scenario", "sweep", "--payloads", "1,x"}, "--payloads"},
		{[]string{"--set", "novalue"}, "key=value"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--rounds", "0"}, "--rounds"},
		{[]string{"--rate", "100", "--form", "closed"}, "open form"},
		{[]string{"--scenario", "failover", "--count", "3000"}, "not a --count"},
		{[]string{"--scenario", "failover", "--payload", "4"}, "--payload >= 8"},
		{[]string{"--scenario", "membership", "--count", "3000"}, "not a --count"},
		{[]string{"--scenario", "membership", "--payload", "4"}, "--payload >= 8"},
		{[]string{"--target", "127.0.0.1:1", "--scenario", "membership"}, "default scenario only"},
	} {
		code, _, errs := rmqbench(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
	if code, out, _ := rmqbench(t, "--help"); code != 0 && !strings.Contains(out, "usage") {
		t.Errorf("--help: exit %d", code)
	}
}

// Each scenario's duration and warm-up apply unless given.
func TestScenarioDefaults(t *testing.T) {
	for _, c := range []struct {
		args             []string
		duration, warmup time.Duration
	}{
		{nil, 20 * time.Second, 3 * time.Second},
		{[]string{"--scenario", "failover"}, 20 * time.Second, 2 * time.Second},
		{[]string{"--scenario", "membership"}, 60 * time.Second, 2 * time.Second},
		{[]string{"--scenario", "membership", "--duration", "90s", "--warmup", "0s"}, 90 * time.Second, 0},
		{[]string{"--scenario", "sweep"}, 5 * time.Second, time.Second},
	} {
		var out, errb bytes.Buffer
		cfg, err := parse(append([]string{"--rmqlog", rmqlogBin}, c.args...), &out, &errb)
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		if cfg.spec.Duration != c.duration || cfg.warmup != c.warmup {
			t.Errorf("%v: duration %v, warm-up %v; want %v, %v", c.args, cfg.spec.Duration, cfg.warmup, c.duration, c.warmup)
		}
	}
}

// TestHelpToStdout (issue 13): --help goes to stdout (| less shows it),
// the warm-up's default reads as the scenario's, and the default results
// directory is one git ignores.
func TestHelpToStdout(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	for _, w := range []string{"-warmup", "results/local", "-record"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("usage lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), "-1ns") {
		t.Errorf("usage shows a default of -1ns:\n%s", out.String())
	}
}
