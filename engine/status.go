package engine

// FollowerStatus is what a leader knows about one follower.
type FollowerStatus struct {
	ID      string
	Match   uint64 // highest index known to be in its log
	Durable uint64 // highest index it reported fsynced
	Next    uint64
	State   string // "probe" or "replicate"
	Lag     uint64 // leader's last index - Match
	// Learner: receives the log, does not vote or count toward commit.
	Learner bool
	// Retiring: removed by the configuration being committed; it receives
	// the log until that commits.
	Retiring bool
}

// Status is a snapshot of a node.
type Status struct {
	ID     string
	Role   Role
	Term   uint64
	Leader string
	// LeaderAddr is the leader's client address, if known (see
	// Config.ClientAddr).
	LeaderAddr string
	Writable   bool // leader with its no-op committed
	First      uint64
	Last       uint64
	Commit     uint64
	Durable    uint64
	Followers  []FollowerStatus // leader only, ordered by id
	Err        error            // set once a storage failure stopped the node
	// BatchesSent and EntriesSent count the Append batches this node sent
	// to followers, and the entries in them, since it started.
	BatchesSent, EntriesSent uint64
	// Elections counts the elections this node started (as a candidate,
	// after a successful pre-vote or for a transfer) since it started.
	Elections uint64
	// RepairTo is not 0 while the node repairs a log that may lack entries
	// it acknowledged (damage, or an unclean stop under ASYNC_FLUSH:
	// RepairUnknown): its vote counts only in an election every member
	// votes in, until its log holds the leader's; see docs/durability.md.
	RepairTo uint64
	// TermLost is set while a node whose hard state was lost waits to hear
	// every member's term (its vote counts only when every member votes).
	TermLost bool
	// Waiting lists the members a node with TermLost has not heard yet: a
	// new group elects its first leader once every member has answered.
	Waiting []string
	// Contradiction is set once a leader asked this node to overwrite an
	// entry it knows is committed, which it refused (ErrContradiction);
	// Contradictions counts such refusals since the node started.
	Contradiction  error
	Contradictions uint64
	// Membership is the configuration in force (docs/membership.md);
	// ConfIndex its entry's index (0: the bootstrap configuration from
	// dLegerPeers, or none for a joining node); ConfCommitted whether that
	// entry is committed (a change is under way while it is not).
	Membership    Membership
	ConfIndex     uint64
	ConfCommitted bool
}

// Status returns a snapshot of the node's state.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.core.Status()
	s := Status{ID: n.cfg.ID, Role: r.Role, Term: r.Term, Leader: r.Lead, Writable: r.Writable,
		First: n.st.FirstIndex(), Last: n.st.LastIndex(), Commit: r.Commit,
		Durable: n.st.flusher.Durable(), Err: r.Stopped, Elections: r.Elections,
		BatchesSent: n.batchesSent.Load(), EntriesSent: n.entriesSent.Load(), RepairTo: r.RepairTo,
		Contradiction: r.Contradiction, Contradictions: r.Contradictions, TermLost: r.TermLost,
		Waiting: r.Waiting, Membership: r.Membership, ConfIndex: r.ConfIndex, ConfCommitted: r.ConfCommitted}
	s.LeaderAddr = n.clientAddr(r.Lead)
	s.Membership = n.withClientAddrs(s.Membership)
	for _, pr := range r.Followers {
		s.Followers = append(s.Followers, FollowerStatus{ID: pr.ID, Match: pr.Match, Durable: pr.Durable,
			Next: pr.Next, State: pr.State, Lag: s.Last - min(pr.Match, s.Last), Learner: pr.Learner, Retiring: pr.Retiring})
	}
	return s
}

// learnAdvert records the client address peer id advertised in its
// handshake (replication.Config.OnPeer).
func (n *Node) learnAdvert(id, addr string) {
	if addr == "" {
		return
	}
	n.advertMu.Lock()
	defer n.advertMu.Unlock()
	if n.adverts == nil {
		n.adverts = make(map[string]string)
	}
	n.adverts[id] = addr
}

// clientAddr returns member id's client address: configured, advertised by
// it, or "" if unknown.
func (n *Node) clientAddr(id string) string {
	switch {
	case id == "":
		return ""
	case n.cfg.ClientAddrs[id] != "":
		return n.cfg.ClientAddrs[id]
	case id == n.cfg.ID:
		return n.cfg.ClientAddr
	}
	n.advertMu.Lock()
	defer n.advertMu.Unlock()
	return n.adverts[id]
}
