package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rmqlog/rmqlog/internal/load"
)

func TestFormats(t *testing.T) {
	tests := []struct{ got, want string }{
		{millis(0), "0.000"},
		{millis(45), "0.045"},
		{millis(1234), "1.23"},
		{millis(12_345), "12.3"},
		{millis(123_456), "123"},
		{millis(12_345_678), "12346"},
		{load.Size(64), "64B"},
		{load.Size(1000), "1000B"},
		{load.Size(16 << 10), "16KiB"},
		{load.Size(1 << 20), "1MiB"},
		{errorsLabel(nil), "0"},
		{errorsLabel(map[string]int64{"timeout": 2, "refused": 1, "other": 0}), "3 (refused 1, timeout 2)"},
		{loadLabel(load.Spec{Form: load.Closed, Producers: 64}), "64"},
		{loadLabel(load.Spec{Form: load.Open, Producers: 64, Rate: 10_000}), "10000/s, cap 64"},
		{lostLabel(nil), "0"},
		{lostLabel([]uint64{3, 9}), "2 (sequences 3, 9)"},
		{durMillis(1500 * time.Microsecond), "1.5 ms"},
		{durMillis(1234 * time.Millisecond), "1234 ms"},
		{cpuPerMsg(&load.Result{Acked: 1000, NodeCPU: map[string]time.Duration{"n1": time.Millisecond, "n2": time.Millisecond}}), "2.0"},
		{cpuPerMsg(&load.Result{Acked: 1000}), "-"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: %q, want %q", i, tt.got, tt.want)
		}
	}
	var many []uint64
	for s := range uint64(25) {
		many = append(many, 101+s)
	}
	if got := lostLabel(many); !strings.HasPrefix(got, "25 (sequences 101, ") || !strings.Contains(got, " 120, ... first 20 shown)") || strings.Contains(got, "121") {
		t.Errorf("lostLabel(25 sequences) = %q", got)
	}
}

func histOf(vs ...int64) *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 10_000_000, 3)
	for _, v := range vs {
		h.RecordValue(v)
	}
	return h
}

func TestPlanFiles(t *testing.T) {
	withHist := func(name string, payload int) *load.Result {
		return &load.Result{Name: name, Spec: load.Spec{Payload: payload}, Hist: histOf(100, 200), Seconds: []load.Second{{At: 1, Acked: 2}}}
	}
	fo := func(name string) *load.Result {
		r := withHist(name, 64)
		r.Failover, r.Ticks = &load.Failover{}, []int32{1, 2}
		return r
	}
	var sweep []*load.Result
	for _, size := range []int{1 << 20, 64, 1024} {
		for i := range 3 {
			sweep = append(sweep, withHist("r "+string(rune('a'+i)), size))
		}
	}
	tests := []struct {
		name    string
		results []*load.Result
		want    []string
	}{
		{"one", []*load.Result{withHist("A b", 64)},
			[]string{"summary.md", "summary.json", "a-b.hgrm", "latency.png", "throughput.png"}},
		{"no histogram, same slug", []*load.Result{withHist("a_b", 64), {Name: "A B", Seconds: []load.Second{{At: 1}}}, withHist("a b", 64)},
			[]string{"summary.md", "summary.json", "a-b.hgrm", "a-b-3.hgrm", "latency.png", "throughput.png"}},
		{"one failover", []*load.Result{withHist("x", 64), fo("f")},
			[]string{"summary.md", "summary.json", "x.hgrm", "f.hgrm", "latency.png", "throughput.png", "failover.png"}},
		{"two failovers", []*load.Result{fo("f1"), fo("f2")},
			[]string{"summary.md", "summary.json", "f1.hgrm", "f2.hgrm", "latency.png", "throughput.png", "failover-f1.png", "failover-f2.png"}},
		{"sweep", sweep, append([]string{"summary.md", "summary.json", "r-a.hgrm", "r-b.hgrm", "r-c.hgrm", "r-a-2.hgrm", "r-b-2.hgrm", "r-c-2.hgrm", "r-a-3.hgrm", "r-b-3.hgrm", "r-c-3.hgrm"},
			"latency-64b.png", "throughput-64b.png", "latency-1kib.png", "throughput-1kib.png", "latency-1mib.png", "throughput-1mib.png")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planFiles(tt.results).files(); !slices.Equal(got, tt.want) {
				t.Errorf("files = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRoundTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []string
	}{
		{0, 30, []string{"0", "5", "10", "15", "20", "25", "30"}},
		{0, 2700, []string{"0", "500", "1000", "1500", "2000", "2500"}},
		{0, 0.8, []string{"0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"}},
		{3, 3, []string{"3"}},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range (roundTicks{}).Ticks(tt.lo, tt.hi) {
			got = append(got, tk.Label)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ticks(%v, %v) = %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestTickRate(t *testing.T) {
	ticks := make([]int32, 25) // 25 ms, one ack per ms: 1000 msgs/s, the last bin short
	for i := range ticks {
		ticks[i] = 1
	}
	got := tickRate(ticks, 10)
	if len(got) != 3 || got[0].X != 0.01 || got[2].X != 0.025 {
		t.Fatalf("tickRate = %v", got)
	}
	for _, p := range got {
		if p.Y != 1000 {
			t.Errorf("tickRate point %v, want 1000 msgs/s", p)
		}
	}
	if failoverBin(60_000) != 10 || failoverBin(60_001) != 100 {
		t.Errorf("failoverBin: %d, %d", failoverBin(60_000), failoverBin(60_001))
	}
}

func TestLatencyPoints(t *testing.T) {
	h := hdrhistogram.New(1, 10_000_000, 3)
	for v := int64(1); v <= 10_000; v++ {
		h.RecordValue(v * 10) // 10 us .. 100 ms
	}
	pts := latencyPoints(h)
	if len(pts) < 20 {
		t.Fatalf("%d points", len(pts))
	}
	for i, p := range pts {
		if math.IsInf(p.X, 0) || p.X < 1 || p.Y < minMillis || (i > 0 && (p.X < pts[i-1].X || p.Y < pts[i-1].Y)) {
			t.Fatalf("point %d = %v after %v", i, p, pts[max(i-1, 0)])
		}
		if p.X == 2 && math.Abs(p.Y-50) > 0.1 { // the median: 50 ms
			t.Errorf("p50 point %v, want 50 ms", p)
		}
	}
	if last := pts[len(pts)-1]; last.Y > 100.1 || last.X < 1000 {
		t.Errorf("last point %v, want x >= 1000 (99.9%%) and y <= 100 ms", last)
	}
}

// TestPlotsShowRoundOne (issue 13): a peers run of 3 rounds drew 36 series
// under one legend; past maxLines only round 1 is drawn, and the plot says
// so.
func TestPlotsShowRoundOne(t *testing.T) {
	var rs []*load.Result
	for round := 1; round <= 3; round++ {
		for i := range 12 {
			rs = append(rs, &load.Result{Name: fmt.Sprintf("s%d r%d", i, round), Round: round, Spec: load.Spec{Payload: 1024},
				Hist: histOf(100, 200), Seconds: []load.Second{{At: 1, Acked: 2}}})
		}
	}
	gs := groupResults(rs[:24]) // 12 series x 2 rounds
	if len(gs) != 1 || len(gs[0].members) != 12 || gs[0].label != "round 1 of 2" {
		t.Fatalf("groups %+v", gs)
	}
	few := groupResults(rs[:3])
	if len(few) != 1 || len(few[0].members) != 3 || few[0].label != "" {
		t.Fatalf("a few results: %+v", few)
	}
}
