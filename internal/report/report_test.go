package report_test

import (
	"bufio"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

var t0 = time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC)

// synth returns a result with a histogram of n latencies around baseUs
// (with a long tail) and one Second per second of secs.
func synth(name, mode string, payload, n int, baseUs float64, secs int, seed uint64) *load.Result {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	h := hdrhistogram.New(1, 10_000_000, 3)
	for range n {
		v := baseUs * math.Exp(rng.NormFloat64()*0.3)
		if rng.IntN(1000) == 0 {
			v *= 20 // the tail
		}
		if err := h.RecordValue(int64(v) + 1); err != nil {
			panic(err)
		}
	}
	r := &load.Result{
		Name:    name,
		Spec:    load.Spec{System: "rmqlog", Mode: mode, Payload: payload, Form: load.Closed, Producers: 64, Duration: time.Duration(secs) * time.Second},
		Start:   t0,
		Elapsed: time.Duration(secs) * time.Second,
		Sent:    int64(n) + 2, Acked: int64(n),
		Errors:  map[string]int64{"timeout": 2},
		Latency: load.Summarize(h),
		NodeCPU: map[string]time.Duration{"n1": 3 * time.Second, "n2": time.Second},
		Hist:    h,
	}
	r.MsgsPerSec = float64(n) / float64(secs)
	r.MBPerSec = r.MsgsPerSec * float64(payload) / 1e6
	for s := 1; s <= secs; s++ {
		r.Seconds = append(r.Seconds, load.Second{At: float64(s), Acked: int64(n/secs + rng.IntN(100)), P50: 900, P99: 2000, Max: 5000})
	}
	return r
}

// withFailover adds a failover to r: a kill at 10 s, no acknowledgement
// for 1.2 s, a restart at 20 s, and 30 s of ticks.
func withFailover(r *load.Result, lost []uint64) *load.Result {
	r.Failover = &load.Failover{
		OldLeader: "n1", NewLeader: "n2",
		KillAt: 10 * time.Second, Outage: 1200 * time.Millisecond,
		RestartAt: 20 * time.Second, CatchUp: 450 * time.Millisecond,
		Verification: load.Verification{Acknowledged: r.Acked, Lost: lost, Verified: true},
	}
	r.Ticks = make([]int32, 30_000)
	for ms := range r.Ticks {
		if ms < 10_000 || ms >= 11_200 {
			r.Ticks[ms] = int32(5 + ms%3)
		}
	}
	return r
}

func testMeta(scenario string, start time.Time) report.Meta {
	return report.Meta{
		Title: "rmqbench " + scenario + ": SYNC_FLUSH vs ASYNC_FLUSH", Scenario: scenario,
		Command: "rmqbench -scenario " + scenario, Commit: "abc1234+dirty", Start: start,
		Machine: report.ProbeMachine(), Notes: []string{"ratios are ASYNC over SYNC"},
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	results := []*load.Result{
		synth("rmqlog SYNC_FLUSH 1KiB closed 64", "SYNC_FLUSH", 1024, 20_000, 2000, 10, 1),
		synth("rmqlog ASYNC_FLUSH 1KiB closed 64", "ASYNC_FLUSH", 1024, 20_000, 300, 10, 2),
		withFailover(synth("rmqlog failover", "SYNC_FLUSH", 1024, 20_000, 1500, 30, 3), nil),
	}
	extra := &report.Table{Title: "Ratios", Header: []string{"what", "ratio"}, Rows: [][]string{{"msgs/s ASYNC/SYNC", "6.1"}}}
	m := testMeta("default", t0)
	if err := report.Write(dir, m, results, extra); err != nil {
		t.Fatal(err)
	}
	checkJSON(t, dir, m, results, extra)
	checkMarkdown(t, dir, results)
	for _, r := range results {
		checkHgrm(t, filepath.Join(dir, report.Slug(r.Name)+".hgrm"), r.Hist)
	}
	for _, f := range []string{"latency.png", "throughput.png", "failover.png"} {
		checkPNG(t, filepath.Join(dir, f))
	}
}

func TestWriteNoResults(t *testing.T) {
	if err := report.Write(t.TempDir(), report.Meta{}, nil, nil); err != report.ErrNoResults {
		t.Fatalf("Write(no results) = %v, want %v", err, report.ErrNoResults)
	}
}

// checkJSON loads summary.json back and compares it with what was written.
func checkJSON(t *testing.T, dir string, m report.Meta, want []*load.Result, extra *report.Table) {
	t.Helper()
	gm, got, gx, err := report.Load(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if gm.Title != m.Title || gm.Commit != m.Commit || !gm.Start.Equal(m.Start) || gm.Machine != m.Machine {
		t.Errorf("meta = %+v, want %+v", gm, m)
	}
	if len(got) != len(want) {
		t.Fatalf("%d results loaded, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Name != w.Name || g.Acked != w.Acked || g.Sent != w.Sent || g.Latency != w.Latency || g.Spec != w.Spec {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
		if len(g.Seconds) != len(w.Seconds) || (w.Failover != nil) != (g.Failover != nil) {
			t.Errorf("result %d: %d seconds, failover %v; want %d, %v", i, len(g.Seconds), g.Failover, len(w.Seconds), w.Failover)
		}
	}
	if gx == nil || !slices.Equal(gx.Header, extra.Header) || len(gx.Rows) != len(extra.Rows) {
		t.Errorf("extra = %+v, want %+v", gx, extra)
	}
}

// checkMarkdown checks that summary.md has a row per result with its p99,
// the failover, and lists exactly the files of dir.
func checkMarkdown(t *testing.T, dir string, results []*load.Result) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, r := range results {
		p99 := cell(t, md, r.Name, "p99 ms")
		if v, err := strconv.ParseFloat(p99, 64); err != nil || math.Abs(v-float64(r.Latency.P99)/1000) > 0.01*float64(r.Latency.P99)/1000 {
			t.Errorf("%s: p99 cell %q, want %.3f ms", r.Name, p99, float64(r.Latency.P99)/1000)
		}
	}
	for _, want := range []string{"acknowledged: 20000, lost: 0", "old leader: n1, new leader: n2", "## Ratios", "abc1234+dirty", "verified: yes"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	listed := regexp.MustCompile(`(?m)^- \[([^\]]+)\]`).FindAllStringSubmatch(md[strings.Index(md, "## Files"):], -1)
	entries, _ := os.ReadDir(dir)
	if len(listed) != len(entries) {
		t.Errorf("summary.md lists %d files, dir holds %d", len(listed), len(entries))
	}
	for _, l := range listed {
		if _, err := os.Stat(filepath.Join(dir, l[1])); err != nil {
			t.Errorf("listed file: %v", err)
		}
	}
}

// cell returns the cell of column col in the table row whose first cell
// is name.
func cell(t *testing.T, md, name, col string) string {
	t.Helper()
	var header []string
	for line := range strings.Lines(md) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "name" {
			header = cells
		}
		if cells[0] == name && header != nil {
			return cells[slices.Index(header, col)]
		}
	}
	t.Fatalf("no row %q in\n%s", name, md)
	return ""
}

// checkHgrm parses an .hgrm file: value, percentile, total count,
// 1/(1-percentile) per line, then the footer.
func checkHgrm(t *testing.T, path string, h *hdrhistogram.Histogram) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lastQ, lastV float64
	var lastCount int64
	var rows int
	footer := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#[Mean"):
			footer = true
		case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" || strings.HasPrefix(line, " Value"):
		default:
			v, q, count := hgrmLine(t, path, line)
			if q < lastQ || v < lastV || count < lastCount {
				t.Fatalf("%s: not monotonic at %q", path, line)
			}
			lastQ, lastV, lastCount, rows = q, v, count, rows+1
		}
	}
	if !footer || rows < 10 || lastQ != 1 || lastCount != h.TotalCount() {
		t.Errorf("%s: footer %v, %d rows, last percentile %v, last count %d (want %d)", path, footer, rows, lastQ, lastCount, h.TotalCount())
	}
	if max := float64(h.Max()) / 1000; math.Abs(lastV-max) > 0.002*max {
		t.Errorf("%s: last value %v ms, histogram max %v ms", path, lastV, max)
	}
}

func hgrmLine(t *testing.T, path, line string) (v, q float64, count int64) {
	t.Helper()
	fs := strings.Fields(line)
	if len(fs) != 4 {
		t.Fatalf("%s: line %q has %d fields", path, line, len(fs))
	}
	v, err1 := strconv.ParseFloat(fs[0], 64)
	q, err2 := strconv.ParseFloat(fs[1], 64)
	count, err3 := strconv.ParseInt(fs[2], 10, 64)
	inv, err4 := strconv.ParseFloat(fs[3], 64) // "inf" parses as +Inf
	if err := cmpErr(err1, err2, err3, err4); err != nil {
		t.Fatalf("%s: line %q: %v", path, line, err)
	}
	// q is printed with 6 decimals: its rounding moves 1/(1-q) by up to
	// 5e-7/(1-q)^2.
	if want := 1 / (1 - q); !math.IsInf(want, 1) && math.Abs(inv-want) > 0.01+6e-7*want*want {
		t.Fatalf("%s: line %q: 1/(1-q) = %v, want %v", path, line, inv, want)
	}
	return v, q, count
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// checkPNG decodes a PNG and checks that something was drawn on it.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	bs := img.Bounds()
	colors, inked := map[[4]uint32]bool{}, 0
	for y := bs.Min.Y; y < bs.Max.Y; y += 2 {
		for x := bs.Min.X; x < bs.Max.X; x += 2 {
			r, g, b, a := img.At(x, y).RGBA()
			colors[[4]uint32{r, g, b, a}] = true
			if r+g+b < 3*0xffff-0x3000 {
				inked++
			}
		}
	}
	if bs.Dx() < 600 || bs.Dy() < 300 || len(colors) < 8 || inked < bs.Dx()*bs.Dy()/400 {
		t.Errorf("%s: %dx%d, %d colours, %d inked samples: looks empty", path, bs.Dx(), bs.Dy(), len(colors), inked)
	}
}

func TestWriteSweepSplitsPlots(t *testing.T) {
	var results []*load.Result
	for i, size := range []int{64, 1024, 16 << 10, 1 << 20} {
		for _, mode := range []string{"SYNC_FLUSH", "ASYNC_FLUSH"} {
			for _, p := range []int{1, 16, 256} {
				name := fmt.Sprintf("rmqlog %s %d B closed %d", mode, size, p)
				results = append(results, synth(name, mode, size, 500, float64(100*(i+1)*p), 3, uint64(len(results))))
			}
		}
	}
	dir := t.TempDir()
	if err := report.Write(dir, testMeta("sweep", t0), results, nil); err != nil {
		t.Fatal(err)
	}
	for _, size := range []string{"64b", "1kib", "16kib", "1mib"} {
		checkPNG(t, filepath.Join(dir, "latency-"+size+".png"))
		checkPNG(t, filepath.Join(dir, "throughput-"+size+".png"))
	}
	if _, err := os.Stat(filepath.Join(dir, "latency.png")); err == nil {
		t.Errorf("latency.png written for a sweep of %d results", len(results))
	}
}
