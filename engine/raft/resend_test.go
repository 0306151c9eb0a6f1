package raft

import (
	"testing"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// TestNewLeaderResendsOnlyWhatIsMissing (from the durability review): a new
// leader's progress for a lagging follower starts in probe with match 0. The
// follower answers the leader's first heartbeat with HeartbeatResp{Index:
// matched = 0} (it has not accepted an Append of this leader yet). That
// answer used to end the probe ("index >= match": 0 >= 0) with next = 1, and
// the leader streamed its whole log to a follower that lacked only the tail
// (24 of 77 entries sent were redundant here; up to 8 MiB per bounce by
// default). Now a heartbeat answer ends a probe only at the probe's position.
func TestNewLeaderResendsOnlyWhatIsMissing(t *testing.T) {
	s := newManual(t, 3, true)
	s.campaign("n0")
	s.settle(true, nil)
	for range 50 {
		s.propose(s.node("n0"))
	}
	s.settle(true, nil)
	s.isolate("n2") // n2 lags from here: it holds [1,51]
	for range 50 {
		s.propose(s.node("n0"))
	}
	s.settle(true, nil)
	if l := s.node("n2").log.LastIndex(); l != 51 {
		t.Fatalf("n2 holds up to %d", l)
	}
	// n0 goes away; n1 (holding 101 entries) is elected; n2 returns.
	s.node("n0").up = false
	clear(s.cut)
	s.isolate("n0")
	s.net = nil
	s.tickN("n1", s.node("n1").r.cfg.ElectionTicks) // lease over
	s.tickN("n2", s.node("n2").r.cfg.ElectionTicks)
	var resent, sent int
	s.onSend = func(m *wire.Msg) {
		if m.From == "n1" && m.To == "n2" && m.Type == wire.TypeAppend {
			sent += int(m.Count)
			if testing.Verbose() && m.Count > 0 {
				t.Logf("n1->n2 Append prev %d count %d", m.Index, m.Count)
			}
			if m.Index < 51 && m.Count > 0 {
				resent += int(m.Count)
			}
		}
	}
	s.campaign("n1")
	// The new leader's first probe to n2 is lost (or slow, or needs a few
	// conflict round trips): n2 hears the first heartbeat before any Append.
	dropped := false
	s.settle(true, func(m *wire.Msg) bool {
		if !dropped && m.From == "n1" && m.To == "n2" && m.Type == wire.TypeAppend {
			dropped = true
			return false
		}
		return true
	})
	for range 10 {
		s.tickN("n1", s.node("n1").r.cfg.HeartbeatTicks)
		s.settle(true, nil)
	}
	s.settle(true, nil)
	s.mustLead("n1")
	t.Logf("entries sent n1->n2: %d, of which %d n2 already held (indexes <= 51)", sent, resent)
	if resent > 0 {
		t.Errorf("the new leader resent %d entries n2 already held (it lacked only 52..102)", resent)
	}
}
