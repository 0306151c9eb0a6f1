package load

import (
	"testing"
	"time"
)

func TestMembershipWithin(t *testing.T) {
	m := &Membership{Baseline: 20 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond}
	for _, c := range []struct {
		kind        string
		outage      time.Duration
		ok, applies bool
	}{
		{RemoveLeader, 300 * time.Millisecond, true, true},
		{RemoveLeader, 301 * time.Millisecond, false, true},
		{RemoveFollower, 20 * time.Millisecond, true, true},
		{Promote, 21 * time.Millisecond, false, true},
		{AddLearner, 0, true, true},
		{StartNode, time.Second, false, false},
		{Retire, 0, false, false},
	} {
		ok, applies := m.Within(Step{Kind: c.kind, Outage: c.outage})
		if ok != c.ok || applies != c.applies {
			t.Errorf("%s, outage %v: %v, %v; want %v, %v", c.kind, c.outage, ok, applies, c.ok, c.applies)
		}
	}
}
