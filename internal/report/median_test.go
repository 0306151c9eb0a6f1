package report

import (
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestMedianTable(t *testing.T) {
	mk := func(name string, round int, rate float64, p99 int64, fo *load.Failover) *load.Result {
		return &load.Result{Name: name, Round: round, MsgsPerSec: rate, Latency: load.Latency{P50: 1000, P99: p99, P999: 2 * p99}, Failover: fo}
	}
	if MedianTable([]*load.Result{mk("a", 0, 1, 1, nil)}) != nil {
		t.Fatal("a table for results without rounds")
	}
	fo := func(ms int, lost ...uint64) *load.Failover {
		return &load.Failover{Outage: time.Duration(ms) * time.Millisecond, Verification: load.Verification{Lost: lost}}
	}
	tab := MedianTable([]*load.Result{
		mk("sync #1", 1, 100, 3000, nil), mk("async #1", 1, 300, 1000, nil),
		mk("sync #2", 2, 120, 5000, nil), mk("async #2", 2, 200, 2000, nil),
		mk("sync #3", 3, 90, 4000, nil), mk("async #3", 3, 250, 9000, nil),
		mk("fo #1", 1, 10, 1, fo(300)), mk("fo #2", 2, 10, 1, fo(500, 7)),
	})
	want := [][]string{
		{"sync", "3", "100", "90-120", "1.00", "4.00", "8.00", "-", "-"},
		{"async", "3", "250", "200-300", "1.00", "2.00", "4.00", "-", "-"},
		{"fo", "2", "10", "10-10", "1.00", "0.001", "0.002", "400", "1"},
	}
	if len(tab.Rows) != len(want) {
		t.Fatalf("rows %v", tab.Rows)
	}
	for i, row := range want {
		for j, cell := range row {
			if tab.Rows[i][j] != cell {
				t.Errorf("row %d col %s = %q, want %q (row %v)", i, tab.Header[j], tab.Rows[i][j], cell, tab.Rows[i])
			}
		}
	}
}
