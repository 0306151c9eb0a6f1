package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/internal/load"
)

// The side-by-side table holds the medians over the rounds, the median
// ratio, each round's ratio, and judges the goal on the median ratio.
func TestComparisonTable(t *testing.T) {
	c := &comparison{rounds: 3, rates: map[string]int{}, lost: map[string]*lostCount{}}
	atLeast3 := func(r float64) bool { return r >= 3 }
	for _, v := range [][2]float64{{60000, 20000}, {90000, 20000}, {50000, 25000}} {
		c.row("ASYNC_FLUSH", "msgs/s", v[0], v[1], "%.0f", ">= 3", atLeast3)
	}
	c.row("ASYNC_FLUSH", "p50", 1, 0, "%.2f", "", nil) // NATS 0: no ratio
	c.lost["ASYNC_FLUSH"] = &lostCount{ackedR: 10, ackedN: 5, lostN: []uint64{4}, verified: true}
	c.modes = []string{"ASYNC_FLUSH"}
	c.countErrors("ASYNC_FLUSH", 1, &load.Result{Errors: map[string]int64{"timeout": 3, "no responders": 2}})
	tab := c.table()
	want := [][]string{
		{"ASYNC_FLUSH", "msgs/s", "60000", "20000", "3.00", "3.00 4.50 2.00", ">= 3", "yes"},
		{"ASYNC_FLUSH", "p50", "1.00", "0.00", "-", "", "", ""},
		{"ASYNC_FLUSH", "appends failed in the closed and open loops (all rounds; in no percentile)", "0", "5", "", "", "", ""},
		{"ASYNC_FLUSH", "failover: acknowledged / lost (all rounds)", "10 / 0", "5 / 1 [4]", "", "", "0 lost", "yes"},
	}
	if len(tab.Rows) != len(want) {
		t.Fatalf("rows %q", tab.Rows)
	}
	for i := range want {
		if strings.Join(tab.Rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, tab.Rows[i], want[i])
		}
	}
	if !strings.Contains(tab.Title, "medians of 3 rounds") {
		t.Errorf("title %q", tab.Title)
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
		{[]string{"--rmqlog", "main.go", "--kill-at", "30s"}, "--kill-at"},
	} {
		var errb bytes.Buffer
		if code := run(t.Context(), c.args, &bytes.Buffer{}, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}
