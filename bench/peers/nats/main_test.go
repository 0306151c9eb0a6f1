package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/bench/peers/nats/natsgroup"
	"github.com/rmqlog/rmqlog/internal/load"
)

// The side-by-side table holds the medians over the rounds, the median
// ratio, each round's ratio, and judges the goal on the median ratio.
func TestComparisonTable(t *testing.T) {
	c := newComparison(3)
	for _, v := range [][2]float64{{60000, 20000}, {90000, 20000}, {50000, 25000}} {
		c.row("ASYNC_FLUSH", "msgs/s", v[0], v[1], "%.0f", atLeast(3))
	}
	c.row("ASYNC_FLUSH", "p50", 1, 0, "%.2f", goal{}) // NATS 0: no ratio
	c.lost["ASYNC_FLUSH"] = &lostCount{ackedR: 10, ackedN: 5, lostN: []uint64{4}, verified: true}
	c.modes = []string{"ASYNC_FLUSH"}
	c.countErrors("ASYNC_FLUSH", 1, &load.Result{Errors: map[string]int64{"timeout": 3, "no responders": 2}})
	tab := c.table()
	want := [][]string{
		{"ASYNC_FLUSH", "msgs/s", "60000", "20000", "3.00", "3.00 4.50 2.00", ">= 3", "yes"},
		{"ASYNC_FLUSH", "p50", "1.00", "0.00", "-", "", "", ""},
		{"ASYNC_FLUSH", "appends failed in the measured loads (all rounds; in no percentile)", "0", "5", "", "", "", ""},
		{"ASYNC_FLUSH", "failover: acknowledged / lost (all rounds)", "10 / 0", "5 / 1 [4]", "", "", "0 lost", "yes"},
	}
	equalRows(t, tab.Rows, want)
	for _, s := range []string{"medians of 3 rounds", "nats-server " + natsgroup.Version} {
		if !strings.Contains(tab.Title, s) {
			t.Errorf("title %q lacks %q", tab.Title, s)
		}
	}
}

func equalRows(t *testing.T, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d:\n%q", len(got), len(want), got)
	}
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

// Each shape gives msgs/s, p99 and p99.9 rows with its goals, and a node
// CPU row only when both results measured node CPU.
func TestShapeRows(t *testing.T) {
	res := func(msgs float64, p99, p999 int64, acked int64, cpu map[string]time.Duration) *load.Result {
		return &load.Result{MsgsPerSec: msgs, Acked: acked, NodeCPU: cpu, Latency: load.Latency{P99: p99, P999: p999}}
	}
	cpu := func(ms ...int) map[string]time.Duration {
		m := map[string]time.Duration{}
		for i, v := range ms {
			m[string(rune('a'+i))] = time.Duration(v) * time.Millisecond
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		s     shape
		r     [2]*load.Result
		label string
		want  [][]string
	}{
		{
			name: "pipelined with CPU", s: shape{load.Pipelined, 256},
			r:     [2]*load.Result{res(90000, 3000, 5000, 1000, cpu(100, 20, 30)), res(30000, 9000, 8000, 1000, cpu(300, 100, 100))},
			label: "pipelined 256 / async publish window 256",
			want: [][]string{
				{"msgs/s", "90000", "30000", "3.00", ">= 3", "yes"},
				{"p99 (ms)", "3.00", "9.00", "0.33", "<= 0.5", "yes"},
				{"p99.9 (ms)", "5.00", "8.00", "0.62", "<= 0.5", "no"},
				{"node CPU per msg (us)", "150.0", "500.0", "0.30", "", ""},
			},
		},
		{
			name: "closed, NATS without CPU", s: shape{load.Closed, 64},
			r:     [2]*load.Result{res(40000, 2000, 4000, 1000, cpu(100)), res(25000, 3000, 5000, 1000, nil)},
			label: "closed 64 producers / sync publish 64 producers",
			want: [][]string{
				{"msgs/s", "40000", "25000", "1.60", ">= 2", "no"},
				{"p99 (ms)", "2.00", "3.00", "0.67", "<= 0.5", "no"},
				{"p99.9 (ms)", "4.00", "5.00", "0.80", "<= 0.5", "no"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newComparison(1)
			c.shapeRows("SYNC_FLUSH", tc.s, tc.r)
			var want [][]string
			for _, w := range tc.want {
				want = append(want, []string{"SYNC_FLUSH", tc.label + ": " + w[0], w[1], w[2], w[3], w[3], w[4], w[5]})
			}
			equalRows(t, c.table().Rows, want)
		})
	}
}

func TestCPUPerMsg(t *testing.T) {
	for _, tc := range []struct {
		r    *load.Result
		want float64
		ok   bool
	}{
		{&load.Result{Acked: 4, NodeCPU: map[string]time.Duration{"n0": time.Millisecond, "n1": time.Millisecond}}, 500, true},
		{&load.Result{Acked: 4}, 0, false},
		{&load.Result{NodeCPU: map[string]time.Duration{"n0": time.Millisecond}}, 0, false},
	} {
		if got, ok := cpuPerMsg(tc.r); got != tc.want || ok != tc.ok {
			t.Errorf("cpuPerMsg(%+v) = %v, %v; want %v, %v", tc.r, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOpenRate(t *testing.T) {
	for _, tc := range []struct {
		a, b float64
		want int
	}{
		{50000, 21999, 10000},
		{21999, 50000, 10000},
		{1500, 9000, 1000},
		{0, 0, 1000},
	} {
		if got := openRate(tc.a, tc.b); got != tc.want {
			t.Errorf("openRate(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParseWindows(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []int
		wantErr string
	}{
		{"256,1024", []int{256, 1024}, ""},
		{" 1024 , 256 ", []int{1024, 256}, ""},
		{"", nil, ""},
		{"  ", nil, ""},
		{"8", []int{8}, ""},
		{"256,0", nil, `"0" is not a count`},
		{"256,", nil, `"" is not a count`},
		{"x", nil, `"x" is not a count`},
		{"-4", nil, `"-4" is not a count`},
		{"64,64", nil, "64 twice"},
	} {
		got, err := parseWindows(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseWindows(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseWindows(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// The flags choose the shapes, in order: the closed loop, then the
// windows; each shape's label names both sides.
func TestShapesFromFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{
			"closed 64 producers / sync publish 64 producers",
			"pipelined 256 / async publish window 256",
			"pipelined 1024 / async publish window 1024",
		}},
		{[]string{"--closed=false"}, []string{
			"pipelined 256 / async publish window 256",
			"pipelined 1024 / async publish window 1024",
		}},
		{[]string{"--windows", "512", "--producers", "16"}, []string{
			"closed 16 producers / sync publish 16 producers",
			"pipelined 512 / async publish window 512",
		}},
		{[]string{"--windows", ""}, []string{"closed 64 producers / sync publish 64 producers"}},
	} {
		cfg, err := parse(append([]string{"--rmqlog", "main.go"}, tc.args...), io.Discard)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		var got []string
		for _, s := range cfg.shapes() {
			got = append(got, s.label())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: shapes %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestShapeSpecAndGoal(t *testing.T) {
	base := load.Spec{Payload: 1024, Form: load.Closed, Producers: 64, Duration: time.Minute}
	s := shape{load.Pipelined, 1024}.spec(base)
	if s.Form != load.Pipelined || s.Producers != 1024 || s.Payload != 1024 || s.Duration != time.Minute {
		t.Errorf("spec = %+v", s)
	}
	if g := (shape{load.Closed, 64}).throughputGoal(); g.text != ">= 2" || g.met(1.99) || !g.met(2) {
		t.Errorf("closed goal %q", g.text)
	}
	if g := (shape{load.Pipelined, 256}).throughputGoal(); g.text != ">= 3" || g.met(2.99) || !g.met(3) {
		t.Errorf("pipelined goal %q", g.text)
	}
}

// The defaults run 60 s per point; the estimate counts every run of both
// systems in every mode and round.
func TestEstimate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		runs int
		want time.Duration
	}{
		// 5 runs x (3 + 60 + 10 s) + 20 s check = 385 s, x 2 modes x 2 systems
		{nil, 5, 4 * 385 * time.Second},
		{[]string{"--rounds", "3"}, 5, 12 * 385 * time.Second},
		// 2 runs x (1 + 3 + 10 s) = 28 s, x 1 mode x 2 systems
		{[]string{"--duration", "3s", "--warmup", "1s", "--modes", "SYNC_FLUSH", "--windows", "256", "--open=false", "--failover=false"}, 2, 56 * time.Second},
		{[]string{"--closed=false", "--windows", "", "--rate", "5000", "--failover=false"}, 1, 4 * 73 * time.Second},
	} {
		cfg, err := parse(append([]string{"--rmqlog", "main.go"}, tc.args...), io.Discard)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if cfg.runsPerMode() != tc.runs || cfg.estimate() != tc.want {
			t.Errorf("%v: %d runs, estimate %v; want %d, %v", tc.args, cfg.runsPerMode(), cfg.estimate(), tc.runs, tc.want)
		}
		if plan := cfg.plan(); !strings.Contains(plan, roundEstimate(tc.want).String()) {
			t.Errorf("%v: plan %q lacks %v", tc.args, plan, roundEstimate(tc.want))
		}
	}
	cfg, _ := parse([]string{"--rmqlog", "main.go"}, io.Discard)
	if cfg.spec.Duration != time.Minute {
		t.Errorf("default duration %v, want 60s", cfg.spec.Duration)
	}
}

// The summary's notes name the NATS version and every shape that ran.
func TestNotes(t *testing.T) {
	cfg, err := parse([]string{"--rmqlog", "main.go", "--windows", "128"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(notes(cfg), "\n")
	for _, want := range []string{
		"nats-server " + natsgroup.Version, "nats.go v1.",
		"`closed 64 producers / sync publish 64 producers`", "`pipelined 128 / async publish window 128`",
		"jetstream.PublishAsync", "Open loop", "Failover", "Node CPU per msg",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
}

func TestPrintTable(t *testing.T) {
	c := newComparison(1)
	c.row("SYNC_FLUSH", "a long measure name: msgs/s", 100, 50, "%.0f", atLeast(3))
	c.row("SYNC_FLUSH", "short", 1, 2, "%.2f", atMost(0.5))
	var b bytes.Buffer
	printTable(&b, c.table())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	// The NATS column (right-aligned) ends at the same place on every line.
	end := strings.Index(lines[1], "NATS") + len("NATS")
	for i, cell := range []string{"50", "2.00"} {
		if l := lines[2+i]; len(l) < end || !strings.HasSuffix(l[:end], " "+cell) {
			t.Errorf("NATS cell %q not at column %d:\n%s", cell, end, b.String())
		}
	}
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--rmqlog is required"},
		{[]string{"--rmqlog", "/nonexistent"}, "--rmqlog"},
		{[]string{"--rmqlog", "main.go", "--modes", "X"}, "allowed SYNC_FLUSH"},
		{[]string{"--rmqlog", "main.go", "--rounds", "0"}, "--rounds"},
		{[]string{"--rmqlog", "main.go", "--kill-at", "70s"}, "--kill-at"},
		{[]string{"--rmqlog", "main.go", "--duration", "8s"}, "--restart-at < --duration"},
		{[]string{"--rmqlog", "main.go", "--windows", "256,x"}, "--windows"},
		{[]string{"--rmqlog", "main.go", "--closed=false", "--windows", ""}, "give --rate"},
		{[]string{"--rmqlog", "main.go", "--closed=false", "--windows", "", "--open=false", "--failover=false"}, "nothing to run"},
		{[]string{"--rmqlog", "main.go", "--rate", "-1"}, "--rate"},
		{[]string{"--rmqlog", "main.go", "extra"}, "unexpected arguments"},
	} {
		var errb bytes.Buffer
		if code := run(t.Context(), c.args, &bytes.Buffer{}, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}
