package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
)

var leaderView = proto.Members{Node: "n0", Leader: "n0", Index: 9, Committed: true, Members: []proto.Member{
	{ID: "n0", Peer: "h:1", Client: "h:2", Progress: true, Match: 20},
	{ID: "n1", Peer: "h:3", Progress: true, Match: 20},
	{ID: "n3", Peer: "h:5", Client: "h:6", Learner: true, Progress: true, Match: 4, Lag: 16}}}

func TestMembersTable(t *testing.T) {
	tests := []struct {
		name string
		m    proto.Members
		want []string
	}{
		{"leader", leaderView, []string{
			"configuration at index 9, committed; as seen by n0 (leader n0)",
			"n0  voter (leader)  h:1   h:2     20     0",
			"n1  voter           h:3   -       20     0",
			"n3  learner         h:5   h:6     4      16"}},
		{"follower, change under way", proto.Members{Node: "n1", Index: 12, Members: []proto.Member{{ID: "n0", Peer: "h:1"}}}, []string{
			"configuration at index 12, NOT COMMITTED: a change is under way; as seen by n1 (leader -)",
			"n0  voter  h:1   -       -      -"}},
		{"bootstrap", proto.Members{Node: "n1", Leader: "n0", Committed: true, Members: []proto.Member{{ID: "n0", Peer: "h:1"}}}, []string{
			"bootstrap configuration (dLegerPeers), committed; as seen by n1 (leader n0)"}},
		{"joining", proto.Members{Node: "n4", Committed: true}, []string{
			"no members: n4 joins a group (rmqlogJoin=true) and has not been added yet; ask the group's members instead"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteMembersTable(&b, tt.m); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestMembersDoc(t *testing.T) {
	d := NewMembersDoc(leaderView)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"node":"n0","leader":"n0","confIndex":9,"committed":true,"members":[` +
		`{"id":"n0","role":"voter","peer":"h:1","client":"h:2","match":20,"lag":0},` +
		`{"id":"n1","role":"voter","peer":"h:3","match":20,"lag":0},` +
		`{"id":"n3","role":"learner","peer":"h:5","client":"h:6","match":4,"lag":16}],"dLegerPeers":"n0-h:1;n1-h:3;n3-h:5"}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
	if b, _ := json.Marshal(NewMembersDoc(proto.Members{Node: "n4"})); !strings.Contains(string(b), `"members":[],"dLegerPeers":""`) {
		t.Errorf("a joining node's doc: %s", b)
	}
	if b, _ := json.Marshal(NewMembersDoc(proto.Members{Members: []proto.Member{{ID: "n0"}}})); strings.Contains(string(b), "match") {
		t.Errorf("progress without Progress: %s", b)
	}
}

func TestMemberAdvice(t *testing.T) {
	r := proto.MemberRequest{Op: proto.MemberPromote, ID: "n3"}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: lags", client.ErrNotCaughtUp), "n3 is still catching up: rmqlog member list shows its lag"},
		{fmt.Errorf("%w: x", client.ErrChangePending), "retry once it has committed"},
		{fmt.Errorf("%w: x", client.ErrMembership), "rmqlog member list shows the configuration in force"},
		{fmt.Errorf("%w: x", client.ErrUnknown), "may still commit"},
		{fmt.Errorf("pending: %w", context.DeadlineExceeded), "may still commit"},
		{client.ErrBadRequest, ""},
	}
	for _, tt := range tests {
		if got := MemberAdvice(r, tt.err); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("advice for %v: %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestMemberNote(t *testing.T) {
	conf := &proto.MembershipDoc{Voters: []string{"n0", "n1", "n2"}, Learners: []string{"n3"}, Index: 4, Committed: true}
	uncommitted := *conf
	uncommitted.Committed = false
	tests := []struct {
		self string
		m    *proto.MembershipDoc
		want string
	}{
		{"n0", conf, ""},
		{"n3", conf, "learner: receives the log, does not vote"},
		{"n7", conf, "not a member: removed from the group (stop it), or joining"},
		{"n7", &proto.MembershipDoc{Committed: true}, "not a member yet: joining (rmqlog member add)"},
		{"n0", &uncommitted, "membership change under way (configuration 4 not committed)"},
		{"n0", nil, ""},
	}
	for _, tt := range tests {
		n := NodeStatus{StatusDoc: proto.StatusDoc{Self: tt.self, Membership: tt.m}}
		if got := statusNote(n); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("%s in %+v: note %q, want %q", tt.self, tt.m, got, tt.want)
		}
	}
}
