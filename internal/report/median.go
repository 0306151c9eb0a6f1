package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

// BaseName is a result's name without its round suffix (" #2").
func BaseName(r *load.Result) string {
	if r.Round == 0 {
		return r.Name
	}
	return strings.TrimSuffix(r.Name, fmt.Sprintf(" #%d", r.Round))
}

// Median returns the median of vs (the mean of the middle two for an even
// count); 0 for none.
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MedianTable summarizes results that ran in several rounds: per base name,
// in order of first appearance, the median over the rounds of msgs/s,
// p50, p99 and p99.9, the spread of msgs/s, for failover runs the median
// outage, and for failover and membership runs the lost entries summed
// over the rounds (a membership run's outages are per step:
// MembershipMedians). It returns nil if no result has a round.
func MedianTable(results []*load.Result) *Table {
	var order []string
	by := map[string][]*load.Result{}
	for _, r := range results {
		if r.Round == 0 {
			continue
		}
		b := BaseName(r)
		if by[b] == nil {
			order = append(order, b)
		}
		by[b] = append(by[b], r)
	}
	if len(order) == 0 {
		return nil
	}
	t := &Table{Title: "Medians over the rounds",
		Header: []string{"run", "rounds", "msgs/s", "msgs/s min-max", "p50 ms", "p99 ms", "p99.9 ms", "outage ms", "lost"}}
	for _, b := range order {
		t.Rows = append(t.Rows, medianRow(b, by[b]))
	}
	return t
}

func medianRow(name string, rs []*load.Result) []string {
	pick := func(f func(*load.Result) float64) []float64 {
		var vs []float64
		for _, r := range rs {
			vs = append(vs, f(r))
		}
		return vs
	}
	rate := pick(func(r *load.Result) float64 { return r.MsgsPerSec })
	ms := func(f func(load.Latency) int64) string {
		return millis(int64(Median(pick(func(r *load.Result) float64 { return float64(f(r.Latency)) }))))
	}
	outage, lost := "-", "-"
	if rs[0].Failover != nil {
		outage = fmt.Sprintf("%.0f", Median(pick(func(r *load.Result) float64 {
			return float64(r.Failover.Outage) / float64(time.Millisecond)
		})))
		n := 0
		for _, r := range rs {
			n += len(r.Failover.Lost)
		}
		lost = fmt.Sprint(n)
	}
	if rs[0].Membership != nil {
		n := 0
		for _, r := range rs {
			n += len(r.Membership.Lost)
		}
		lost = fmt.Sprint(n)
	}
	return []string{name, fmt.Sprint(len(rs)), fmt.Sprintf("%.0f", Median(rate)),
		fmt.Sprintf("%.0f-%.0f", slices.Min(rate), slices.Max(rate)),
		ms(func(l load.Latency) int64 { return l.P50 }), ms(func(l load.Latency) int64 { return l.P99 }),
		ms(func(l load.Latency) int64 { return l.P999 }), outage, lost}
}
