package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/rmqlog/rmqlog/bench/peers/nats/natsgroup"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/report"
)

// goal is what the ratio rmqlog / NATS of a measure should be; the zero
// goal is none.
type goal struct {
	text string
	met  func(ratio float64) bool
}

func atLeast(x float64) goal {
	return goal{fmt.Sprintf(">= %g", x), func(r float64) bool { return r >= x }}
}

func atMost(x float64) goal {
	return goal{fmt.Sprintf("<= %g", x), func(r float64) bool { return r <= x }}
}

// measure is one compared quantity with its values in each round.
type measure struct {
	mode, what, format string
	goal               goal
	rmq, nats, ratio   []float64
}

// row records one round's value of a measure for both systems.
func (c *comparison) row(mode, what string, rmq, nats float64, format string, g goal) {
	var m *measure
	for _, x := range c.measures {
		if x.mode == mode && x.what == what {
			m = x
		}
	}
	if m == nil {
		m = &measure{mode: mode, what: what, format: format, goal: g}
		c.measures = append(c.measures, m)
	}
	m.rmq, m.nats = append(m.rmq, rmq), append(m.nats, nats)
	if nats > 0 {
		m.ratio = append(m.ratio, rmq/nats)
	}
}

// table is the side-by-side table: per measure the medians over the
// rounds, the median ratio rmqlog / NATS and each round's ratio, the goal
// and whether the median ratio meets it; then the failed appends and the
// failover checks.
func (c *comparison) table() *report.Table {
	t := &report.Table{
		Title: fmt.Sprintf("rmqlog vs NATS JetStream R3 (nats-server %s), side by side (same run, same machine; medians of %d rounds)",
			natsgroup.Version, c.rounds),
		Header: []string{"mode", "measure", "rmqlog", "NATS", "ratio", "ratio per round", "goal", "met"},
	}
	for _, m := range c.measures {
		t.Rows = append(t.Rows, m.cells())
	}
	for _, mode := range c.errorModes {
		e := c.errors[mode]
		t.Rows = append(t.Rows, []string{mode, "appends failed in the measured loads (all rounds; in no percentile)",
			fmt.Sprint(e[0]), fmt.Sprint(e[1]), "", "", "", ""})
	}
	for _, mode := range c.modes {
		l := c.lost[mode]
		t.Rows = append(t.Rows, []string{mode, "failover: acknowledged / lost (all rounds)",
			fmt.Sprintf("%d / %s", l.ackedR, bench.LostString(l.lostR)), fmt.Sprintf("%d / %s", l.ackedN, bench.LostString(l.lostN)),
			"", "", "0 lost", yes(len(l.lostR) == 0 && l.verified)})
	}
	return t
}

// cells is the measure's table row.
func (m *measure) cells() []string {
	ratio, per, ok := "-", "", ""
	if len(m.ratio) > 0 {
		r := report.Median(m.ratio)
		ratio = fmt.Sprintf("%.2f", r)
		if m.goal.met != nil {
			ok = yes(m.goal.met(r))
		}
		var ps []string
		for _, x := range m.ratio {
			ps = append(ps, fmt.Sprintf("%.2f", x))
		}
		per = strings.Join(ps, " ")
	}
	return []string{m.mode, m.what, fmt.Sprintf(m.format, report.Median(m.rmq)),
		fmt.Sprintf(m.format, report.Median(m.nats)), ratio, per, m.goal.text, ok}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// printTable prints t with each column as wide as its widest cell, the
// numbers (rmqlog, NATS, ratio) right-aligned.
func printTable(w io.Writer, t *report.Table) {
	fmt.Fprintf(w, "\n%s\n", t.Title)
	report.WriteAligned(w, t, "", func(col int) bool { return col >= 2 && col <= 4 })
}
