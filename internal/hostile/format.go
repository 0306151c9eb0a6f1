package hostile

import (
	"fmt"
	"strings"
	"time"
)

// Format renders a report as Markdown: a header naming the node and the
// bounds, then one table row per case.
func Format(r Report) string {
	var b strings.Builder
	form := "short"
	if r.Long {
		form = "long"
	}
	fmt.Fprintf(&b, "Hostile input against node %s (client %s, peer %s, pid %d), %s form.\n\n",
		r.Node, r.Target.ClientAddr, r.Target.PeerAddr, r.Target.Pid, form)
	fmt.Fprintf(&b, "VmRSS baseline %s (of which RssAnon %s; the rest is the mapped log files); bounds: a case's peak at most %s "+
		"above its start and %s (baseline + 2 × %s) in all; VmHWM at the end %s; %d open descriptors at the start.\n\n",
		mib(r.Baseline), mib(r.Anon), mib(r.RSSBound), mib(r.Baseline+2*r.RSSBound), mib(r.RSSBound), mib(r.HWM), r.FDs)
	b.WriteString("| case | port | conns | bytes sent | node answered | bystander | VmRSS before / after / peak (MiB) | RssAnon before / after (MiB) | fds before / after | log lines | took | result |\n")
	b.WriteString("|---|---|---:|---:|---|---|---|---|---|---|---:|---|\n")
	for _, row := range r.Rows {
		result := "ok"
		if row.Failed() {
			result = "**FAILED**: " + strings.Join(row.Failures, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %.1f / %.1f / %.1f | %.1f / %.1f | %d / %d | %s | %s | %s |\n",
			row.Case, row.Port, row.Conns, bytesOf(row.BytesSent), cell(row.Answer), cell(row.Bystander),
			float64(row.RSSBefore)/(1<<20), float64(row.RSSAfter)/(1<<20), float64(row.RSSPeak)/(1<<20),
			float64(row.AnonBefore)/(1<<20), float64(row.AnonAfter)/(1<<20), row.FDsBefore, row.FDsAfter, cell(logCell(row)), row.Took.Round(10*time.Millisecond), cell(result))
	}
	return b.String()
}

// logCell is the count of a case's log lines and the first of them.
func logCell(row Row) string {
	if row.LogCount == 0 {
		return "0"
	}
	return fmt.Sprintf("%d, e.g. `%s`", row.LogCount, shortLine(row.LogSample[0], 140))
}

// cell makes s safe in a table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func bytesOf(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
