package server

import (
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/engine"
)

// StatusDoc is a node's status as the TypeStatus request returns it (JSON)
// and `rmqlog status --json` prints it.
type StatusDoc struct {
	Self         string        `json:"self"`
	Group        string        `json:"group"`
	Role         string        `json:"role"`
	Term         uint64        `json:"term"`
	Leader       string        `json:"leader"`
	LeaderAddr   string        `json:"leaderAddr"`
	Writable     bool          `json:"writable"`
	ClientAddr   string        `json:"clientAddr"`
	FlushMode    string        `json:"flushMode"`
	FirstIndex   uint64        `json:"firstIndex"`
	LastIndex    uint64        `json:"lastIndex"`
	CommitIndex  uint64        `json:"commitIndex"`
	DurableIndex uint64        `json:"durableIndex"`
	Followers    []FollowerDoc `json:"followers,omitempty"`
	Elections    uint64        `json:"elections"`
	// RepairTo is set while the node repairs a log that may lack entries it
	// acknowledged (its vote counts only when every member votes);
	// 18446744073709551615 (engine.RepairUnknown) after an unclean stop under
	// ASYNC_FLUSH. See docs/durability.md.
	RepairTo uint64 `json:"repairTo,omitempty"`
	// TermLost: the node lost its hard state and waits to hear every
	// member's term before its vote counts normally.
	TermLost bool `json:"termLost,omitempty"`
	// Waiting: the members such a node has not heard yet.
	Waiting []string `json:"waiting,omitempty"`
	// Contradiction: a leader asked this node to overwrite committed
	// entries, and it refused (see docs/durability.md).
	Contradiction string `json:"contradiction,omitempty"`
	// Starting says what a node that is still opening its log is doing
	// (Role is then "starting").
	Starting    string            `json:"starting,omitempty"`
	Batches     uint64            `json:"batchesSent"`
	Entries     uint64            `json:"entriesSent"`
	Error       string            `json:"error,omitempty"`
	Connections int               `json:"clientConnections"`
	Peers       map[string]string `json:"peers"`
}

// FollowerDoc is what the leader knows of one follower.
type FollowerDoc struct {
	ID           string `json:"id"`
	MatchIndex   uint64 `json:"matchIndex"`
	DurableIndex uint64 `json:"durableIndex"`
	NextIndex    uint64 `json:"nextIndex"`
	State        string `json:"state"`
	Lag          uint64 `json:"lag"`
}

// StatusDoc returns the node's status.
func (s *Server) StatusDoc() StatusDoc {
	st := s.node.Status()
	d := StatusDoc{Self: st.ID, Group: s.cfg.Engine.Group, Role: st.Role.String(), Term: st.Term, Leader: st.Leader,
		LeaderAddr: st.LeaderAddr, Writable: st.Writable, ClientAddr: s.ln.Addr().String(),
		FlushMode: s.cfg.Engine.FlushMode.String(), FirstIndex: st.First, LastIndex: st.Last,
		CommitIndex: st.Commit, DurableIndex: st.Durable, Elections: st.Elections, RepairTo: st.RepairTo, TermLost: st.TermLost, Waiting: st.Waiting,
		Batches: st.BatchesSent, Entries: st.EntriesSent, Peers: s.cfg.Engine.Peers}
	if st.Err != nil {
		d.Error = st.Err.Error()
	}
	if st.Contradiction != nil {
		d.Contradiction = st.Contradiction.Error()
	}
	for _, f := range st.Followers {
		d.Followers = append(d.Followers, followerDoc(f))
	}
	s.mu.Lock()
	d.Connections = len(s.conns)
	s.mu.Unlock()
	return d
}

// startingDoc is the status of a node still opening its log.
func (s *Server) startingDoc() StatusDoc {
	e := s.cfg.Engine
	if e.SegmentSize == 0 {
		e.SegmentSize = 1 << 30 // the engine's default
	}
	d := StatusDoc{Self: e.ID, Group: e.Group, Role: "starting", ClientAddr: s.ln.Addr().String(),
		FlushMode: e.FlushMode.String(), Peers: e.Peers,
		Starting: fmt.Sprintf("opening its log for %v (recovery reads it; a new %d MiB segment file is zero-filled first)",
			time.Since(s.began).Round(100*time.Millisecond), e.SegmentSize>>20)}
	s.mu.Lock()
	d.Connections = len(s.conns)
	s.mu.Unlock()
	return d
}

func followerDoc(f engine.FollowerStatus) FollowerDoc {
	return FollowerDoc{ID: f.ID, MatchIndex: f.Match, DurableIndex: f.Durable, NextIndex: f.Next, State: f.State, Lag: f.Lag}
}
