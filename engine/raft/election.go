package raft

import "github.com/rmqlog/rmqlog/replication/wire"

// campaign starts an election: a pre-vote first (nobody changes term until
// a majority says it would vote for us, so a node cut off from the group
// cannot inflate terms), or directly a vote when a leadership transfer
// asked for it.
//
// A repairing node campaigns too: its own vote counts only in a full house
// (see tally), so it can win only with a majority of voters that are not
// repairing, or with every member's vote.
func (r *Raft) campaign(transfer bool) {
	if r.stopped != nil || !r.mayCampaign() {
		return
	}
	if transfer {
		r.becomeCandidate()
	} else {
		r.becomePreCandidate()
	}
	r.requestVotes(transfer)
}

func (r *Raft) becomePreCandidate() {
	r.role, r.lead = PreCandidate, ""
	r.votes = map[string]ballot{r.cfg.ID: r.ownBallot()}
	r.resetTimers()
	r.cfg.Logger.Info("raft: pre-vote", "term", r.term+1)
}

func (r *Raft) becomeCandidate() {
	r.setTerm(r.term + 1)
	r.vote, r.hsDirty = r.cfg.ID, true
	r.role, r.lead = Candidate, ""
	r.elections++
	r.votes = map[string]ballot{r.cfg.ID: r.ownBallot()}
	r.resetTimers()
	r.cfg.Logger.Info("raft: election", "term", r.term)
}

func (r *Raft) requestVotes(transfer bool) {
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
	for _, p := range r.voters {
		if p != r.cfg.ID {
			m.To = p
			r.send(m)
		}
	}
}

// ballot is a voter's answer as a candidate counts it.
type ballot uint8

const (
	ballotRejected ballot = iota
	// ballotGranted: from a voter whose log holds every entry it ever
	// acknowledged.
	ballotGranted
	// ballotRepairing: granted by a voter that is repairing (its log may
	// lack entries it acknowledged); it counts only in a full house.
	ballotRepairing
)

func (r *Raft) ownBallot() ballot {
	if r.repairing() {
		return ballotRepairing
	}
	return ballotGranted
}

func ballotOf(m *wire.Msg) ballot {
	switch {
	case m.Reject():
		return ballotRejected
	case m.Flags&wire.FlagRepairing != 0:
		return ballotRepairing
	}
	return ballotGranted
}

// handleVote answers a (pre-)vote request whose term is not lower than ours
// (stepTerm dealt with the others). A vote is granted to a candidate whose
// log is at least as up to date as ours (Raft 5.4.1), once per term. A
// repairing node marks its grant (FlagRepairing): see tally.
func (r *Raft) handleVote(m *wire.Msg) {
	var can bool
	if m.Type == wire.TypePreVote {
		can = m.Term > r.term
	} else {
		can = r.vote == m.From || (r.vote == "" && r.lead == "")
	}
	resp := wire.Msg{Type: respType(m.Type), To: m.From}
	if !can || !r.upToDate(m.LogTerm, m.Index) {
		resp.Flags = wire.FlagReject
		r.send(resp)
		return
	}
	if r.repairing() {
		// A repairing node's own campaign could win only in a full house,
		// which every other candidate's vote for itself breaks: it lets the
		// candidate it granted finish before it campaigns (found by the
		// damage simulator: five repairing nodes split their votes for 400
		// ticks).
		resp.Flags = wire.FlagRepairing
		r.electionTick = 0
	}
	if m.Type == wire.TypeVote {
		r.vote, r.hsDirty = m.From, true
		r.electionTick = 0
	} else {
		resp.Term = m.Term
	}
	r.send(resp)
}

func (r *Raft) upToDate(lastTerm, lastIndex uint64) bool {
	lt := r.lastTerm()
	return lastTerm > lt || (lastTerm == lt && lastIndex >= r.log.LastIndex())
}

func (r *Raft) handleVoteResp(m *wire.Msg) {
	want := wire.TypeVoteResp
	if r.role == PreCandidate {
		want = wire.TypePreVoteResp
	}
	if m.Type != want || (r.role != PreCandidate && r.role != Candidate) {
		return
	}
	if _, seen := r.votes[m.From]; !seen {
		r.votes[m.From] = ballotOf(m)
	}
	r.tally()
}

// tally acts on the votes so far and reports whether the election ended.
//
// The candidate wins with the votes of a majority of members that are not
// repairing, or with the votes of every member (a full house). A repairing
// voter may lack entries it acknowledged, so its vote alone does not show
// that the candidate holds them. In the first case some voter that is not
// repairing counted each committed entry, still holds it, and granted only
// to a candidate at least as up to date (Raft's argument). In the second,
// every member that still holds a committed entry voted, so the winner
// holds every committed entry that any member still holds: an entry is
// lost only if every member that held it lost it (under ASYNC_FLUSH: a
// majority lost power before syncing it). See docs/durability.md.
func (r *Raft) tally() bool {
	sure, repairing, rejected, cast := 0, 0, 0, 0
	for id, b := range r.votes {
		if !r.isVoter(id) {
			continue // only the voters of the configuration in force count
		}
		cast++
		switch b {
		case ballotGranted:
			sure++
		case ballotRepairing:
			repairing++
		default:
			rejected++
		}
	}
	members := len(r.voters)
	switch {
	case sure >= r.quorum() || sure+repairing == members:
		if r.role == PreCandidate {
			r.becomeCandidate()
			r.requestVotes(false)
			return true
		}
		r.becomeLeader()
		return true
	case rejected > 0 && sure+members-cast < r.quorum():
		// Neither a sure majority nor a full house can be had any more.
		r.becomeFollower(r.term, "")
		return true
	}
	return false
}
