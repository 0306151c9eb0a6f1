package raft

import (
	"errors"
	"fmt"
	"slices"

	"github.com/rmqlog/rmqlog/record"
)

// ChangeType is the kind of a membership change.
type ChangeType uint8

// The changes: one member at a time (see membership.go).
const (
	AddLearner ChangeType = iota + 1 // a new member joins as a learner
	Promote                          // a caught-up learner becomes a voter
	Remove                           // a member (voter or learner, the leader included) leaves
)

func (t ChangeType) String() string {
	switch t {
	case AddLearner:
		return "add-learner"
	case Promote:
		return "promote"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("ChangeType(%d)", uint8(t))
}

// Change is one membership change. AddLearner needs Member's ID and Peer
// (Client optional); Promote and Remove only its ID.
type Change struct {
	Type   ChangeType
	Member Member
}

// Errors of ProposeChange besides ErrNotLeader, ErrTransferring and ErrStopped.
var (
	// ErrChangePending: this leader's no-op or an earlier configuration
	// entry is not committed yet; one change at a time. Retry shortly.
	ErrChangePending = errors.New("raft: a membership change is still committing (one change at a time); retry once it commits")
	// ErrNotCaughtUp: the learner to promote is too far behind the leader.
	ErrNotCaughtUp = errors.New("raft: the learner has not caught up with the leader yet")
)

// Membership returns the configuration in force and the index of its entry
// (0 for the bootstrap configuration, from Config.Members or Config.Peers).
func (r *Raft) Membership() (Membership, uint64) { return r.conf.clone(), r.confIndex }

// ConfCommitted reports whether the configuration in force is committed.
func (r *Raft) ConfCommitted() bool { return r.commit >= r.confIndex }

// ProposeChange appends the configuration that c makes of the one in force
// and returns its index; the change takes effect on this leader at once
// and is done when that index commits. The list of configuration entries
// is handed to the Log (SaveMembership) before the entry is appended.
func (r *Raft) ProposeChange(c Change) (uint64, error) {
	if err := r.CanPropose(); err != nil {
		return 0, err
	}
	if !r.Writable() || r.commit < r.confIndex {
		return 0, ErrChangePending
	}
	next, err := r.applyChange(c)
	if err != nil {
		return 0, err
	}
	if err := next.Validate(); err != nil {
		return 0, err
	}
	payload := EncodeMembership(next)
	i := r.log.LastIndex() + 1
	saved := append(slices.Clone(r.confs), ConfEntry{Index: i, Term: r.term, Membership: next})
	if err := r.saveConfs(saved); err != nil {
		return 0, err
	}
	got, err := r.log.Append(r.term, record.TypeConfig, payload)
	if err != nil {
		if serr := r.saveConfs(r.confs); serr != nil {
			r.Halt(fmt.Errorf("saving the membership list after a failed append: %w", serr))
		}
		r.storageErr("append configuration", err)
		return 0, err
	}
	if got != i {
		panic(fmt.Sprintf("raft: configuration appended at %d, expected %d", got, i))
	}
	r.confs = saved
	r.cfg.Logger.Info("raft: membership change appended", "change", c.Type.String(), "member", c.Member.ID,
		"index", i, "term", r.term, "from", r.conf.String(), "to", next.String())
	r.setConf()
	r.bcastAppend()
	r.maybeCommit()
	return i, nil
}

// applyChange returns the configuration c makes of the one in force, or
// why c is refused.
func (r *Raft) applyChange(c Change) (Membership, error) {
	bad := func(format string, a ...any) (Membership, error) {
		return Membership{}, fmt.Errorf("%w: %s %q: %s", ErrMembership, c.Type, c.Member.ID, fmt.Sprintf(format, a...))
	}
	next := r.conf.clone()
	cur, exists := r.conf.Get(c.Member.ID)
	switch c.Type {
	case AddLearner:
		switch {
		case exists:
			return bad("already a member (%s)", r.conf.String())
		case c.Member.ID == "" || len(c.Member.ID) > maxMemberName:
			return bad("the id must be 1 to %d bytes", maxMemberName)
		case c.Member.Peer == "":
			return bad("no peer address")
		case len(next.Members) >= MaxMembers:
			return bad("the group has %d members already, the most it may have", len(next.Members))
		}
		for _, m := range r.conf.Members {
			if m.Peer == c.Member.Peer {
				return bad("peer address %s is member %q's", c.Member.Peer, m.ID)
			}
			if c.Member.Client != "" && m.Client == c.Member.Client {
				return bad("client address %s is member %q's", c.Member.Client, m.ID)
			}
		}
		m := c.Member
		m.Learner = true
		next.Members = append(next.Members, m)
		next.sort()
	case Promote:
		switch {
		case !exists:
			return bad("not a member (%s)", r.conf.String())
		case !cur.Learner:
			return bad("already a voter")
		}
		if err := r.caughtUp(c.Member.ID); err != nil {
			return Membership{}, err
		}
		for k := range next.Members {
			if next.Members[k].ID == c.Member.ID {
				next.Members[k].Learner = false
			}
		}
	case Remove:
		switch {
		case !exists:
			return bad("not a member (%s)", r.conf.String())
		case !cur.Learner && len(r.conf.Voters()) == 1:
			return bad("it is the only voter")
		}
		next.Members = slices.DeleteFunc(next.Members, func(m Member) bool { return m.ID == c.Member.ID })
	default:
		return bad("unknown change")
	}
	return next, nil
}

// promoteLag is how many entries behind the leader's last index a learner
// may be when promoted (or one batch, if MaxBatchCount is larger).
const promoteLag = 4096

// caughtUp checks that learner id streams (no probe) and is within
// promoteLag entries of the leader's last index, counting what it fsynced
// under SYNC_FLUSH, so that promoting it does not stall commits while it
// catches up.
func (r *Raft) caughtUp(id string) error {
	pr := r.prs[id]
	if pr == nil {
		return fmt.Errorf("%w: %s has not been heard from", ErrNotCaughtUp, id)
	}
	have := pr.match
	if r.cfg.SyncQuorum {
		have = pr.durable
	}
	last, bound := r.log.LastIndex(), max(uint64(r.cfg.MaxBatchCount), promoteLag)
	if pr.state != stateReplicate || have+bound < last {
		return fmt.Errorf("%w: %s holds up to index %d (%s), the leader's log ends at %d; promote once it is within %d entries",
			ErrNotCaughtUp, id, have, pr.state, last, bound)
	}
	return nil
}

// setConf makes the latest configuration entry (or the bootstrap one) the
// configuration in force and recomputes who this node talks to: every
// other member, plus, on a leader, the members the uncommitted
// configuration removed (retiring), which keep receiving the log until it
// commits, so they learn of their removal.
func (r *Raft) setConf() {
	prev := r.conf
	if n := len(r.confs); n > 0 {
		r.conf, r.confIndex = r.confs[n-1].Membership, r.confs[n-1].Index
	} else {
		r.conf, r.confIndex = r.boot, 0
	}
	r.voters = r.conf.Voters()
	r.confChanged = true
	if r.role == Leader && r.commit < r.confIndex {
		for _, m := range prev.Members {
			if _, ok := r.conf.Get(m.ID); !ok && m.ID != r.cfg.ID && !slices.Contains(r.retiring, m.ID) {
				r.retiring = append(r.retiring, m.ID)
			}
		}
	} else {
		r.retiring = nil
	}
	r.setPeers()
}

// setPeers recomputes peers (and, on a leader, the progress of each).
func (r *Raft) setPeers() {
	r.peers = r.peers[:0]
	for _, m := range r.conf.Members {
		if m.ID != r.cfg.ID {
			r.peers = append(r.peers, m.ID)
		}
	}
	for _, id := range r.retiring {
		if !slices.Contains(r.peers, id) {
			r.peers = append(r.peers, id)
		}
	}
	slices.Sort(r.peers)
	if r.role != Leader {
		return
	}
	for _, p := range r.peers {
		if r.prs[p] == nil {
			r.prs[p] = r.newProgress(p)
		}
	}
	for id := range r.prs {
		if !slices.Contains(r.peers, id) {
			delete(r.prs, id)
		}
	}
}

func (r *Raft) newProgress(id string) *progress {
	return &progress{id: id, next: r.log.LastIndex() + 1, active: true,
		inflight: newInflights(r.cfg.WindowBatches, r.cfg.WindowBytes)}
}

// mayCampaign reports whether this node may stand for election: a voter
// of the configuration in force, or a node whose own removal is that
// configuration and not known committed, which was a voter before it (a
// leader that appended its removal and lost leadership before committing
// it: it may hold entries no one else does, and the other voters, if they
// repair, may need it to lead; elected, it counts only the new voters, as
// any candidate counts only its configuration's voters, then commits its
// removal and hands off; found by the membership simulator).
func (r *Raft) mayCampaign() bool {
	if r.isVoter(r.cfg.ID) {
		return true
	}
	if r.commit >= r.confIndex || r.confIndex == 0 {
		return false
	}
	prev := r.boot
	if n := len(r.confs); n >= 2 {
		prev = r.confs[n-2].Membership
	}
	return prev.IsVoter(r.cfg.ID)
}

// isVoter reports whether id votes in the configuration in force.
func (r *Raft) isVoter(id string) bool { return slices.Contains(r.voters, id) }

// confCommitted acts on a configuration that has just committed: the
// leader stops replicating to the members it removed, a leader that
// removed itself hands leadership to the most caught-up voter and steps
// down, and a node that is no longer a member says so once.
func (r *Raft) confCommitted() {
	if r.commit < r.confIndex || r.confIndex == 0 {
		return
	}
	if len(r.retiring) > 0 {
		r.cfg.Logger.Info("raft: membership change committed; no longer replicating to removed members",
			"removed", r.retiring, "index", r.confIndex)
		r.retiring = nil
		r.setPeers()
	}
	if _, member := r.conf.Get(r.cfg.ID); !member {
		if !r.removedLogged {
			r.removedLogged = true
			r.cfg.Logger.Warn("raft: this node was removed from the group; it no longer votes, campaigns or "+
				"takes writes, and can be stopped", "index", r.confIndex, "members", r.conf.String())
		}
	} else {
		r.removedLogged = false
	}
	if r.role == Leader && !r.isVoter(r.cfg.ID) {
		r.handOff()
	}
}

// handOff: a leader that is no longer a voter (it removed itself) stops
// taking proposals and transfers leadership to the most caught-up voter,
// which campaigns at once once it holds the whole log (maybeTimeoutNow);
// the leader steps down as soon as it sent that, or when the transfer
// times out, or at once if no voter is known.
func (r *Raft) handOff() {
	if r.leaving {
		return
	}
	best := ""
	var bestMatch uint64
	for _, id := range r.voters {
		if pr := r.prs[id]; pr != nil && (best == "" || pr.match > bestMatch) {
			best, bestMatch = id, pr.match
		}
	}
	r.cfg.Logger.Info("raft: leader removed from the group; handing leadership off and stepping down",
		"to", best, "match", bestMatch, "last", r.log.LastIndex())
	if best == "" {
		r.becomeFollower(r.term, "")
		return
	}
	r.leaving = true
	r.transferee, r.transferTick = best, 0
	if r.maybeTimeoutNow(r.prs[best]); r.role == Leader {
		r.sendAppends(r.prs[best])
	}
}

// saveConfs persists cs (pruned to what the log still needs) through the
// Log before the core relies on it.
func (r *Raft) saveConfs(cs []ConfEntry) error {
	if err := r.log.SaveMembership(EncodeConfs(pruneConfs(cs, r.log.FirstIndex()))); err != nil {
		return fmt.Errorf("raft: saving the membership list: %w", err)
	}
	return nil
}

// pruneConfs keeps the latest entry below first (the configuration in
// force at the log's start) and every entry from first on.
func pruneConfs(cs []ConfEntry, first uint64) []ConfEntry {
	k := 0
	for k+1 < len(cs) && cs[k+1].Index < first {
		k++
	}
	return cs[k:]
}

// confBelow returns the configuration entry in force just before index i
// (the latest with Index < i), if any.
func (r *Raft) confBelow(i uint64) (ConfEntry, bool) {
	for k := len(r.confs) - 1; k >= 0; k-- {
		if r.confs[k].Index < i {
			return r.confs[k], true
		}
	}
	return ConfEntry{}, false
}

// loadConfs keeps the saved entries the log still holds (or that lie below
// its first index) and saves the list again if it dropped any.
func (r *Raft) loadConfs(saved []ConfEntry) {
	first, last := r.log.FirstIndex(), r.log.LastIndex()
	var keep []ConfEntry
	for _, c := range saved {
		if c.Index < first || (c.Index <= last && r.termAt(c.Index) == c.Term) {
			keep = append(keep, c)
		}
	}
	keep = pruneConfs(keep, first)
	r.confs = keep
	if len(keep) != len(saved) {
		r.cfg.Logger.Info("raft: dropped configuration entries the log no longer holds", "saved", len(saved), "kept", len(keep))
		if err := r.saveConfs(keep); err != nil {
			r.cfg.Logger.Warn("raft: could not save the membership list; the next start drops them again", "err", err)
		}
	}
}

// confsIn decodes the configuration entries among the n framed entries at
// the start of b (a leader's batch).
func confsIn(b []byte, n uint32) ([]ConfEntry, error) {
	var cs []ConfEntry
	for k := uint32(0); k < n; k++ {
		i, t, size, err := record.Peek(b)
		if err != nil {
			return nil, err
		}
		if record.PeekType(b) == record.TypeConfig {
			e, _, err := record.Decode(b[:size])
			if err != nil {
				return nil, fmt.Errorf("configuration entry %d: %w", i, err)
			}
			m, err := DecodeMembership(e.Payload)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
			cs = append(cs, ConfEntry{Index: i, Term: t, Membership: m})
		}
		b = b[size:]
	}
	return cs, nil
}

// dropConfsFrom forgets the configuration entries at i and after (a
// truncation removed them) and saves the list. A failed save is not
// fatal: the saved entries are then ones the log no longer holds, which
// the next start drops (loadConfs).
func (r *Raft) dropConfsFrom(i uint64) {
	k := len(r.confs)
	for k > 0 && r.confs[k-1].Index >= i {
		k--
	}
	if k == len(r.confs) {
		return
	}
	r.confs = r.confs[:k]
	if err := r.saveConfs(r.confs); err != nil {
		r.cfg.Logger.Warn("raft: could not save the membership list after a truncation", "err", err)
	}
	r.setConf()
}
