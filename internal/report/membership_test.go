package report

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

// membershipRun is a membership result with two changes and a retire.
func membershipRun(mode string, round int, leaderOutage time.Duration) *load.Result {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	return &load.Result{Name: "rmqlog " + mode + " membership", Round: round, Spec: load.Spec{Mode: mode},
		Membership: &load.Membership{
			Baseline: ms(10), ElectionTimeout: ms(300), Members: []string{"n2", "n3", "n4"},
			Verification: load.Verification{Acknowledged: 100, Verified: true},
			Steps: []load.Step{
				{Kind: load.Promote, Node: "n3", At: ms(1500), Took: ms(800), Outage: ms(4), Attempts: 5, Voters: 4},
				{Kind: load.RemoveLeader, Node: "n0", At: ms(4000), Took: ms(30), Outage: leaderOutage, Attempts: 1, Voters: 3},
				{Kind: load.Retire, Node: "n0", At: ms(5500), Took: ms(20), Outage: ms(2), Voters: 3},
			},
		}}
}

func TestMembershipSteps(t *testing.T) {
	tb := MembershipSteps(membershipRun("SYNC_FLUSH", 0, 400*time.Millisecond).Membership)
	want := [][]string{
		{"promote", "n3", "1.50", "800", "4", "5", "4", "yes"},
		{"remove leader", "n0", "4.00", "30", "400", "1", "3", "NO"},
		{"retire", "n0", "5.50", "20", "2", "-", "3", "-"},
	}
	if !slices.EqualFunc(tb.Rows, want, slices.Equal) {
		t.Fatalf("rows\n%v\nwant\n%v", tb.Rows, want)
	}
}

func TestMembershipMedians(t *testing.T) {
	if MembershipMedians([]*load.Result{{Name: "plain"}}) != nil {
		t.Fatal("a table without membership results")
	}
	var rs []*load.Result
	for k, d := range []int{20, 40, 400} {
		rs = append(rs, membershipRun("SYNC_FLUSH", k+1, time.Duration(d)*time.Millisecond))
	}
	tb := MembershipMedians(rs)
	want := [][]string{
		{"SYNC_FLUSH", "promote", "3", "4", "4-4", "800", "800-800", "3 of 3"},
		{"SYNC_FLUSH", "remove leader", "3", "40", "20-400", "30", "30-30", "2 of 3"},
		{"SYNC_FLUSH", "retire", "3", "2", "2-2", "20", "20-20", "-"},
		{"SYNC_FLUSH", "baseline (no step)", "3", "10", "10-10", "-", "-", "-"},
	}
	if !slices.EqualFunc(tb.Rows, want, slices.Equal) {
		t.Fatalf("rows\n%v\nwant\n%v", tb.Rows, want)
	}
	md := renderSummary(Meta{Title: "membership"}, rs, nil, nil)
	for _, w := range []string{"## Membership changes", "| remove leader | n0 | 4.00 | 30 | 400 | 1 | 3 | NO |",
		"baseline: 10 ms", "lost: 0", "Membership steps: medians over every run"} {
		if !strings.Contains(md, w) {
			t.Errorf("summary.md lacks %q:\n%s", w, md)
		}
	}
}
