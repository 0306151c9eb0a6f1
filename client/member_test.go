package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
)

// threeAndLearner is a leader's answer after n3 was added.
var threeAndLearner = proto.Members{Node: "n0", Leader: "n0", Index: 5, Committed: true, Members: []proto.Member{
	{ID: "n0", Peer: "h:1", Progress: true, Match: 9}, {ID: "n1", Peer: "h:2", Progress: true, Match: 9},
	{ID: "n2", Peer: "h:3", Progress: true, Match: 8, Lag: 1}, {ID: "n3", Peer: "h:4", Learner: true, Progress: true, Match: 2, Lag: 7}}}

// memberScript answers the nth member request with codes[n-1] (the last
// one repeats; CodeOK: m), and list requests always with m.
func memberScript(m proto.Members, codes ...proto.Code) func(proto.Header, []byte, int) []byte {
	changes := 0
	return func(h proto.Header, body []byte, _ int) []byte {
		if h.Type != proto.TypeMember {
			return nil
		}
		r, err := proto.ParseMemberRequest(body)
		if err != nil {
			return proto.Frame(nil, h.Type, proto.CodeBadRequest, h.ID, proto.AppendError(nil, proto.ErrorBody{Message: err.Error()}))
		}
		code := proto.CodeOK
		if r.Op != proto.MemberList {
			changes++
			code = codes[min(changes, len(codes))-1]
		}
		if code == proto.CodeOK {
			return proto.Frame(nil, h.Type, code, h.ID, proto.AppendMembers(nil, m))
		}
		return proto.Frame(nil, h.Type, code, h.ID, proto.AppendError(nil, proto.ErrorBody{Message: "scripted " + code.String()}))
	}
}

func TestMembers(t *testing.T) {
	_, nodes := group(t, 2)
	nodes[0].set(func(n *testNode) { n.respond = memberScript(threeAndLearner, proto.CodeOK) })
	c := dial(t, addrsOf(nodes[1])) // finds the leader
	ctx := ctxFor(t, 10*time.Second)
	m, err := c.Members(ctx)
	if err != nil || m.Node != "n0" || len(m.Members) != 4 || !m.Members[3].Learner || m.Members[3].Lag != 7 {
		t.Fatalf("Members = %+v, %v", m, err)
	}
	if m, err := c.AddLearner(ctx, "n3", "h:4", ""); err != nil || m.Index != 5 {
		t.Fatalf("AddLearner = %+v, %v", m, err)
	}
}

// TestMemberErrors: each refusal is its sentinel with the node's message;
// a pending change is retried, a refused one is not.
func TestMemberErrors(t *testing.T) {
	tests := []struct {
		name  string
		codes []proto.Code
		call  func(*Client) error
		want  error
		sends int
	}{
		{"pending then done", []proto.Code{proto.CodeChangePending, proto.CodeChangePending, proto.CodeOK},
			func(c *Client) error { _, err := c.Promote(ctxFor(t, 10*time.Second), "n3"); return err }, nil, 3},
		{"not caught up", []proto.Code{proto.CodeNotCaughtUp},
			func(c *Client) error { _, err := c.Promote(ctxFor(t, 10*time.Second), "n3"); return err }, ErrNotCaughtUp, 1},
		{"refused", []proto.Code{proto.CodeMembership},
			func(c *Client) error { _, err := c.RemoveMember(ctxFor(t, 10*time.Second), "n9"); return err }, ErrMembership, 1},
		{"bad request", []proto.Code{proto.CodeBadRequest},
			func(c *Client) error { _, err := c.AddLearner(ctxFor(t, 10*time.Second), "n-3", "h:4", ""); return err }, ErrBadRequest, 1},
		{"pending past the context", []proto.Code{proto.CodeChangePending},
			func(c *Client) error { _, err := c.Promote(ctxFor(t, 300*time.Millisecond), "n3"); return err }, ErrChangePending, -1},
		// The first attempt's outcome is unknown, the retry finds n3
		// already a member at that address: the change took effect.
		{"unknown then in effect", []proto.Code{proto.CodeUnknown, proto.CodeMembership},
			func(c *Client) error { _, err := c.AddLearner(ctxFor(t, 10*time.Second), "n3", "h:4", ""); return err }, nil, 2},
		{"unknown then refused", []proto.Code{proto.CodeUnknown, proto.CodeMembership},
			func(c *Client) error { _, err := c.AddLearner(ctxFor(t, 10*time.Second), "n3", "h:9", ""); return err }, ErrMembership, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, nodes := group(t, 1)
			nodes[0].set(func(n *testNode) { n.respond = memberScript(threeAndLearner, tt.codes...) })
			c := dial(t, addrsOf(nodes...))
			err := tt.call(c)
			if tt.want == nil && err != nil || tt.want != nil && (!errors.Is(err, tt.want) || !strings.Contains(err.Error(), "scripted")) {
				t.Fatalf("%v; want %v with the node's message", err, tt.want)
			}
			changes := nodes[0].count(proto.TypeMember)
			if strings.HasPrefix(tt.name, "unknown") {
				changes-- // the list that checked the change
			}
			if tt.sends >= 0 && changes != tt.sends {
				t.Errorf("%d changes sent, want %d", changes, tt.sends)
			}
		})
	}
}
