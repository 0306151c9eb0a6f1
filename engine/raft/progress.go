package raft

// progress is what a leader knows about one follower and the decisions of
// that follower's dispatcher: what to send next, how much may be in flight,
// and what to resend after a loss. It is pure state; the leader (raft)
// drives it, and the dispatcher goroutine only carries out the sends.
//
// A follower is in one of three states:
//   - probe: the leader does not know where the follower's log matches its
//     own. It sends one Append (or a Reset) and waits for the answer (or a
//     heartbeat interval) before sending another.
//   - replicate: the logs match up to match. The leader streams batches
//     from next without waiting, up to a window of in-flight batches
//     bounded by count and bytes; each accepted answer frees the window up
//     to the index it acknowledges.
//
// Small-range retransmit: a reject, a send failure (the connection broke)
// or an ack that does not arrive within the retransmit timeout move the
// follower back to probe with next = match+1, so exactly the unacknowledged
// range is sent again, never the whole log, and the window is empty again.
type progress struct {
	id      string
	match   uint64 // highest index known to match the leader's log
	durable uint64 // highest index the follower reported fsynced (<= match)
	next    uint64 // next index to send
	state   progressState
	// probeSent: in probe, an Append or Reset is outstanding; nothing more is
	// sent until its answer or the next heartbeat.
	probeSent bool
	inflight  inflights
	// active: heard from in the current check-quorum period.
	active bool
	// idle counts heartbeat intervals without an ack while batches were in
	// flight; at the retransmit timeout they are resent.
	idle int
	// sentCommit is the highest commit index sent to the follower.
	sentCommit uint64
	// resetBase is the base of the last Reset sent (for logging once).
	resetBase uint64
	// readAck is the highest read round (Heartbeat hint) the follower
	// answered in this term.
	readAck uint64
}

type progressState uint8

const (
	stateProbe progressState = iota
	stateReplicate
)

func (s progressState) String() string {
	if s == stateReplicate {
		return "replicate"
	}
	return "probe"
}

// becomeProbe restarts the follower from its match index: everything
// unacknowledged will be sent again, and nothing is in flight.
func (p *progress) becomeProbe() { p.restart(stateProbe) }

// becomeReplicate starts streaming after the follower's log matched.
func (p *progress) becomeReplicate() { p.restart(stateReplicate) }

// restart enters state with next = match+1 and nothing in flight.
func (p *progress) restart(state progressState) {
	p.state = state
	p.next = p.match + 1
	p.probeSent = false
	p.inflight.reset()
	p.idle = 0
}

// paused reports whether the leader must not send the follower entries now.
func (p *progress) paused() bool {
	if p.state == stateProbe {
		return p.probeSent
	}
	return p.inflight.full()
}

// sent records a batch [p.next, last] of n bytes sent.
func (p *progress) sent(last uint64, n int) {
	if p.state == stateProbe {
		p.probeSent = true
		return
	}
	p.next = last + 1
	p.inflight.add(last, n)
}

// acked records an accepted Append answer: the follower's log matches up
// to index, and has it fsynced up to durable. It reports whether anything
// changed.
func (p *progress) acked(index, durable uint64) bool { return p.ack(index, durable, true) }

// heard records a HeartbeatResp: the follower's log matches up to index
// (what it matched with this leader so far; 0 before its first accepted
// Append). It ends a probe only if index reaches the probe's position: a
// new leader's first heartbeat answer says nothing about where a lagging
// follower's log matches, and ending the probe there streamed the whole
// log from index 1 (found by the durability review).
func (p *progress) heard(index, durable uint64) bool {
	return p.ack(index, durable, p.state != stateProbe || index+1 >= p.next)
}

func (p *progress) ack(index, durable uint64, confirmsProbe bool) bool {
	changed := false
	if index > p.match {
		p.match, changed = index, true
	}
	if p.state == stateProbe && index >= p.match && confirmsProbe {
		// The probe matched, even if at the old match index (a follower
		// that restarted holding everything): stream from here. Staying in
		// probe sent an empty Append per answer, a busy loop in an idle
		// group (found by TestRepairEndsWhenHoldingLeaderLog).
		p.becomeReplicate()
	}
	if p.next <= p.match {
		p.next = p.match + 1
	}
	if d := min(durable, index); d > p.durable {
		p.durable, changed = d, true
	}
	if p.inflight.freeTo(index) {
		p.idle = 0
	}
	if p.state == stateProbe {
		p.probeSent = false
	}
	return changed
}

// inflights is the window of batches sent to a follower and not yet
// acknowledged: a ring of each batch's last index and size.
type inflights struct {
	maxCount int
	maxBytes int
	last     []uint64 // ring of batch last indexes, oldest at start
	size     []int
	start    int
	count    int
	bytes    int
}

func newInflights(maxCount, maxBytes int) inflights {
	return inflights{maxCount: maxCount, maxBytes: maxBytes,
		last: make([]uint64, maxCount), size: make([]int, maxCount)}
}

func (in *inflights) full() bool {
	return in.count >= in.maxCount || (in.count > 0 && in.bytes >= in.maxBytes)
}

func (in *inflights) add(last uint64, n int) {
	if in.count == in.maxCount {
		panic("engine: inflights overflow")
	}
	k := (in.start + in.count) % in.maxCount
	in.last[k], in.size[k] = last, n
	in.count++
	in.bytes += n
}

// freeTo drops every batch whose last index is <= index and reports
// whether any was dropped.
func (in *inflights) freeTo(index uint64) bool {
	freed := false
	for in.count > 0 && in.last[in.start] <= index {
		in.bytes -= in.size[in.start]
		in.start = (in.start + 1) % in.maxCount
		in.count--
		freed = true
	}
	return freed
}

func (in *inflights) reset() { in.start, in.count, in.bytes = 0, 0, 0 }
