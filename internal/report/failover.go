package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

// failoverBlocks describes every result that has a Failover, as a
// bold line and a list each, a blank line between them; "" if none has.
func failoverBlocks(results []*load.Result) string {
	var blocks []string
	for _, r := range results {
		if r.Failover != nil {
			blocks = append(blocks, fmt.Sprintf("**%s**\n\n%s", r.Name, failoverList(r.Failover)))
		}
	}
	return strings.Join(blocks, "\n")
}

// failoverList is what one failover measured, as a Markdown list.
func failoverList(f *load.Failover) string {
	lines := []string{
		fmt.Sprintf("old leader: %s, new leader: %s", f.OldLeader, f.NewLeader),
		fmt.Sprintf("kill at %s, outage %s (last acknowledgement before the kill to the first after it)",
			seconds(f.KillAt), durMillis(f.Outage)),
		fmt.Sprintf("restart at %s, catch-up %s (restart to the old leader holding the commit index of the restart)",
			seconds(f.RestartAt), durMillis(f.CatchUp)),
	}
	return bullets(append(lines, verificationLines(&f.Verification)...))
}

// verificationLines are the check's lines of a failover or membership run.
func verificationLines(v *load.Verification) []string {
	lines := []string{
		fmt.Sprintf("acknowledged: %d, lost: %s", v.Acknowledged, lostLabel(v.Lost)),
		fmt.Sprintf("duplicates: %d", v.Duplicates),
		"verified: " + verifiedLabel(v.Verified),
	}
	if v.Diverged != "" {
		lines = append(lines, "REPLICAS DIVERGE: "+v.Diverged)
	}
	if v.Detail != "" {
		lines = append(lines, "detail: "+v.Detail)
	}
	return lines
}

// lostLabel is "0", or the count and the first maxLost sequences.
func lostLabel(lost []uint64) string {
	if len(lost) == 0 {
		return "0"
	}
	shown := lost[:min(len(lost), maxLost)]
	s := strings.Trim(fmt.Sprint(shown), "[]")
	s = fmt.Sprintf("%d (sequences %s", len(lost), strings.ReplaceAll(s, " ", ", "))
	if len(lost) > maxLost {
		s += fmt.Sprintf(", ... first %d shown", maxLost)
	}
	return s + ")"
}

func verifiedLabel(v bool) string {
	if v {
		return "yes"
	}
	return "NO (the check did not run to completion)"
}

// seconds writes d as seconds with two decimals.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// durMillis writes d in milliseconds, with one decimal below 10 ms.
func durMillis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}
