package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
)

// Member requests (proto.TypeMember): a list is answered by any node with
// its own view, on the connection's writer in its turn like the other
// reads; a change (add, promote, remove) runs on its own goroutine, as a
// transfer does, and is answered once it commits, by the leader only.

// memberLimit bounds the wait for a membership change to commit; past it
// the answer is "outcome unknown" (the change may still commit).
const memberLimit = 5 * time.Second

// changeTypes maps the protocol's operations to the engine's changes.
var changeTypes = map[proto.MemberOp]engine.ChangeType{
	proto.MemberAdd:     engine.AddLearner,
	proto.MemberPromote: engine.Promote,
	proto.MemberRemove:  engine.Remove,
}

// startMember begins a member request: a bad one is answered at once, a
// change starts on its own goroutine, and a list waits for the writer.
func (s *Server) startMember(p *pending, body []byte) {
	r, err := proto.ParseMemberRequest(body)
	if err == nil {
		err = checkMemberRequest(r)
	}
	switch {
	case err != nil:
		p.frame = errFrame(p.h, proto.CodeBadRequest, err.Error(), nil)
	case r.Op != proto.MemberList:
		p.done = make(chan []byte, 1)
		go s.changeMember(p.h, r, p.done)
	}
}

// checkMemberRequest checks what the engine does not: that an id can be
// written in dLegerPeers and that addresses are host:port.
func checkMemberRequest(r proto.MemberRequest) error {
	if r.Op == proto.MemberList {
		return nil
	}
	if !validID(r.ID) {
		return fmt.Errorf("member %s: id %q: allowed 1 to 64 characters of A-Z a-z 0-9 _ . (it is written in dLegerPeers as id-host:port)",
			r.Op, r.ID)
	}
	if r.Op != proto.MemberAdd {
		return nil
	}
	if err := checkAddr(r.Peer); err != nil {
		return fmt.Errorf("member add %s: peer address %q: %v (the address in its dLegerPeers entry, where it takes replication)", r.ID, r.Peer, err)
	}
	if r.Client == "" {
		return nil
	}
	if err := checkAddr(r.Client); err != nil {
		return fmt.Errorf("member add %s: client address %q: %v (its rmqlogClientPort address; or leave it out)", r.ID, r.Client, err)
	}
	return nil
}

// validID reports whether id is a member id dLegerPeers accepts (package
// config's rule): 1 to 64 of A-Z a-z 0-9 _ .
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return errors.New("allowed host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("allowed host:port with a port from 1 to 65535")
	}
	return nil
}

// changeMember proposes r's change and answers once it commits, with the
// configuration it made.
func (s *Server) changeMember(h proto.Header, r proto.MemberRequest, done chan<- []byte) {
	ctx, cancel := context.WithTimeout(s.hardCtx, memberLimit)
	defer cancel()
	c := engine.Change{Type: changeTypes[r.Op], Member: engine.Member{ID: r.ID, Peer: r.Peer, Client: r.Client}}
	i, err := s.node.ChangeMembership(ctx, c)
	if err != nil {
		done <- s.memberErr(h, r, i, err)
		return
	}
	s.log.Info("membership change committed", "change", r.Op.String(), "member", r.ID, "index", i)
	done <- proto.Frame(nil, h.Type, proto.CodeOK, h.ID, proto.AppendMembers(nil, s.members()))
}

// memberErr maps a failed change to its answer. proposed is the change's
// index if it was appended (its outcome is then unknown unless refused).
func (s *Server) memberErr(h proto.Header, r proto.MemberRequest, proposed uint64, err error) []byte {
	var nl *engine.NotLeaderError
	what := fmt.Sprintf("member %s %s", r.Op, r.ID)
	switch {
	case errors.As(err, &nl):
		return errFrame(h, proto.CodeNotLeader, err.Error(), nl)
	case errors.Is(err, engine.ErrChangePending):
		return errFrame(h, proto.CodeChangePending, fmt.Sprintf("%s: %v", what, err), nil)
	case errors.Is(err, engine.ErrNotCaughtUp):
		return errFrame(h, proto.CodeNotCaughtUp, fmt.Sprintf("%s: %v", what, err), nil)
	case errors.Is(err, engine.ErrMembership):
		return errFrame(h, proto.CodeMembership, fmt.Sprintf("%s: %v", what, err), nil)
	case proposed != 0:
		return errFrame(h, proto.CodeUnknown, fmt.Sprintf("%s: outcome unknown, the change (entry %d) may still commit: %v; "+
			"rmqlog member list shows whether it took effect", what, proposed, err), nil)
	case errors.Is(err, engine.ErrClosed):
		return errFrame(h, proto.CodeClosing, "the node is shutting down", nil)
	}
	s.log.Error("membership change failed", "change", r.Op.String(), "member", r.ID, "err", err)
	return errFrame(h, proto.CodeFailed, fmt.Sprintf("%s: %v", what, err), nil)
}

// members is this node's view of the configuration; a leader adds each
// member's progress.
func (s *Server) members() proto.Members {
	st := s.node.Status()
	m := proto.Members{Node: st.ID, Leader: st.Leader, Index: st.ConfIndex, Committed: st.ConfCommitted}
	lead := st.Role == engine.Leader
	for _, x := range st.Membership.Members {
		pm := proto.Member{ID: x.ID, Peer: x.Peer, Client: x.Client, Learner: x.Learner}
		if x.ID == st.ID && pm.Client == "" {
			pm.Client = s.ln.Addr().String()
		}
		if lead && x.ID == st.ID {
			pm.Progress, pm.Match = true, st.Last
		}
		for _, f := range st.Followers {
			if lead && f.ID == x.ID {
				pm.Progress, pm.Match, pm.Lag = true, f.Match, f.Lag
			}
		}
		m.Members = append(m.Members, pm)
	}
	return m
}

// membershipDoc is the status document's view of the configuration.
func membershipDoc(st engine.Status) *proto.MembershipDoc {
	return &proto.MembershipDoc{Voters: append([]string{}, st.Membership.Voters()...), Learners: st.Membership.Learners(),
		Index: st.ConfIndex, Committed: st.ConfCommitted}
}
