package raft

import (
	"testing"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/replication/wire"
)

func TestInflightsWindow(t *testing.T) {
	tests := []struct {
		name           string
		maxCount, maxB int
		sizes          []int
		fullAfter      int // number of adds after which full() first holds
	}{
		{"by count", 3, 1 << 20, []int{10, 10, 10}, 3},
		{"by bytes", 8, 100, []int{60, 60}, 2},
		{"one batch over the byte limit", 8, 100, []int{500}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInflights(tt.maxCount, tt.maxB)
			for k, n := range tt.sizes {
				if in.full() {
					t.Fatalf("full after %d adds, want %d", k, tt.fullAfter)
				}
				in.add(uint64(10*(k+1)), n)
			}
			if !in.full() {
				t.Fatalf("not full after %d adds", len(tt.sizes))
			}
			if !in.freeTo(10) || in.count != len(tt.sizes)-1 {
				t.Fatalf("freeTo(10) left %d batches", in.count)
			}
			if in.freeTo(5) {
				t.Fatal("freeTo below every batch freed something")
			}
			in.freeTo(1 << 60)
			if in.count != 0 || in.bytes != 0 || in.full() {
				t.Fatalf("after freeing all: count %d bytes %d", in.count, in.bytes)
			}
		})
	}
}

// proposeN appends n entries on the leader and sends once, as the node
// does with a group of concurrent appends.
func (s *sim) proposeN(l *simNode, n int) {
	for range n {
		if _, err := l.r.Propose(record.TypeNormal, []byte("payload")); err != nil {
			s.t.Fatal(err)
		}
	}
	l.r.FlushAppends()
	s.after(l)
}

func appendsTo(s *sim, id string) []wire.Msg {
	var out []wire.Msg
	for _, m := range s.net {
		if m.m.Type == wire.TypeAppend && m.m.To == id && m.m.Count > 0 {
			out = append(out, m.m)
		}
	}
	return out
}

// TestWindowAndRetransmit drives the dispatcher decisions: a full window
// stops sending; lost acks make the leader resend exactly from the
// follower's match index after the retransmit timeout; a broken connection
// does so at once; nothing is lost or duplicated in the follower's log.
func TestWindowAndRetransmit(t *testing.T) {
	s := newManual(t, 3, false)
	s.campaign("n0")
	s.settle(true, nil)
	l := s.node("n0")
	start := l.log.LastIndex()
	s.proposeN(l, 30)
	got := appendsTo(s, "n1")
	cfg := l.r.cfg
	if len(got) != cfg.WindowBatches {
		t.Fatalf("%d batches in flight, window is %d", len(got), cfg.WindowBatches)
	}
	for k, m := range got {
		if m.Index != start+uint64(k*cfg.MaxBatchCount) || int(m.Count) != cfg.MaxBatchCount {
			t.Fatalf("batch %d: after %d, %d entries; want after %d, %d", k, m.Index, m.Count,
				start+uint64(k*cfg.MaxBatchCount), cfg.MaxBatchCount)
		}
	}
	// n1 stores the window but every ack is lost.
	noAcks := func(m *wire.Msg) bool { return !(m.From == "n1" && m.Type == wire.TypeAppendResp) }
	s.settle(true, noAcks)
	match := l.r.prs["n1"].match
	s.net = nil
	var resent []wire.Msg
	for i := 0; len(resent) == 0; i++ {
		if i > cfg.RetransmitTicks+cfg.HeartbeatTicks {
			t.Fatalf("no retransmit within %d ticks", i)
		}
		s.tickN("n0", 1)
		resent = appendsTo(s, "n1")
		s.net = nil
	}
	if resent[0].Index != match {
		t.Fatalf("retransmit starts after %d, follower's match is %d", resent[0].Index, match)
	}
	// The follower still holds the batches, so the resend is accepted
	// without storing anything twice; then the window streams again.
	s.settle(true, nil)
	for range 20 {
		s.step2()
	}
	// A connection cut mid-window: the leader restarts from match at once.
	s.proposeN(l, 9)
	s.net = nil
	l.r.Unreachable("n1")
	if pr := l.r.prs["n1"]; pr.state != stateProbe || pr.next != pr.match+1 || pr.inflight.count != 0 {
		t.Fatalf("after unreachable: %s next %d match %d inflight %d", pr.state, pr.next, pr.match, pr.inflight.count)
	}
	for range 40 {
		s.step2()
	}
	f := s.node("n1")
	if f.log.LastIndex() != l.log.LastIndex() || l.r.commit != l.log.LastIndex() {
		t.Fatalf("not caught up: %s", s.describe())
	}
	for i := f.log.FirstIndex(); i <= f.log.LastIndex(); i++ {
		a, _ := f.log.crcAt(i)
		b, _ := l.log.crcAt(i)
		if a != b {
			t.Fatalf("entry %d differs between leader and follower", i)
		}
	}
}

// TestProbeAckAtMatch: a probe answered at the match index the leader
// already had (a follower that restarted holding everything) ends the
// probe; staying in probe sent an empty Append per answer, forever, in an
// idle group.
func TestProbeAckAtMatch(t *testing.T) {
	p := &progress{match: 5, inflight: newInflights(4, 1<<20)}
	p.becomeProbe()
	p.sent(5, 0)
	if !p.paused() {
		t.Fatal("probe not paused after its send")
	}
	p.acked(5, 5)
	if p.state != stateReplicate || p.next != 6 || p.paused() {
		t.Fatalf("after an ack at the match index: state %v next %d paused %v; want replicate from 6", p.state, p.next, p.paused())
	}
}
