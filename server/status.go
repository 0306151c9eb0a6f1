package server

import (
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
)

// proto.RepairUnknown must be engine.RepairUnknown, which fills
// StatusDoc.RepairTo: this constant overflows (a compile error) unless the
// two are equal.
const _ = -uint64(engine.RepairUnknown ^ proto.RepairUnknown)

// StatusDoc returns the node's status.
func (s *Server) StatusDoc() proto.StatusDoc {
	st := s.node.Status()
	d := proto.StatusDoc{Self: st.ID, Group: s.cfg.Engine.Group, Role: st.Role.String(), Term: st.Term, Leader: st.Leader,
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
	d.Membership = membershipDoc(st)
	d.Broker = s.brokerDoc()
	s.mu.Lock()
	d.Connections = len(s.conns)
	s.mu.Unlock()
	return d
}

// startingDoc is the status of a node still opening its log.
func (s *Server) startingDoc() proto.StatusDoc {
	e := s.cfg.Engine
	if e.SegmentSize == 0 {
		e.SegmentSize = 1 << 30 // the engine's default
	}
	d := proto.StatusDoc{Self: e.ID, Group: e.Group, Role: "starting", ClientAddr: s.ln.Addr().String(),
		FlushMode: e.FlushMode.String(), Peers: e.Peers,
		Starting: fmt.Sprintf("opening its log for %v (recovery reads it; a new %d MiB segment file is zero-filled first)",
			time.Since(s.began).Round(100*time.Millisecond), e.SegmentSize>>20)}
	d.Broker = s.brokerDoc()
	s.mu.Lock()
	d.Connections = len(s.conns)
	s.mu.Unlock()
	return d
}

func followerDoc(f engine.FollowerStatus) proto.FollowerDoc {
	return proto.FollowerDoc{ID: f.ID, MatchIndex: f.Match, DurableIndex: f.Durable, NextIndex: f.Next, State: f.State, Lag: f.Lag,
		Learner: f.Learner, Retiring: f.Retiring}
}
