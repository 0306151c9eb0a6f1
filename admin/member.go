package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
)

// MembersDoc is a group's configuration as `rmqlog member list --json`
// prints it: one node's view (the leader's when one was found).
type MembersDoc struct {
	Node   string `json:"node"`   // the node that answered
	Leader string `json:"leader"` // "" if it knows none
	// ConfIndex is the configuration entry's index: 0 for the bootstrap
	// configuration (dLegerPeers), or none (a node that joins).
	ConfIndex uint64 `json:"confIndex"`
	// Committed: the configuration is committed; while it is not, a
	// change is under way.
	Committed bool        `json:"committed"`
	Members   []MemberDoc `json:"members"`
	// Peers is the dLegerPeers value that names these members.
	Peers string `json:"dLegerPeers"`
}

// MemberDoc is one member.
type MemberDoc struct {
	ID     string `json:"id"`
	Role   string `json:"role"` // "voter" or "learner"
	Peer   string `json:"peer"`
	Client string `json:"client,omitempty"`
	// Match and Lag are the leader's view of the member's log (absent from
	// another node's answer).
	Match *uint64 `json:"match,omitempty"`
	Lag   *uint64 `json:"lag,omitempty"`
}

// NewMembersDoc converts a member answer.
func NewMembersDoc(m proto.Members) MembersDoc {
	d := MembersDoc{Node: m.Node, Leader: m.Leader, ConfIndex: m.Index, Committed: m.Committed,
		Members: []MemberDoc{}, Peers: PeersLine(m)}
	for _, x := range m.Members {
		md := MemberDoc{ID: x.ID, Role: "voter", Peer: x.Peer, Client: x.Client}
		if x.Learner {
			md.Role = "learner"
		}
		if x.Progress {
			match, lag := x.Match, x.Lag
			md.Match, md.Lag = &match, &lag
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// PeersLine is the dLegerPeers value naming m's members: id-peer items
// joined by ';', in id order.
func PeersLine(m proto.Members) string {
	items := make([]string, 0, len(m.Members))
	for _, x := range m.Members {
		items = append(items, x.ID+"-"+x.Peer)
	}
	return strings.Join(items, ";")
}

// Members asks the group, through any of addrs, for its configuration:
// the leader's view when a leader is found (with each member's match and
// lag), else the view of the node reached.
func Members(ctx context.Context, addrs []string) (proto.Members, error) {
	c, err := client.Dial(ctx, addrs, client.WithFailFast())
	if err != nil {
		return proto.Members{}, err
	}
	defer c.Close()
	return c.Members(ctx)
}

// ChangeMember applies one membership change through the group's leader
// (found through addrs) and returns the configuration once it is
// committed. r.Op is MemberAdd, MemberPromote or MemberRemove.
func ChangeMember(ctx context.Context, addrs []string, r proto.MemberRequest) (proto.Members, error) {
	c, err := client.Dial(ctx, addrs, client.WithFailFast())
	if err != nil {
		return proto.Members{}, err
	}
	defer c.Close()
	switch r.Op {
	case proto.MemberAdd:
		return c.AddLearner(ctx, r.ID, r.Peer, r.Client)
	case proto.MemberPromote:
		return c.Promote(ctx, r.ID)
	case proto.MemberRemove:
		return c.RemoveMember(ctx, r.ID)
	}
	return proto.Members{}, fmt.Errorf("admin: member %s is not a change", r.Op)
}

// MemberAdvice is what to do about a failed change, "" if nothing
// specific: the sentence an operator needs after the node's message.
func MemberAdvice(r proto.MemberRequest, err error) string {
	switch {
	case errors.Is(err, client.ErrNotCaughtUp):
		return fmt.Sprintf("%s is still catching up: rmqlog member list shows its lag (LAG); promote it once the lag is "+
			"within the limit the node's message names", r.ID)
	case errors.Is(err, client.ErrChangePending):
		return "an earlier membership change is still committing (one change at a time): rmqlog member list shows it " +
			"(committed: false); retry once it has committed"
	case errors.Is(err, client.ErrMembership):
		return "rmqlog member list shows the configuration in force"
	case errors.Is(err, client.ErrUnknown), errors.Is(err, context.DeadlineExceeded):
		return "the change may still commit: rmqlog member list shows whether it took effect before you retry"
	}
	return ""
}

// WriteMembersTable prints a configuration: a line saying whose view it
// is, then one row per member.
func WriteMembersTable(w io.Writer, m proto.Members) error {
	state := "committed"
	if !m.Committed {
		state = "NOT COMMITTED: a change is under way"
	}
	conf := fmt.Sprintf("configuration at index %d", m.Index)
	if m.Index == 0 {
		conf = "bootstrap configuration (dLegerPeers)"
	}
	fmt.Fprintf(w, "%s, %s; as seen by %s (leader %s)\n", conf, state, m.Node, orDash(m.Leader))
	if len(m.Members) == 0 {
		_, err := fmt.Fprintf(w, "no members: %s joins a group (rmqlogJoin=true) and has not been added yet; "+
			"ask the group's members instead\n", m.Node)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tPEER\tCLIENT\tMATCH\tLAG")
	for _, x := range m.Members {
		role := "voter"
		if x.Learner {
			role = "learner"
		}
		match, lag := "-", "-"
		if x.Progress {
			match, lag = fmt.Sprint(x.Match), fmt.Sprint(x.Lag)
		}
		if x.ID == m.Leader {
			role += " (leader)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, role, x.Peer, orDash(x.Client), match, lag)
	}
	return tw.Flush()
}
