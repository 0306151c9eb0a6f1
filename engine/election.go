package engine

import "github.com/rmqlog/rmqlog/replication/wire"

// campaign starts an election: a pre-vote first (nobody changes term until
// a majority says it would vote for us, so a node cut off from the group
// cannot inflate terms), or directly a vote when a leadership transfer
// asked for it.
func (r *raft) campaign(transfer bool) {
	if r.stopped != nil || r.repairing() {
		return
	}
	if transfer {
		r.becomeCandidate()
	} else {
		r.becomePreCandidate()
	}
	r.requestVotes(transfer)
}

func (r *raft) becomePreCandidate() {
	r.role, r.lead = PreCandidate, ""
	r.votes = map[string]bool{r.cfg.ID: true}
	r.resetTimers()
	r.cfg.Logger.Info("raft: pre-vote", "term", r.term+1)
}

func (r *raft) becomeCandidate() {
	r.setTerm(r.term + 1)
	r.vote, r.hsDirty = r.cfg.ID, true
	r.role, r.lead = Candidate, ""
	r.elections++
	r.votes = map[string]bool{r.cfg.ID: true}
	r.resetTimers()
	r.cfg.Logger.Info("raft: election", "term", r.term)
}

func (r *raft) requestVotes(transfer bool) {
	if r.tally() {
		return
	}
	m := wire.Msg{Type: wire.TypeVote, Term: r.term, Index: r.log.LastIndex(), LogTerm: r.lastTerm()}
	if r.role == PreCandidate {
		m.Type, m.Term = wire.TypePreVote, r.term+1
	}
	if transfer {
		m.Flags = wire.FlagTransfer
	}
	for _, p := range r.peers {
		m.To = p
		r.send(m)
	}
}

// handleVote answers a (pre-)vote request whose term is not lower than ours
// (stepTerm dealt with the others). A vote is granted to a candidate whose
// log is at least as up to date as ours (Raft 5.4.1), once per term.
func (r *raft) handleVote(m *wire.Msg) {
	var can bool
	if m.Type == wire.TypePreVote {
		can = m.Term > r.term
	} else {
		can = r.vote == m.From || (r.vote == "" && r.lead == "")
	}
	resp := wire.Msg{Type: respType(m.Type), To: m.From}
	if !can || r.repairing() || !r.upToDate(m.LogTerm, m.Index) {
		resp.Flags = wire.FlagReject
		r.send(resp)
		return
	}
	if m.Type == wire.TypeVote {
		r.vote, r.hsDirty = m.From, true
		r.electionTick = 0
	} else {
		resp.Term = m.Term
	}
	r.send(resp)
}

func (r *raft) upToDate(lastTerm, lastIndex uint64) bool {
	lt := r.lastTerm()
	return lastTerm > lt || (lastTerm == lt && lastIndex >= r.log.LastIndex())
}

func (r *raft) handleVoteResp(m *wire.Msg) {
	want := wire.TypeVoteResp
	if r.role == PreCandidate {
		want = wire.TypePreVoteResp
	}
	if m.Type != want || (r.role != PreCandidate && r.role != Candidate) {
		return
	}
	if _, seen := r.votes[m.From]; !seen {
		r.votes[m.From] = !m.Reject()
	}
	r.tally()
}

// tally acts on the votes so far and reports whether the election ended.
func (r *raft) tally() bool {
	granted, rejected := 0, 0
	for _, v := range r.votes {
		if v {
			granted++
		} else {
			rejected++
		}
	}
	switch {
	case granted >= r.quorum():
		if r.role == PreCandidate {
			r.becomeCandidate()
			r.requestVotes(false)
			return true
		}
		r.becomeLeader()
		return true
	case rejected >= r.quorum():
		r.becomeFollower(r.term, "")
		return true
	}
	return false
}
