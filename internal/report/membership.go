package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

// stepKinds is the order of the medians table's rows.
var stepKinds = []string{load.StartNode, load.AddLearner, load.Promote, load.RemoveFollower, load.RemoveLeader, load.Retire}

// membershipBlocks describes every result that has a Membership: a bold
// line, its steps as a table, and a list (baseline, bound, check); then,
// if there are several such results, the medians per mode and step kind.
// "" if none has one.
func membershipBlocks(results []*load.Result) string {
	var blocks []string
	n := 0
	for _, r := range results {
		if m := r.Membership; m != nil {
			n++
			blocks = append(blocks, fmt.Sprintf("**%s**\n\n%s\n%s", r.Name, MembershipSteps(m).markdown(), membershipList(m)))
		}
	}
	if n > 1 {
		t := MembershipMedians(results)
		blocks = append(blocks, fmt.Sprintf("**%s**\n\n%s", t.Title, t.markdown()))
	}
	return strings.Join(blocks, "\n")
}

// membershipList is the baseline, the leader removal's bound and the
// check of a membership run, as a Markdown list.
func membershipList(m *load.Membership) string {
	lines := []string{
		fmt.Sprintf("baseline: %s, the longest gap between acknowledgements outside every step (the load's own)", durMillis(m.Baseline)),
		fmt.Sprintf("target: a leader removal's outage <= one election timeout (%s); every other change's <= the baseline",
			durMillis(m.ElectionTimeout)),
		"members at the end: " + strings.Join(m.Members, ", "),
	}
	return bullets(append(lines, verificationLines(&m.Verification)...))
}

// MembershipSteps is one membership run's steps as a table: when each
// started, how long it took, its write outage and whether it met the
// target (load.Membership.Within).
func MembershipSteps(m *load.Membership) *Table {
	t := &Table{Title: "Steps", Header: []string{"step", "node", "at s", "took ms", "outage ms", "attempts", "voters after", "within target"}}
	for _, s := range m.Steps {
		attempts := "-"
		if s.Attempts > 0 {
			attempts = fmt.Sprint(s.Attempts)
		}
		t.Rows = append(t.Rows, []string{s.Kind, s.Node, fmt.Sprintf("%.2f", s.At.Seconds()), msNumber(s.Took),
			msNumber(s.Outage), attempts, fmt.Sprint(s.Voters), targetLabel(m.Within(s))})
	}
	return t
}

// MembershipMedians summarizes the steps of every result with a
// Membership by mode and step kind: how many, the median and range of
// their outage and of their duration, and how many met the target; and
// per mode the median baseline. Nil if no result has a Membership.
func MembershipMedians(results []*load.Result) *Table {
	type key struct{ mode, kind string }
	outs, took, ok, applies := map[key][]float64{}, map[key][]float64{}, map[key]int{}, map[key]bool{}
	base := map[string][]float64{}
	var modes []string
	for _, r := range results {
		m := r.Membership
		if m == nil {
			continue
		}
		mode := r.Spec.Mode
		if base[mode] == nil {
			modes = append(modes, mode)
		}
		base[mode] = append(base[mode], ms(m.Baseline))
		for _, s := range m.Steps {
			k := key{mode, s.Kind}
			outs[k], took[k] = append(outs[k], ms(s.Outage)), append(took[k], ms(s.Took))
			if in, a := m.Within(s); a {
				applies[k] = true
				if in {
					ok[k]++
				}
			}
		}
	}
	if len(modes) == 0 {
		return nil
	}
	t := &Table{Title: "Membership steps: medians over every run",
		Header: []string{"mode", "step", "count", "outage ms median", "outage ms min-max", "took ms median", "took ms min-max", "within target"}}
	for _, mode := range modes {
		for _, kind := range stepKinds {
			k := key{mode, kind}
			if len(outs[k]) == 0 {
				continue
			}
			within := "-"
			if applies[k] {
				within = fmt.Sprintf("%d of %d", ok[k], len(outs[k]))
			}
			t.Rows = append(t.Rows, []string{mode, kind, fmt.Sprint(len(outs[k])), msFloat(Median(outs[k])), msRange(outs[k]),
				msFloat(Median(took[k])), msRange(took[k]), within})
		}
		t.Rows = append(t.Rows, []string{mode, "baseline (no step)", fmt.Sprint(len(base[mode])), msFloat(Median(base[mode])),
			msRange(base[mode]), "-", "-", "-"})
	}
	return t
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// msNumber writes d as whole milliseconds.
func msNumber(d time.Duration) string { return msFloat(ms(d)) }

func msFloat(v float64) string { return fmt.Sprintf("%.0f", v) }

func msRange(vs []float64) string {
	return msFloat(slices.Min(vs)) + "-" + msFloat(slices.Max(vs))
}

func targetLabel(ok, applies bool) string {
	switch {
	case !applies:
		return "-"
	case ok:
		return "yes"
	}
	return "NO"
}
