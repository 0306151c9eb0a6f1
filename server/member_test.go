package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// startJoinGroup starts n0, n1 and n2 as a group (each one's Peers names
// the three) and n3 with Join set (its Peers names the four), each with a
// metrics endpoint.
func startJoinGroup(t *testing.T) *group {
	t.Helper()
	ids := []string{"n0", "n1", "n2", "n3"}
	lns, peers := map[string]net.Listener{}, map[string]string{}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id], peers[id] = ln, ln.Addr().String()
	}
	g := &group{t: t, servers: map[string]*Server{}}
	t.Cleanup(func() {
		for _, s := range g.servers {
			s.Close()
		}
	})
	for _, id := range ids {
		cl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ecfg := testgroup.Defaults()
		ecfg.ID, ecfg.Listener, ecfg.Dir = id, lns[id], t.TempDir()
		ecfg.Peers = map[string]string{"n0": peers["n0"], "n1": peers["n1"], "n2": peers["n2"]}
		if id == "n3" {
			ecfg.Peers["n3"], ecfg.Join = peers["n3"], true
		}
		s, err := Start(Config{ClientListener: cl, Logger: testLogger().With("node", id), Engine: ecfg, MetricsAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		g.servers[id] = s
	}
	return g
}

// members asks for s's view of the configuration.
func members(t *testing.T, s *Server) proto.Members {
	t.Helper()
	code, b := dialRaw(t, s).call(proto.TypeMember, proto.AppendMemberRequest(nil, proto.MemberRequest{Op: proto.MemberList}))
	m, err := proto.ParseMembers(b)
	if code != proto.CodeOK || err != nil {
		t.Fatalf("member list on %s: %v %v", s.Node().ID(), code, err)
	}
	return m
}

// roles renders a configuration as "n0:voter n3:learner ...".
func roles(m proto.Members) string {
	var out []string
	for _, x := range m.Members {
		role := "voter"
		if x.Learner {
			role = "learner"
		}
		out = append(out, x.ID+":"+role)
	}
	return strings.Join(out, " ")
}

// change sends a member change on c and returns its code and answer.
func change(c *rawConn, op proto.MemberOp, id, peer string) (proto.Code, []byte) {
	c.t.Helper()
	return c.call(proto.TypeMember, proto.AppendMemberRequest(nil, proto.MemberRequest{Op: op, ID: id, Peer: peer}))
}

// mustAppend appends one entry through the leader.
func mustAppend(t *testing.T, l *Server, what string) {
	t.Helper()
	code, b := dialRaw(t, l).call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{[]byte(what)}))
	if code != proto.CodeOK {
		t.Fatalf("append after %s: %v %+v", what, code, errMsg(t, b))
	}
}

func scrape(t *testing.T, s *Server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMemberChanges: a node started with Join is added as a learner
// through the leader's client port (a follower redirects), promoted once
// caught up, and an original member is removed; after each change an
// append commits, and the lists, the status document and the metrics show
// the configuration.
func TestMemberChanges(t *testing.T) {
	g := startJoinGroup(t)
	l := g.leader()
	lead := l.Node().ID()
	n3 := g.servers["n3"]
	n3peer := n3.cfg.Engine.Peers["n3"]
	if m := members(t, n3); len(m.Members) != 0 || m.Index != 0 || m.Node != "n3" {
		t.Fatalf("the joining node's view: %+v, want no members", m)
	}
	m := members(t, l)
	if roles(m) != "n0:voter n1:voter n2:voter" || m.Index != 0 || !m.Committed || m.Leader != lead {
		t.Fatalf("the leader's view: %+v", m)
	}
	for _, x := range m.Members {
		if !x.Progress || (x.ID == lead && x.Client != l.Addr().String()) {
			t.Errorf("leader's view of %s: %+v", x.ID, x)
		}
	}

	var f *Server
	for _, id := range []string{"n0", "n1", "n2"} {
		if id != lead {
			f = g.servers[id]
		}
	}
	if fm := members(t, f); roles(fm) != "n0:voter n1:voter n2:voter" || fm.Members[0].Progress {
		t.Fatalf("a follower's view: %+v (no progress expected)", fm)
	}
	poll.EventuallyNil(t, 5*time.Second, "a follower redirecting the add to the leader", func() error {
		code, b := change(dialRaw(t, f), proto.MemberAdd, "n3", n3peer)
		if e := errMsg(t, b); code != proto.CodeNotLeader || e.Leader != lead || e.LeaderAddr != l.Addr().String() {
			return fmt.Errorf("%v %+v", code, e)
		}
		return nil
	})

	c := dialRaw(t, l)
	code, b := change(c, proto.MemberAdd, "n3", n3peer)
	m, err := proto.ParseMembers(b)
	if code != proto.CodeOK || err != nil || roles(m) != "n0:voter n1:voter n2:voter n3:learner" || m.Index == 0 || !m.Committed {
		t.Fatalf("add n3: %v %+v %v", code, m, err)
	}
	if x, _ := m.Member("n3"); x.Peer != n3peer {
		t.Fatalf("n3 in the answer: %+v", x)
	}
	mustAppend(t, l, "add")
	poll.Eventually(t, 5*time.Second, "the metrics showing the learner", func() bool {
		out := scrape(t, l)
		return strings.Contains(out, `rmqlog_members{role="learner"} 1`) && strings.Contains(out, `rmqlog_members{role="voter"} 3`) &&
			strings.Contains(out, `rmqlog_learner_lag_entries{learner="n3"}`) && strings.Contains(out, "rmqlog_conf_committed 1") &&
			!strings.Contains(out, "rmqlog_conf_index 0")
	})

	poll.EventuallyNil(t, 10*time.Second, "promoting n3 once it caught up", func() error {
		code, b := change(c, proto.MemberPromote, "n3", "")
		switch code {
		case proto.CodeOK:
			return nil
		case proto.CodeNotCaughtUp, proto.CodeChangePending:
			return fmt.Errorf("%v: %s", code, errMsg(t, b).Message)
		}
		t.Fatalf("promote n3: %v %+v", code, errMsg(t, b))
		return nil
	})
	mustAppend(t, l, "promote")

	gone := f.Node().ID()
	code, b = change(c, proto.MemberRemove, gone, "")
	m, err = proto.ParseMembers(b)
	want := strings.Join(slices.DeleteFunc([]string{"n0:voter", "n1:voter", "n2:voter", "n3:voter"},
		func(s string) bool { return strings.HasPrefix(s, gone+":") }), " ")
	if code != proto.CodeOK || err != nil || roles(m) != want {
		t.Fatalf("remove %s: %v %+v %v; want %s", gone, code, m, err, want)
	}
	mustAppend(t, l, "remove")
	poll.Eventually(t, 5*time.Second, "n3's view of the new configuration", func() bool {
		return roles(members(t, n3)) == want
	})

	_, b = c.call(proto.TypeStatus, nil)
	var doc proto.StatusDoc
	if err := json.Unmarshal(b, &doc); err != nil || doc.Membership == nil || len(doc.Membership.Voters) != 3 ||
		len(doc.Membership.Learners) != 0 || doc.Membership.Index != m.Index || !doc.Membership.Committed {
		t.Fatalf("status membership: %+v %v\n%s", doc.Membership, err, b)
	}
	for _, x := range doc.Followers {
		if x.ID == gone || x.Learner {
			t.Errorf("status follower %+v after the removal of %s", x, gone)
		}
	}

	// The leader removes itself: it answers once the change commits, then
	// hands leadership to a remaining voter.
	code, b = change(c, proto.MemberRemove, lead, "")
	if m, err = proto.ParseMembers(b); code != proto.CodeOK || err != nil || len(m.Members) != 2 {
		t.Fatalf("remove the leader %s: %v %+v %v", lead, code, m, err)
	}
	next := g.leader()
	if next == l {
		t.Fatalf("the removed leader %s still leads", lead)
	}
	mustAppend(t, next, "remove the leader")
}

// TestMemberRefusals: invalid changes are refused with the code and a
// message that names the problem; the connection goes on.
func TestMemberRefusals(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	c := dialRaw(t, l)
	tests := []struct {
		name string
		req  proto.MemberRequest
		code proto.Code
		says string
	}{
		{"already a member", proto.MemberRequest{Op: proto.MemberAdd, ID: "n1", Peer: "127.0.0.1:1"}, proto.CodeMembership, "already a member"},
		{"peer in use", proto.MemberRequest{Op: proto.MemberAdd, ID: "n7", Peer: l.cfg.Engine.Peers["n1"]}, proto.CodeMembership, `is member "n1"'s`},
		{"not a member", proto.MemberRequest{Op: proto.MemberRemove, ID: "n9"}, proto.CodeMembership, "not a member"},
		{"promote a voter", proto.MemberRequest{Op: proto.MemberPromote, ID: "n0"}, proto.CodeMembership, "already a voter"},
		{"bad id", proto.MemberRequest{Op: proto.MemberAdd, ID: "n-3", Peer: "127.0.0.1:1"}, proto.CodeBadRequest, "written in dLegerPeers"},
		{"no peer", proto.MemberRequest{Op: proto.MemberAdd, ID: "n3"}, proto.CodeBadRequest, `peer address "": allowed host:port`},
		{"bad port", proto.MemberRequest{Op: proto.MemberAdd, ID: "n3", Peer: "h:0"}, proto.CodeBadRequest, "port from 1 to 65535"},
		{"bad client", proto.MemberRequest{Op: proto.MemberAdd, ID: "n3", Peer: "h:1", Client: "h"}, proto.CodeBadRequest, `client address "h"`},
		{"no id", proto.MemberRequest{Op: proto.MemberRemove}, proto.CodeBadRequest, "member remove: id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := c.call(proto.TypeMember, proto.AppendMemberRequest(nil, tt.req))
			if e := errMsg(t, b); code != tt.code || !strings.Contains(e.Message, tt.says) {
				t.Fatalf("%v %+v; want %v saying %q", code, e, tt.code, tt.says)
			}
		})
	}
	if code, b := c.call(proto.TypeMember, []byte{9, 0, 0, 0, 0, 0, 0}); code != proto.CodeBadRequest ||
		!strings.Contains(errMsg(t, b).Message, "member op 9") {
		t.Fatalf("unknown op: %v %+v", code, errMsg(t, b))
	}
	if m := members(t, l); roles(m) != "n0:voter n1:voter n2:voter" || m.Index != 0 {
		t.Fatalf("the configuration changed: %+v", m)
	}
}
