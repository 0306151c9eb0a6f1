package raft

import (
	"fmt"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// becomeLeader takes over the term: every follower starts in probe, and
// the leader appends a no-op. It commits entries of earlier terms only
// through that no-op (Raft 5.4.2, figure 8): the commit rule counts
// replicas only for entries of the current term.
func (r *Raft) becomeLeader() {
	r.role, r.lead = Leader, r.cfg.ID
	r.votes, r.transferee = nil, ""
	r.resetTimers()
	last := r.log.LastIndex()
	r.prs = make(map[string]*progress, len(r.peers))
	for _, p := range r.peers {
		r.prs[p] = r.newProgress(p)
	}
	r.readDone = r.readSeq // nothing pending from an earlier term
	r.cfg.Logger.Info("raft: elected leader", "term", r.term, "last", last)
	if r.repairing() {
		r.endRepair("it was elected: its log is the group's")
	}
	i, err := r.log.Append(r.term, record.TypeNoop, nil)
	if err != nil {
		r.storageErr("append no-op", err)
		return
	}
	r.noop = i
	r.bcastAppend()
	r.maybeCommit()
}

func (r *Raft) tickLeader() {
	r.heartTick++
	if r.electionTick >= r.cfg.ElectionTicks {
		r.electionTick = 0
		if !r.checkQuorum() {
			return
		}
	}
	// The transfer's own clock: starting a transfer must not restart the
	// check-quorum period, or repeated transfers (an operator retrying, the
	// preferred leader) would keep a cut-off leader in place.
	if r.transferee != "" {
		if r.transferTick++; r.transferTick >= r.cfg.ElectionTicks {
			r.cfg.Logger.Warn("raft: leadership transfer timed out", "to", r.transferee)
			r.transferee = ""
			if r.leaving {
				r.becomeFollower(r.term, "") // removed: step down, the voters elect
				return
			}
			r.preferredWait = r.cfg.PreferredCooldownTicks
		}
	}
	if r.preferredWait > 0 {
		r.preferredWait--
	}
	if r.heartTick < r.cfg.HeartbeatTicks {
		return
	}
	r.heartTick = 0
	for _, p := range r.peers {
		r.heartbeat(r.prs[p])
	}
	r.maybePreferred()
}

// checkQuorum steps down when a majority was not heard from during the last
// election timeout: a leader cut off from the group stops accepting writes
// instead of holding clients until a new leader deposes it.
func (r *Raft) checkQuorum() bool {
	active := 0
	if r.isVoter(r.cfg.ID) {
		active++
	}
	for id, pr := range r.prs {
		if pr.active && r.isVoter(id) {
			active++
		}
		pr.active = false
	}
	if active >= r.quorum() {
		return true
	}
	r.cfg.Logger.Warn("raft: lost contact with a majority; stepping down", "term", r.term, "heard", active)
	r.becomeFollower(r.term, "")
	return false
}

// heartbeat sends a follower the commit index and runs its retransmit
// timer: batches in flight without any ack for RetransmitTicks are resent
// from its match index; a probe left unanswered is sent again.
func (r *Raft) heartbeat(pr *progress) {
	r.send(wire.Msg{Type: wire.TypeHeartbeat, To: pr.id, Commit: min(r.commit, pr.match), Hint: r.readSeq,
		Index: r.log.LastIndex()})
	switch {
	case pr.state == stateProbe:
		pr.probeSent = false
		r.sendAppend(pr)
	case pr.inflight.count > 0:
		pr.idle += r.cfg.HeartbeatTicks
		if pr.idle >= r.cfg.RetransmitTicks {
			r.cfg.Logger.Debug("raft: retransmit", "to", pr.id, "from", pr.match+1, "upto", pr.next-1)
			pr.becomeProbe()
			r.sendAppend(pr)
		}
	}
}

// Propose appends an entry of the current term to the leader's log. It
// does not send it: the driver calls flushAppends after a group of
// proposals, so one batch carries them all.
func (r *Raft) Propose(typ record.Type, payload []byte) (uint64, error) {
	if err := r.CanPropose(); err != nil {
		return 0, err
	}
	if typ == record.TypeConfig {
		return 0, fmt.Errorf("%w: configuration entries are appended only by ProposeChange", ErrMembership)
	}
	i, err := r.log.Append(r.term, typ, payload)
	if err != nil {
		r.storageErr("append", err)
		return 0, err
	}
	return i, nil
}

// ProposeBatch appends es (their Term set here) as consecutive entries and
// returns the last index; like propose, it does not send.
func (r *Raft) ProposeBatch(es []record.Entry) (uint64, error) {
	if err := r.CanPropose(); err != nil {
		return 0, err
	}
	for i := range es {
		if es[i].Type == record.TypeConfig {
			return 0, fmt.Errorf("%w: configuration entries are appended only by ProposeChange", ErrMembership)
		}
		es[i].Term = r.term
	}
	last, err := r.log.AppendBatch(es)
	if err != nil {
		r.storageErr("append", err)
		return 0, err
	}
	return last, nil
}

// CanPropose says why this node cannot append proposals now, if it cannot.
func (r *Raft) CanPropose() error {
	switch {
	case r.stopped != nil:
		return r.stopped
	case r.role != Leader:
		return ErrNotLeader
	case r.transferee != "":
		return ErrTransferring
	}
	return nil
}

// FlushAppends sends every follower what the window allows of new entries
// and commits what the leader's own log alone may decide (a one-node group).
func (r *Raft) FlushAppends() {
	if r.role != Leader {
		return
	}
	r.bcastAppend()
	r.maybeCommit()
}

func (r *Raft) bcastAppend() {
	for _, p := range r.peers {
		r.sendAppends(r.prs[p])
	}
}

// sendAppends sends batches to pr until its window is full or it has
// everything.
//
// Batching: while batches are in flight, only full batches (by count or
// bytes) are sent; a partial one waits for an ack. So under light load an
// entry leaves at once (nothing in flight), and under heavy load the
// entries that arrive during a round trip travel together: fewer, larger
// batches, fewer system calls and acks per entry, the same throughput.
func (r *Raft) sendAppends(pr *progress) {
	for !pr.paused() && r.role == Leader {
		full := pr.state == stateReplicate && pr.inflight.count > 0
		if !r.sendBatch(pr, full) || pr.state == stateProbe {
			return
		}
	}
}

// sendAppend sends one batch (or a probe, or a Reset) and reports whether
// it sent anything.
func (r *Raft) sendAppend(pr *progress) bool { return r.sendBatch(pr, false) }

// sendBatch is sendAppend; with onlyFull it sends only a batch that the
// count or byte limit cut short of the log's end.
func (r *Raft) sendBatch(pr *progress, onlyFull bool) bool {
	if pr.paused() {
		return false
	}
	first, last := r.log.FirstIndex(), r.log.LastIndex()
	if pr.next < first {
		return r.sendReset(pr)
	}
	if pr.next > last && pr.state == stateReplicate {
		return r.sendCommit(pr)
	}
	prevTerm, err := r.log.Term(pr.next - 1)
	if err != nil {
		return r.sendReset(pr)
	}
	m := wire.Msg{Type: wire.TypeAppend, To: pr.id, Index: pr.next - 1, LogTerm: prevTerm}
	hi, n := pr.next-1, 0
	if pr.next <= last {
		hi, n, err = r.log.Span(pr.next, r.cfg.MaxBatchBytes, r.cfg.MaxBatchCount)
		if err != nil {
			r.storageErr("read batch", err)
			return false
		}
		if onlyFull && hi == last {
			return false
		}
		m.Count = uint32(hi - pr.next + 1)
	}
	m.Commit = min(r.commit, hi)
	pr.sentCommit = max(pr.sentCommit, m.Commit)
	r.send(m)
	pr.sent(hi, n)
	return true
}

// sendCommit sends an empty Append that carries a newer commit index to an
// idle follower, so followers learn commits without waiting for a heartbeat.
func (r *Raft) sendCommit(pr *progress) bool {
	if pr.sentCommit >= r.commit || pr.inflight.count > 0 || pr.match != r.log.LastIndex() {
		return false
	}
	pr.sentCommit = r.commit
	r.send(wire.Msg{Type: wire.TypeAppend, To: pr.id, Index: pr.match, LogTerm: r.termAt(pr.match), Commit: r.commit})
	return false
}

// sendReset tells a follower that needs entries this leader no longer has
// to restart its log at the leader's first entry.
func (r *Raft) sendReset(pr *progress) bool {
	base, prevTerm, prevCRC := r.log.Base()
	if pr.resetBase != base.Index { // once per base, not on every retry
		pr.resetBase = base.Index
		r.cfg.Logger.Info("raft: follower is behind retention; resetting its log", "to", pr.id, "next", pr.next, "base", base.Index)
	}
	m := wire.Msg{Type: wire.TypeReset, To: pr.id, Index: base.Index, Offset: base.Offset,
		LogTerm: prevTerm, CRC: prevCRC, Commit: min(r.commit, base.Index-1)}
	if c, ok := r.confBelow(base.Index); ok {
		// The configuration in force at the base, which the follower's
		// restarted log will not hold: one framed entry, checked on receipt.
		e := record.Entry{Index: c.Index, Term: c.Term, Type: record.TypeConfig, Payload: EncodeMembership(c.Membership)}
		m.Entries, m.Count = record.Encode(nil, &e), 1
	}
	r.send(m)
	pr.state, pr.probeSent = stateProbe, true
	pr.inflight.reset()
	return true
}

// handleAck handles a follower's AppendResp or HeartbeatResp.
func (r *Raft) handleAck(m *wire.Msg) {
	pr := r.prs[m.From]
	if pr == nil {
		return // no longer a member (or not yet one)
	}
	pr.active = true
	switch {
	case m.Type == wire.TypeHeartbeatResp:
		if m.Hint > pr.readAck && m.Hint <= r.readSeq {
			pr.readAck = m.Hint
			r.confirmReads()
		}
		if pr.heard(m.Index, m.Durable) {
			r.maybeCommit()
		}
		if pr.match < r.log.LastIndex() {
			r.sendAppends(pr)
		}
	case m.Reject():
		r.handleReject(pr, m)
	default:
		if pr.acked(m.Index, m.Durable) {
			r.maybeCommit()
		}
		r.maybeTimeoutNow(pr)
		r.sendAppends(pr)
	}
}

// handleReject moves next back to where the follower's log may match,
// using its conflict hint: the largest index <= hint whose term is <= the
// hint's term is the first candidate on both sides, so each diverging term
// costs one round trip, not each entry.
func (r *Raft) handleReject(pr *progress, m *wire.Msg) {
	if m.Index < pr.match || (pr.state == stateProbe && m.Index != pr.next-1) {
		return // stale: an answer to something sent before a newer probe
	}
	if m.Hint < pr.match {
		// The follower holds less than it acknowledged: it restarted after
		// losing entries it had not fsynced. Only its fsynced index ever
		// counted under SYNC_FLUSH; under ASYNC_FLUSH this is the documented
		// risk of that mode.
		r.cfg.Logger.Warn("raft: follower lost acknowledged entries it had not fsynced", "id", pr.id,
			"acknowledged", pr.match, "holds", m.Hint)
		pr.match, pr.durable = m.Hint, min(pr.durable, m.Hint)
	}
	next := r.conflictIndex(min(m.Hint, r.log.LastIndex()), m.LogTerm) + 1
	pr.becomeProbe()
	pr.next = max(next, pr.match+1)
	r.sendAppend(pr)
}

// conflictIndex returns the largest i <= index whose term is <= term, or
// an index below FirstIndex()-1 when the log holds no such entry. Terms never decrease
// along a log, so it bisects.
func (r *Raft) conflictIndex(index, term uint64) uint64 {
	lo := r.log.FirstIndex() - 1
	if index < lo {
		return index
	}
	if r.termAt(index) <= term {
		return index
	}
	if r.termAt(lo) > term {
		// Even the entry before our first conflicts: the answer is below
		// our log (lo >= 1 here, as term(0) = 0), so the leader resets.
		return lo - 1
	}
	hi := index // term(hi) > term; find the last i in [lo, hi) with term(i) <= term
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		if r.termAt(mid) <= term {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// maybeCommit advances the commit index to the highest index a majority
// counts (the leader's own count under SYNC_FLUSH is its fsynced index),
// if that entry belongs to the current term.
func (r *Raft) maybeCommit() {
	if r.role != Leader {
		return
	}
	r.counted = r.counted[:0]
	for _, p := range r.voters {
		if p == r.cfg.ID {
			r.counted = append(r.counted, r.selfCounted())
			continue
		}
		pr := r.prs[p]
		if r.cfg.SyncQuorum {
			r.counted = append(r.counted, pr.durable)
		} else {
			r.counted = append(r.counted, pr.match)
		}
	}
	if len(r.counted) == 0 {
		return
	}
	q := quorumIndex(r.counted, r.scratch)
	if q <= r.commit || r.termAt(q) != r.term {
		return
	}
	r.commit = q
	for _, p := range r.peers {
		r.sendCommit(r.prs[p])
	}
	r.confCommitted()
}

func (r *Raft) selfCounted() uint64 {
	if r.cfg.SyncQuorum {
		return min(r.durable, r.log.LastIndex())
	}
	return r.log.LastIndex()
}

// Transfer starts a leadership Transfer to id: writes are refused until it
// completes or an election timeout passes.
func (r *Raft) Transfer(id string) error {
	switch {
	case r.stopped != nil:
		return r.stopped
	case r.role != Leader:
		return ErrNotLeader
	case id == r.cfg.ID:
		return nil
	case r.prs[id] == nil || !r.isVoter(id):
		return fmt.Errorf("engine: transfer to %q: not a voting member of this group (%s)", id, r.conf.String())
	}
	r.transferee, r.transferTick = id, 0
	r.cfg.Logger.Info("raft: transferring leadership", "to", id, "term", r.term)
	pr := r.prs[id]
	r.maybeTimeoutNow(pr)
	r.sendAppends(pr)
	return nil
}

// maybeTimeoutNow tells the transfer target to campaign once it has every entry.
func (r *Raft) maybeTimeoutNow(pr *progress) {
	if r.transferee == pr.id && pr.match == r.log.LastIndex() {
		r.send(wireTimeoutNow(pr.id, r.log.LastIndex()))
		if r.leaving {
			r.becomeFollower(r.term, "") // removed: nothing more to lead
		}
	}
}

func wireTimeoutNow(to string, last uint64) wire.Msg {
	return wire.Msg{Type: wire.TypeTimeoutNow, To: to, Index: last}
}

// maybePreferred moves leadership to the preferred leader once it is
// reachable and caught up (checked each heartbeat; after a failed attempt,
// not again for PreferredCooldownTicks).
func (r *Raft) maybePreferred() {
	p := r.cfg.Preferred
	if p == "" || p == r.cfg.ID || r.transferee != "" || r.preferredWait > 0 || !r.Writable() {
		return
	}
	if pr := r.prs[p]; pr != nil && r.isVoter(p) && pr.active && pr.match == r.log.LastIndex() {
		r.cfg.Logger.Info("raft: moving leadership to the preferred leader", "to", p)
		_ = r.Transfer(p)
	}
}
