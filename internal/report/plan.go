package report

import (
	"slices"
	"strconv"
	"strings"

	"github.com/rmqlog/rmqlog/internal/load"
)

// maxLines is the most results drawn on one plot before the plots are
// split by payload size.
const maxLines = 8

// plan is the set of files Write produces for a list of results, decided
// before anything is written so that summary.md can list them.
type plan struct {
	results   []*load.Result
	hgrm      []string // by result; "" if it has no histogram
	groups    []group
	failovers []failoverFile
}

// group is the results drawn together on one latency and one throughput
// plot.
type group struct {
	label      string // "" or the payload size, for plot titles
	latency    string // file name, "" if no member has a histogram
	throughput string // file name, "" if no member has Seconds
	members    []int  // indexes into plan.results
}

// failoverFile is one failover plot.
type failoverFile struct {
	name   string
	result int
}

// planFiles decides the file names for results.
func planFiles(results []*load.Result) plan {
	p := plan{results: results, hgrm: make([]string, len(results))}
	slugs := uniqueSlugs(results)
	for i, r := range results {
		if hasHist(r) {
			p.hgrm[i] = slugs[i] + ".hgrm"
		}
	}
	p.groups = groupResults(results)
	p.failovers = failoverFiles(results, slugs)
	return p
}

// files lists every file Write writes, summary.md first.
func (p plan) files() []string {
	fs := []string{"summary.md", "summary.json"}
	for _, h := range p.hgrm {
		if h != "" {
			fs = append(fs, h)
		}
	}
	for _, g := range p.groups {
		for _, f := range []string{g.latency, g.throughput} {
			if f != "" {
				fs = append(fs, f)
			}
		}
	}
	for _, f := range p.failovers {
		fs = append(fs, f.name)
	}
	return fs
}

// uniqueSlugs returns Slug of every result's name, with -2, -3, ...
// appended where two names give the same slug.
func uniqueSlugs(results []*load.Result) []string {
	seen := map[string]bool{}
	out := make([]string, len(results))
	for i, r := range results {
		s := Slug(r.Name)
		for n := 2; seen[s]; n++ {
			s = Slug(r.Name) + "-" + strconv.Itoa(n)
		}
		seen[s] = true
		out[i] = s
	}
	return out
}

// groupResults puts all results in one group, or, when there are more
// than maxLines of them, only the first round's (the others are in
// summary.md and the .hgrm files), and if that is still more than
// maxLines with several payload sizes, one group per payload size in
// ascending order.
func groupResults(results []*load.Result) []group {
	var sizes []int
	var shown []int // indexes drawn: every result, or round 1's
	rounds := 0
	for _, r := range results {
		rounds = max(rounds, r.Round)
	}
	for i, r := range results {
		if len(results) <= maxLines || r.Round <= 1 {
			shown = append(shown, i)
			if !slices.Contains(sizes, r.Spec.Payload) {
				sizes = append(sizes, r.Spec.Payload)
			}
		}
	}
	label := ""
	if len(shown) < len(results) {
		label = "round 1 of " + strconv.Itoa(rounds)
	}
	if len(shown) <= maxLines || len(sizes) < 2 {
		return []group{newGroup(results, label, "", shown)}
	}
	slices.Sort(sizes)
	var gs []group
	for _, size := range sizes {
		var members []int
		for _, i := range shown {
			if results[i].Spec.Payload == size {
				members = append(members, i)
			}
		}
		l := load.Size(size)
		suffix := "-" + Slug(strings.ReplaceAll(l, " ", ""))
		if label != "" {
			l += ", " + label
		}
		gs = append(gs, newGroup(results, l, suffix, members))
	}
	return gs
}

// newGroup names a group's plot files with suffix (before ".png").
func newGroup(results []*load.Result, label, suffix string, members []int) group {
	g := group{label: label, members: members}
	for _, i := range members {
		if hasHist(results[i]) {
			g.latency = "latency" + suffix + ".png"
		}
		if len(results[i].Seconds) > 0 {
			g.throughput = "throughput" + suffix + ".png"
		}
	}
	return g
}

// failoverFiles names the failover plots: failover.png if one result has
// Failover and Ticks, failover-<slug>.png for each if several do.
func failoverFiles(results []*load.Result, slugs []string) []failoverFile {
	var fs []failoverFile
	for i, r := range results {
		if r.Failover != nil && len(r.Ticks) > 0 {
			fs = append(fs, failoverFile{name: "failover-" + slugs[i] + ".png", result: i})
		}
	}
	if len(fs) == 1 {
		fs[0].name = "failover.png"
	}
	return fs
}

func hasHist(r *load.Result) bool {
	return r.Hist != nil && r.Hist.TotalCount() > 0
}
