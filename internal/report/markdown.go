package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

// maxLost is how many lost sequences a failover block lists.
const maxLost = 20

// resultHeader is the header of the results table.
var resultHeader = []string{
	"name", "system", "mode", "payload", "form", "producers / rate", "msgs/s", "MB/s",
	"p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "p99.99 ms", "max ms", "errors", "node CPU s", "CPU us/msg",
}

// renderSummary returns summary.md.
func renderSummary(m Meta, results []*load.Result, extra *Table, files []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", orUnknown(m.Title))
	if m.Incomplete != "" {
		fmt.Fprintf(&b, "**Incomplete run** (not used for results/README.md): %s\n\n", m.Incomplete)
	}
	b.WriteString(resultsTable(results).markdown())
	if fo := failoverBlocks(results); fo != "" {
		b.WriteString("\n## Failover\n\n" + fo)
	}
	if mb := membershipBlocks(results); mb != "" {
		b.WriteString("\n## Membership changes\n\n" + mb)
	}
	if extra != nil {
		fmt.Fprintf(&b, "\n## %s\n\n%s", orUnknown(extra.Title), extra.markdown())
	}
	b.WriteString("\n## Run\n\n" + runRecord(m))
	if len(m.Notes) > 0 {
		b.WriteString("\n## Notes\n\n" + bullets(m.Notes))
	}
	b.WriteString("\n## Files\n\n")
	for _, f := range files {
		fmt.Fprintf(&b, "- [%s](%s)\n", f, f)
	}
	return b.String()
}

// runRecord lists the command, commit, machine and start of a run.
func runRecord(m Meta) string {
	return fmt.Sprintf("- command: `%s`\n- commit: `%s`\n- machine: %s\n- start: %s\n",
		strings.ReplaceAll(m.Command, "`", "'"), orUnknown(m.Commit), m.Machine, m.Start.UTC().Format(time.DateTime+" MST"))
}

func bullets(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("- " + l + "\n")
	}
	return b.String()
}

// resultsTable returns one row per result.
func resultsTable(results []*load.Result) *Table {
	t := &Table{Header: resultHeader}
	for _, r := range results {
		l := r.Latency
		t.Rows = append(t.Rows, []string{
			r.Name, r.Spec.System, r.Spec.Mode, load.Size(r.Spec.Payload), string(r.Spec.Form),
			loadLabel(r.Spec), fmt.Sprintf("%.0f", r.MsgsPerSec), twoDigits(r.MBPerSec),
			millis(l.P50), millis(l.P90), millis(l.P99), millis(l.P999), millis(l.P9999), millis(l.Max),
			errorsLabel(r.Errors), cpuSeconds(r), cpuPerMsg(r),
		})
	}
	return t
}

// markdown returns t as a Markdown table (without its title).
func (t *Table) markdown() string {
	var b strings.Builder
	row := func(cells []string) {
		for _, c := range cells {
			b.WriteString("| " + strings.ReplaceAll(c, "|", `\|`) + " ")
		}
		b.WriteString("|\n")
	}
	row(t.Header)
	row(slices.Repeat([]string{"---"}, len(t.Header)))
	for _, r := range t.Rows {
		row(r)
	}
	return b.String()
}

// millis writes microseconds as milliseconds with 2-3 significant digits.
func millis(us int64) string {
	v := float64(us) / 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// twoDigits writes v with one decimal, or two below 10.
func twoDigits(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// loadLabel is the producers (closed), appends in flight (pipelined) or
// rate and cap (open) of a spec.
func loadLabel(s load.Spec) string {
	if s.Form == load.Open {
		return fmt.Sprintf("%d/s, cap %d", s.Rate, s.Producers)
	}
	return fmt.Sprint(s.Producers)
}

// errorsLabel is the total of errs with each kind: "3 (timeout 2, refused 1)".
func errorsLabel(errs map[string]int64) string {
	var total int64
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		if errs[k] != 0 {
			total += errs[k]
			kinds = append(kinds, fmt.Sprintf("%s %d", k, errs[k]))
		}
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(kinds, ", "))
}

// nodeCPU is the CPU time of all nodes during r.
func nodeCPU(r *load.Result) time.Duration {
	var d time.Duration
	for _, c := range r.NodeCPU {
		d += c
	}
	return d
}

func cpuSeconds(r *load.Result) string {
	if len(r.NodeCPU) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", nodeCPU(r).Seconds())
}

// cpuPerMsg is the nodes' CPU microseconds per acknowledged append.
func cpuPerMsg(r *load.Result) string {
	if len(r.NodeCPU) == 0 || r.Acked == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(nodeCPU(r).Nanoseconds())/1e3/float64(r.Acked))
}
