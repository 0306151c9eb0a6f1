package raft

import "github.com/rmqlog/rmqlog/replication/wire"

// The census: a node whose hard state was lost (a damaged raft-state file,
// a log without one, or a data directory that is new or was wiped: a node
// cannot tell those apart) does not know in which terms it voted. If it voted
// again in such a term, two leaders could be elected for it. Any candidate
// it voted for had made that term its own durably before asking, and a
// member's term never decreases; so once the node has heard the current
// term of every member, the highest of them (its fence) is at least every
// term it may have voted in. Until then it repairs (repairing), so its vote
// counts only in an election every member votes in, and a member it voted
// for in the same term refuses to vote for anyone else there. Then it
// takes the fence as its term, voting for itself in it (a vote it may have
// cast), and votes normally in later terms once its log is repaired.
//
// It asks with a PreVote marked FlagQuery every heartbeat interval; every
// message a member sends carries its term, so any message counts.

// countTerm records m's term in the census, if one is running, and ends
// the census once every member has been heard. It reports whether m was
// a query or a query's answer, which nothing else handles.
func (r *Raft) countTerm(m *wire.Msg) bool {
	if r.census != nil && r.isPeer(m.From) {
		r.census[m.From] = max(r.census[m.From], m.Term)
		if r.heardAll() {
			r.closeCensus()
		}
	}
	if m.Flags&wire.FlagQuery == 0 {
		return false
	}
	switch {
	case m.Type == wire.TypePreVote:
		r.send(wire.Msg{Type: wire.TypePreVoteResp, To: m.From, Flags: wire.FlagReject | wire.FlagQuery})
	case r.termLost && m.Term > r.term:
		// Keep the group's history: a node that heard of a term remembers
		// it, even if the member that told it is wiped next. Safe: its vote
		// counts only in a full house while termLost.
		r.becomeFollower(m.Term, "")
	}
	return true
}

// closeCensus moves to the fence: see the census.
func (r *Raft) closeCensus() {
	fence := max(r.term, r.lastTerm())
	for _, t := range r.census {
		fence = max(fence, t)
	}
	if fence > r.term {
		r.becomeFollower(fence, "")
	}
	if fence == 0 {
		// Every member is at term 0: nobody ever campaigned, voted or
		// acknowledged anything. A new group (or one wiped everywhere).
		r.census, r.termLost, r.repairTo, r.repairTerm, r.hsDirty = nil, false, 0, 0, true
		r.cfg.Logger.Info("raft: every member is new (term 0): voting")
		return
	}
	if r.vote == "" {
		r.vote = r.cfg.ID // it may have voted in this term: never for anyone else
	}
	r.census, r.termLost, r.hsDirty = nil, false, true
	r.cfg.Logger.Info("raft: heard every member's term after losing the hard state", "fence", fence, "term", r.term)
}

// heardAll reports whether the census heard every member this node talks
// to now (the configuration may have changed since it began).
func (r *Raft) heardAll() bool {
	for _, p := range r.peers {
		if _, ok := r.census[p]; !ok {
			return false
		}
	}
	return true
}

// Waiting returns the members a census has not heard yet (nil if none runs).
func (r *Raft) Waiting() []string {
	if r.census == nil {
		return nil
	}
	var w []string
	for _, p := range r.peers {
		if _, ok := r.census[p]; !ok {
			w = append(w, p)
		}
	}
	return w
}

// queryTerms asks the members not heard yet for their term, once per
// heartbeat interval (called every tick).
func (r *Raft) queryTerms() {
	if r.heardAll() { // a one-member group, or the members not heard were removed
		r.closeCensus()
		return
	}
	if r.queryTick--; r.queryTick > 0 {
		return
	}
	r.queryTick = r.cfg.HeartbeatTicks
	for _, p := range r.peers {
		if _, ok := r.census[p]; !ok {
			r.send(wire.Msg{Type: wire.TypePreVote, To: p, Flags: wire.FlagQuery})
		}
	}
}
