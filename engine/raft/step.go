package raft

import "github.com/rmqlog/rmqlog/replication/wire"

// Step handles one message from a peer. It is the flat message-type switch
// of the core: first the term rules every message obeys (Raft figure 2,
// with etcd's PreVote and CheckQuorum refinements), then the handler of the
// message's type in this node's role.
func (r *Raft) Step(m *wire.Msg) {
	// Messages from nodes outside the configuration in force are handled
	// too: a node that missed a change must still follow a leader it does
	// not know yet, and answers to them count only where the configuration
	// says (tally, handleAck). PreVote and the leader lease keep a removed
	// node from disrupting the group.
	if r.stopped != nil || m.From == r.cfg.ID {
		return
	}
	if r.countTerm(m) {
		return // a census query or answer
	}
	if !r.stepTerm(m) {
		return
	}
	switch m.Type {
	case wire.TypeVote, wire.TypePreVote:
		r.handleVote(m)
	case wire.TypeVoteResp, wire.TypePreVoteResp:
		r.handleVoteResp(m)
	case wire.TypeAppend:
		r.follow(m)
		r.handleAppend(m)
	case wire.TypeHeartbeat:
		r.follow(m)
		r.handleHeartbeat(m)
	case wire.TypeReset:
		r.follow(m)
		r.handleReset(m)
	case wire.TypeTimeoutNow:
		if r.role == Follower && m.From == r.lead {
			r.endRepairIfWhole(m.Index)
			r.cfg.Logger.Info("raft: leadership transfer: campaigning now", "from", m.From, "term", r.term)
			r.campaign(true)
		}
	case wire.TypeAppendResp, wire.TypeHeartbeatResp:
		if r.role == Leader {
			r.handleAck(m)
		}
	}
}

func (r *Raft) isPeer(id string) bool {
	for _, p := range r.peers {
		if p == id {
			return true
		}
	}
	return false
}

// stepTerm applies the term rules and reports whether m is to be handled.
func (r *Raft) stepTerm(m *wire.Msg) bool {
	switch {
	case m.Term > r.term:
		return r.stepHigherTerm(m)
	case m.Term < r.term:
		r.stepLowerTerm(m)
		return false
	}
	return true
}

func (r *Raft) stepHigherTerm(m *wire.Msg) bool {
	switch m.Type {
	case wire.TypeVote, wire.TypePreVote:
		// CheckQuorum's lease: a node that heard from a live leader within an
		// election timeout ignores campaigns, so a partitioned or flapping
		// node cannot depose it; a transfer overrides the lease.
		if r.inLease() && m.Flags&wire.FlagTransfer == 0 {
			r.send(wire.Msg{Type: respType(m.Type), To: m.From, Flags: wire.FlagReject})
			return false
		}
		if m.Type == wire.TypePreVote {
			return true // nobody changes term on a pre-vote
		}
		r.becomeFollower(m.Term, "")
		return true
	case wire.TypePreVoteResp:
		if !m.Reject() {
			return true // a granted pre-vote carries the term we would campaign in
		}
	}
	lead := ""
	if m.Type == wire.TypeAppend || m.Type == wire.TypeHeartbeat || m.Type == wire.TypeReset {
		lead = m.From
	}
	r.becomeFollower(m.Term, lead)
	return true
}

func (r *Raft) stepLowerTerm(m *wire.Msg) {
	switch m.Type {
	case wire.TypeAppend, wire.TypeHeartbeat, wire.TypeReset:
		// A deposed leader learns the new term from the answer and steps down.
		r.send(wire.Msg{Type: wire.TypeAppendResp, To: m.From, Flags: wire.FlagReject,
			Index: m.Index, Hint: r.log.LastIndex(), LogTerm: r.lastTerm()})
	case wire.TypePreVote:
		r.send(wire.Msg{Type: wire.TypePreVoteResp, To: m.From, Flags: wire.FlagReject})
	}
}

// inLease reports whether this node heard from a leader within the minimum
// election timeout.
func (r *Raft) inLease() bool {
	if r.role == Leader {
		return true
	}
	return r.lead != "" && r.electionTick < r.cfg.ElectionTicks
}

// follow records that m comes from the current term's leader.
func (r *Raft) follow(m *wire.Msg) {
	if r.role != Follower || r.lead != m.From {
		r.becomeFollower(m.Term, m.From)
	}
	r.electionTick = 0
}

func respType(t wire.Type) wire.Type {
	if t == wire.TypePreVote {
		return wire.TypePreVoteResp
	}
	return wire.TypeVoteResp
}
