package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

var rmqlogBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rmqchaos-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rmqlogBin = filepath.Join(dir, "rmqlog")
	if out, err := exec.Command("go", "build", "-o", rmqlogBin, "../../cmd/rmqlog").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rmqlog: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestCampaignShort is the short form of `make chaos` that `make test`
// runs: one short run per fault class, alternating the flush modes, on
// real processes. Every run must pass the checker.
func TestCampaignShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real node groups")
	}
	modes := []string{"SYNC_FLUSH", "ASYNC_FLUSH"}
	work := Workload{Writers: 2, Readers: 1, Interval: 3 * time.Millisecond, OpTimeout: 3 * time.Second, PayloadSize: 64}
	for i, f := range Faults {
		mode := modes[i%2]
		switch {
		case f.ShortMode != "":
			mode = f.ShortMode
		case f.LossAllowed != nil:
			mode = "SYNC_FLUSH" // the mode that must lose nothing
		}
		t.Run(f.Name+"/"+mode, func(t *testing.T) {
			dir := t.TempDir()
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			if os.Getenv("RMQLOG_TEST_LOG") != "" {
				logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			}
			res := Run(context.Background(), RunConfig{Binary: rmqlogBin, Dir: dir, Fault: f, Mode: mode,
				Duration: 4 * time.Second, Cycle: time.Second, Seed: uint64(i + 1), Workload: work,
				Logger: logger, CheckTimeout: 30 * time.Second})
			t.Log(res.String())
			for _, e := range res.Injections {
				t.Log("  ", e)
			}
			for _, ch := range res.Changes {
				t.Logf("   change %s: took %v, write outage %v", ch.What, ch.Took.Round(time.Millisecond), ch.Outage.Round(time.Millisecond))
			}
			if !res.Pass() {
				keep(t, dir)
				t.Fatalf("%s\n%s", res.String(), res.Report)
			}
			if res.Acked == 0 {
				t.Fatalf("no append was acknowledged: %s", res.String())
			}
			// The fault must have taken effect, not only been attempted.
			if want, ok := evidence[f.Name]; ok && !slices.ContainsFunc(res.Injections, func(e string) bool { return want.MatchString(e) }) {
				t.Fatalf("%s: no injection shows the fault took effect (want %q)", f.Name, want)
			}
		})
	}
}

// evidence is what a fault's injection log must show at least once.
var evidence = map[string]*regexp.Regexp{
	"damage-minority":    regexp.MustCompile(`damage detected at start: true`),
	"disk-full":          regexp.MustCompile(`: [1-9][0-9]* log lines about the full disk`),
	"power-loss-all":     regexp.MustCompile(`power loss of every node: [1-9][0-9]* unsynced bytes lost`),
	"wipe-follower":      regexp.MustCompile(`census at start: true`),
	"power-loss-lagging": regexp.MustCompile(`power cut of leader \S+: [1-9][0-9]* unsynced bytes lost`),
	"membership":         regexp.MustCompile(`remove n[0-9]+.*: done in`),
}

// keep copies a failed run's node logs next to the test's output.
func keep(t *testing.T, dir string) {
	out := filepath.Join(os.TempDir(), "rmqchaos-failed-"+filepath.Base(t.Name()))
	_ = os.RemoveAll(out)
	if err := os.CopyFS(out, os.DirFS(dir)); err == nil {
		t.Logf("node logs kept in %s", out)
	}
}
