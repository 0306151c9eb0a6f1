package raft

import (
	"errors"
	"fmt"
	"slices"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// handleAppend stores a leader's batch. The follower checks that its log
// holds the entry before the batch (Index, LogTerm); if not, it rejects
// with a conflict hint. Entries it already has with the same term are
// skipped (appends are idempotent, so a retransmit is harmless); at the
// first entry whose term differs it truncates its suffix, and it stores the
// rest of the leader's bytes as they are.
func (r *Raft) handleAppend(m *wire.Msg) {
	prev := m.Index
	first, last := r.log.FirstIndex(), r.log.LastIndex()
	switch {
	case prev < first-1:
		// Below our base: those entries are committed and were deleted here.
		r.rejectAppend(m, first-1)
		return
	case prev > last:
		r.rejectAppend(m, last)
		return
	}
	if t := r.termAt(prev); t != m.LogTerm {
		r.rejectAppend(m, r.conflictIndex(prev, m.LogTerm))
		return
	}
	end, err := r.storeBatch(m)
	if err != nil {
		// No answer: the leader resends after its retransmit timeout, so a
		// batch that keeps failing verification costs one try per timeout,
		// not a hot loop.
		if !errors.Is(err, ErrContradiction) {
			r.cfg.Logger.Warn("raft: refusing a batch", "from", m.From, "after", prev, "err", err)
		}
		return
	}
	r.matched = max(r.matched, end) // a delayed duplicate must not lower it
	r.advanceCommit(min(m.Commit, end))
	r.ackLeader(wire.TypeAppendResp)
}

// storeBatch appends the entries of m that the log lacks, truncating a
// conflicting suffix first, and returns the index of m's last entry.
func (r *Raft) storeBatch(m *wire.Msg) (uint64, error) {
	b, want := m.Entries, m.Index+1
	for k := uint32(0); k < m.Count; k++ {
		i, t, n, err := record.Peek(b)
		switch {
		case err != nil:
			return 0, fmt.Errorf("entry %d of %d: %w", k+1, m.Count, err)
		case i != want || t > m.Term:
			return 0, fmt.Errorf("entry %d of %d is index %d term %d; expected index %d, term <= %d", k+1, m.Count, i, t, want, m.Term)
		}
		if i > r.log.LastIndex() {
			return r.appendRest(m, b, k)
		}
		if r.termAt(i) != t {
			// Only verified entries may truncate the log or stop the node:
			// Peek does not check the CRC, and a corrupt or forged batch
			// must be refused, not acted on.
			if err := verifyEntries(b, m.Count-k); err != nil {
				return 0, fmt.Errorf("entry %d of %d conflicts with the log: %w", k+1, m.Count, err)
			}
			if i <= r.commit {
				return 0, r.refuseOverwrite(m, i, t)
			}
			r.cfg.Logger.Info("raft: truncating a conflicting suffix", "from", i, "last", r.log.LastIndex(), "leader", m.From)
			if err := r.truncate(i); err != nil {
				return 0, err
			}
			return r.appendRest(m, b, k)
		}
		b, want = b[n:], want+1
	}
	if len(b) != 0 {
		return 0, fmt.Errorf("%d bytes after the %d entries", len(b), m.Count)
	}
	return m.Index + uint64(m.Count), nil
}

// ErrContradiction is Status().Contradiction's error: a leader asked this
// node to overwrite an entry it knows is committed.
var ErrContradiction = errors.New("engine: a leader contradicts this node's committed log")

// refuseOverwrite handles a leader's entry i of term t that conflicts with
// an entry this node knows is committed. Raft says this cannot happen; it
// does when acknowledged entries were lost elsewhere (every member holding
// them lost them, or a repair was ended by hand). Truncating would destroy
// what may be the last copy of acknowledged entries, and stopping the
// process would take that copy offline; so the node refuses the batch,
// keeps its log and keeps running, and reports the contradiction (the log,
// Status().Contradiction, the metric), so that an operator can save the
// entries (rmqlog dump) before deciding.
func (r *Raft) refuseOverwrite(m *wire.Msg, i, t uint64) error {
	err := fmt.Errorf("%w: leader %s of term %d sent entry %d of term %d, but this node's entry %d (term %d) "+
		"is committed (commit index %d); the node keeps its log: save entries %d..%d with rmqlog dump before "+
		"anything else, then see docs/durability.md", ErrContradiction, m.From, m.Term, i, t, i, r.termAt(i),
		r.commit, i, r.log.LastIndex())
	r.contradictions++
	if r.contradiction == nil || r.contradictionTerm != m.Term {
		r.cfg.Logger.Error("raft: refusing to overwrite committed entries", "err", err)
	}
	r.contradiction, r.contradictionTerm = err, m.Term
	return err
}

// verifyEntries checks the CRCs of the n framed entries at the start of b.
func verifyEntries(b []byte, n uint32) error {
	for range n {
		_, size, err := record.Decode(b)
		if err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// appendRest stores b, entries k+1.. of m, verbatim. Configuration
// entries among them are saved to the membership list first and take
// effect once appended.
func (r *Raft) appendRest(m *wire.Msg, b []byte, k uint32) (uint64, error) {
	end := m.Index + uint64(m.Count)
	cs, err := confsIn(b, m.Count-k)
	if err != nil {
		return 0, fmt.Errorf("entries %d..%d: %w", m.Index+uint64(k)+1, end, err)
	}
	if len(cs) > 0 {
		if err := r.saveConfs(append(slices.Clone(r.confs), cs...)); err != nil {
			r.storageErr("save membership", err)
			return 0, err
		}
	}
	if _, err := r.log.AppendFramed(b); err != nil {
		if len(cs) > 0 {
			if serr := r.saveConfs(r.confs); serr != nil {
				r.cfg.Logger.Warn("raft: could not save the membership list after a refused batch", "err", serr)
			}
		}
		if !errors.Is(err, record.ErrCorrupt) && !errors.Is(err, record.ErrShortEntry) && !errors.Is(err, record.ErrNotContiguous) {
			r.storageErr("append", err) // the disk, not the batch: corrupt batches are only refused
		}
		return 0, fmt.Errorf("entries %d..%d: %w", m.Index+uint64(k)+1, end, err)
	}
	if len(cs) > 0 {
		r.confs = append(r.confs, cs...)
		r.setConf()
		r.cfg.Logger.Info("raft: membership changed", "index", r.confIndex, "members", r.conf.String(), "leader", m.From)
	}
	if got := r.log.LastIndex(); got != end {
		return 0, fmt.Errorf("log ends at %d after the batch, expected %d", got, end)
	}
	return end, nil
}

func (r *Raft) rejectAppend(m *wire.Msg, hint uint64) {
	r.send(wire.Msg{Type: wire.TypeAppendResp, To: m.From, Flags: wire.FlagReject,
		Index: m.Index, Hint: hint, LogTerm: r.termAt(hint)})
}

// ackLeader tells the leader how far this log matches its own and how much
// of that is fsynced.
func (r *Raft) ackLeader(t wire.Type) { r.ackLeaderRead(t, 0) }

// ackLeaderRead is ackLeader echoing a heartbeat's read round (see
// raft.requestRead).
func (r *Raft) ackLeaderRead(t wire.Type, read uint64) {
	d := min(r.durable, r.matched)
	r.sentDurable = d
	r.send(wire.Msg{Type: t, To: r.lead, Index: r.matched, Durable: d, Hint: read})
}

func (r *Raft) advanceCommit(c uint64) {
	if c > r.commit {
		r.commit = c
		r.checkRepaired()
		r.confCommitted()
	}
}

func (r *Raft) handleHeartbeat(m *wire.Msg) {
	r.advanceCommit(min(m.Commit, r.matched))
	r.endRepairIfWhole(m.Index)
	r.ackLeaderRead(wire.TypeHeartbeatResp, m.Hint)
}

// endRepairIfWhole ends a repair once this log holds the current leader's
// whole log (its last index is last, as a Heartbeat or TimeoutNow says),
// which holds every committed entry.
func (r *Raft) endRepairIfWhole(last uint64) {
	if r.repairing() && last > 0 && r.matched >= last {
		r.endRepair("it holds the leader's whole log")
	}
}

// handleReset restarts the log at the leader's base: this follower lacks
// entries the leader already deleted.
func (r *Raft) handleReset(m *wire.Msg) {
	prev := m.Index - 1
	first, last := r.log.FirstIndex(), r.log.LastIndex()
	switch {
	case prev < first-1:
		// Our log starts after the leader's base; everything before it was committed.
		r.matched = max(r.matched, first-1)
	case prev <= last && r.termAt(prev) == m.LogTerm:
		r.matched = max(r.matched, prev) // we hold the base already: no reset needed
	default:
		if !r.resetLog(m) {
			return
		}
		r.matched = prev
	}
	r.advanceCommit(min(m.Commit, r.matched))
	r.ackLeader(wire.TypeAppendResp)
}

func (r *Raft) resetLog(m *wire.Msg) bool {
	r.cfg.Logger.Info("raft: restarting the log at the leader's base", "base", m.Index, "leader", m.From,
		"first", r.log.FirstIndex(), "last", r.log.LastIndex())
	if r.log.LastIndex() >= m.Index {
		if err := r.truncate(r.log.FirstIndex()); err != nil {
			return false
		}
	}
	conf, err := resetConf(m)
	if err != nil {
		r.cfg.Logger.Warn("raft: refusing a reset", "from", m.From, "err", err)
		return false
	}
	r.dropConfsFrom(r.log.FirstIndex())
	if conf != nil {
		cs := append(slices.Clone(r.confs), *conf)
		if n := len(r.confs); n > 0 && r.confs[n-1].Index >= conf.Index {
			cs = []ConfEntry{*conf} // ours are older than the leader's base: the leader's wins
		}
		if err := r.saveConfs(cs); err != nil {
			r.storageErr("save membership", err)
			return false
		}
		r.confs = cs
		r.setConf()
	}
	err = r.log.Reset(record.Position{Index: m.Index, Offset: m.Offset}, m.LogTerm, m.CRC)
	if err != nil {
		r.storageErr("reset", err)
		return false
	}
	r.durable = min(r.durable, m.Index-1)
	r.rewritten = true
	return true
}

// resetConf decodes the configuration entry a Reset carries (the one in
// force at the leader's base), nil if it carries none.
func resetConf(m *wire.Msg) (*ConfEntry, error) {
	if m.Count == 0 {
		return nil, nil
	}
	cs, err := confsIn(m.Entries, m.Count)
	switch {
	case err != nil:
		return nil, err
	case len(cs) != 1 || m.Count != 1 || cs[0].Index >= m.Index:
		return nil, fmt.Errorf("%w: a reset to base %d must carry one configuration entry below it", ErrMembership, m.Index)
	}
	return &cs[0], nil
}

// truncate removes entries i and after; what was fsynced of them no longer
// counts, and a configuration among them is no longer in force.
func (r *Raft) truncate(i uint64) error {
	if err := r.log.TruncateSuffix(i); err != nil {
		r.storageErr("truncate", err)
		return err
	}
	r.dropConfsFrom(i)
	r.durable = min(r.durable, i-1)
	r.rewritten = true
	return nil
}

// DurableTo records the local log's fsynced index. A follower reports an
// advance to its leader (the leader counts it under SYNC_FLUSH); a leader
// may commit.
func (r *Raft) DurableTo(d uint64) {
	r.durable = d
	switch {
	case r.stopped != nil:
	case r.role == Leader:
		r.maybeCommit()
	case r.role == Follower && r.lead != "" && min(d, r.matched) > r.sentDurable:
		r.ackLeader(wire.TypeAppendResp)
	}
}

// Unreachable records that a message to id could not be sent (the
// connection broke or the peer is down): its window is lost, so the
// leader resends from its match index once it answers again.
func (r *Raft) Unreachable(id string) {
	if pr := r.prs[id]; r.role == Leader && pr != nil && pr.state == stateReplicate {
		pr.becomeProbe()
	}
}
