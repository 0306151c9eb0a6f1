package report_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

// writeRun writes a small run of scenario started at start into root and
// returns its directory's base name.
func writeRun(t *testing.T, root, scenario string, start time.Time, extra *report.Table) string {
	t.Helper()
	m := testMeta(scenario, start)
	m.Title = "title of " + scenario + " at " + start.Format(time.TimeOnly)
	r := synth("rmqlog "+scenario, "SYNC_FLUSH", 1024, 1000, 500, 2, uint64(start.Unix()))
	if scenario == "failover" {
		withFailover(r, []uint64{7})
	}
	dir := report.Dir(root, m)
	if err := report.Write(dir, m, []*load.Result{r}, extra); err != nil {
		t.Fatal(err)
	}
	return filepath.Base(dir)
}

func TestHeadline(t *testing.T) {
	root := t.TempDir()
	parts := map[string]string{"storage.md": "# Storage benchmarks (segment, flush)\n\nbody\n", "storage-bench.txt": "BenchmarkAppend 1 2 ns/op\n"}
	for name, body := range parts {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	older := writeRun(t, root, "default", t0, nil)
	newer := writeRun(t, root, "default", t0.Add(time.Hour), nil)
	writeRun(t, root, "smoke", t0, nil)
	writeRun(t, root, "failover", t0, nil)
	peers := writeRun(t, root, "peers", t0, &report.Table{Title: "rmqlog vs nats", Header: []string{"what", "ratio"}, Rows: [][]string{{"msgs/s", "1.7"}}})
	report.Dir(root, report.Meta{Scenario: "default", Start: t0.Add(2 * time.Hour)}) // claimed, never written
	// The newest default run was interrupted: written, never the headline.
	im := testMeta("default", t0.Add(3*time.Hour))
	im.Title, im.Incomplete = "title of an interrupted run", "interrupted"
	if err := report.Write(report.Dir(root, im), im, []*load.Result{synth("rmqlog x", "SYNC_FLUSH", 1024, 10, 5, 2, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := report.Headline(root); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	checkOrder(t, readme, "title of default at 04:04:05", "title of peers", "title of failover", "title of smoke", "Component benchmarks (make bench-parts)")
	for _, want := range []string{
		"not edited by hand", "newest run: [" + newer + "]", "Earlier runs: [" + older + "]",
		"[Storage benchmarks (segment, flush)](storage.md)", "[storage-bench.txt](storage-bench.txt)",
		"**rmqlog vs nats**", "lost: 1 (sequences 7)", "[latency.png](" + peers + "/latency.png)",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %q:\n%s", want, readme)
		}
	}
	if strings.Contains(readme, "title of default at 03:04:05") || strings.Contains(readme, "interrupted") {
		t.Errorf("README.md shows the older or the interrupted default run as a headline")
	}
	checkLinks(t, root, readme)
	for name, body := range parts {
		if got, _ := os.ReadFile(filepath.Join(root, name)); string(got) != body {
			t.Errorf("Headline changed %s", name)
		}
	}
}

// checkOrder checks that the strings occur in s in this order.
func checkOrder(t *testing.T, s string, in ...string) {
	t.Helper()
	at := -1
	for _, w := range in {
		i := strings.Index(s, w)
		if i < 0 || i < at {
			t.Errorf("%q at %d, after the previous at %d:\n%s", w, i, at, s)
		}
		at = i
	}
}

// checkLinks checks that every relative Markdown link of md exists.
func checkLinks(t *testing.T, root, md string) {
	t.Helper()
	links := regexp.MustCompile(`\]\(([^)]+)\)`).FindAllStringSubmatch(md, -1)
	if len(links) < 10 {
		t.Errorf("only %d links", len(links))
	}
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(root, l[1])); err != nil {
			t.Errorf("broken link: %v", err)
		}
	}
}

func TestHeadlineErrors(t *testing.T) {
	root := t.TempDir()
	bad := filepath.Join(root, "2026-11-27-default")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "summary.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, root, want string
	}{
		{"corrupt summary.json", root, filepath.Join(bad, "summary.json")},
		{"no root", filepath.Join(root, "missing"), "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := report.Headline(tt.root)
			if err == nil || !strings.HasPrefix(err.Error(), "report: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Headline = %v, want a report: error naming %s", err, tt.want)
			}
		})
	}
}

func TestHeadlineEmpty(t *testing.T) {
	root := t.TempDir()
	if err := report.Headline(root); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "README.md")); !strings.Contains(string(b), "No rmqbench run yet") {
		t.Errorf("README.md of an empty root:\n%s", b)
	}
}

// Record writes every run, and regenerates the headline only for a
// complete one.
func TestRecord(t *testing.T) {
	root := filepath.Join(t.TempDir(), "results")
	rs := []*load.Result{synth("rmqlog r", "SYNC_FLUSH", 1024, 10, 5, 2, 1)}
	dir, err := report.Record(root, testMeta("default", t0), rs, nil, errors.New("interrupted"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _, _, err := report.Load(filepath.Join(dir, "summary.json")); err != nil || m.Incomplete != "interrupted" || m.Commit == "" {
		t.Fatalf("incomplete run: %+v, %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(root, "README.md")); err == nil {
		t.Fatal("an incomplete run wrote the headline")
	}
	if _, err := report.Record(root, testMeta("default", t0.Add(time.Hour)), rs, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "README.md")); err != nil {
		t.Fatal("a complete run did not write the headline:", err)
	}
}
