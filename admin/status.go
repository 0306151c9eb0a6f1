package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
)

// NodeStatus is one node's status as `rmqlog status` reports it: the node's
// own document, or the error that kept us from getting it.
type NodeStatus struct {
	Addr string `json:"addr"`
	proto.StatusDoc
	Err string `json:"err,omitempty"`
	// Lag is this follower's lag as its leader reports it (leader's last
	// index minus the follower's match index); absent when unknown.
	Lag *uint64 `json:"lag,omitempty"`
}

// Status asks every address for its node's status, concurrently, each
// within timeout.
func Status(ctx context.Context, addrs []string, timeout time.Duration) []NodeStatus {
	out := make([]NodeStatus, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = nodeStatus(ctx, a, timeout)
		}()
	}
	wg.Wait()
	fillLag(out)
	return out
}

func nodeStatus(ctx context.Context, addr string, timeout time.Duration) NodeStatus {
	ns := NodeStatus{Addr: addr}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := client.Dial(ctx, []string{addr}, client.WithPinned(), client.WithFailFast())
	if err != nil {
		ns.Err = err.Error()
		return ns
	}
	defer c.Close()
	b, err := c.Status(ctx)
	if err == nil {
		err = json.Unmarshal(b, &ns.StatusDoc)
	}
	if err != nil {
		ns.Err = err.Error()
	}
	return ns
}

// fillLag copies each follower's lag from the leader's view.
func fillLag(nodes []NodeStatus) {
	for _, l := range nodes {
		if l.Err != "" || l.Role != "leader" {
			continue
		}
		for _, f := range l.Followers {
			for i := range nodes {
				if nodes[i].Self == f.ID && nodes[i].Err == "" {
					lag := f.Lag
					nodes[i].Lag = &lag
				}
			}
		}
		for i := range nodes {
			if nodes[i].Self == l.Self {
				zero := uint64(0)
				nodes[i].Lag = &zero
			}
		}
	}
}

// WriteStatusTable prints nodes as an aligned table.
func WriteStatusTable(w io.Writer, nodes []NodeStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDR\tNODE\tROLE\tTERM\tLEADER\tCOMMIT\tLAST\tDURABLE\tLAG\tFLUSH\tBROKER\tNOTE")
	for _, n := range nodes {
		if n.Err != "" {
			fmt.Fprintf(tw, "%s\t-\tunreachable\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", n.Addr, oneLine(n.Err))
			continue
		}
		lag := "-"
		if n.Lag != nil {
			lag = fmt.Sprint(*n.Lag)
		}
		note := statusNote(n)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", n.Addr, n.Self, n.Role, n.Term,
			orDash(n.Leader), n.CommitIndex, n.LastIndex, n.DurableIndex, lag, n.FlushMode, brokerCell(n.Broker), note)
	}
	return tw.Flush()
}

// brokerCell is the BROKER column: the RocketMQ broker's name, remoting
// address (listenPort), applied index and whether it takes sends, or "-".
func brokerCell(b *proto.BrokerDoc) string {
	if b == nil {
		return "-"
	}
	state := "ready"
	switch {
	case b.Error != "":
		state = "STOPPED: " + oneLine(b.Error)
	case !b.Ready:
		state = "not-master"
	}
	return fmt.Sprintf("%s@%s applied=%d %s", b.Name, b.RemotingAddr, b.Applied, state)
}

// statusNote is the NOTE column: what is wrong with a node, worst first.
func statusNote(n NodeStatus) string {
	var notes []string
	if n.Error != "" {
		notes = append(notes, "stopped: "+oneLine(n.Error))
	}
	if n.Starting != "" {
		notes = append(notes, n.Starting)
	}
	if n.Contradiction != "" {
		notes = append(notes, "CONTRADICTION: "+oneLine(n.Contradiction))
	}
	switch {
	case n.TermLost && n.Term == 0 && n.LastIndex == 0:
		notes = append(notes, "new: waiting to hear "+strings.Join(n.Waiting, ", ")+
			" (a new group elects its first leader once every member has started)")
	case n.TermLost:
		notes = append(notes, "repairing: lost its term and vote, waiting to hear "+strings.Join(n.Waiting, ", "))
	case n.RepairTo == proto.RepairUnknown:
		notes = append(notes, "repairing: unclean stop under ASYNC_FLUSH")
	case n.RepairTo != 0:
		notes = append(notes, fmt.Sprintf("repairing: damaged log, held up to %d", n.RepairTo))
	}
	if note := memberNote(n); note != "" {
		notes = append(notes, note)
	}
	return strings.Join(notes, "; ")
}

// memberNote says what is unusual about the node's membership: a learner,
// a node that is no member (joining, or removed), a change under way.
func memberNote(n NodeStatus) string {
	m := n.Membership
	switch {
	case m == nil:
		return ""
	case slices.Contains(m.Learners, n.Self):
		return "learner: receives the log, does not vote (rmqlog member promote once caught up)"
	case !slices.Contains(m.Voters, n.Self) && len(m.Voters) == 0:
		return "not a member yet: joining (rmqlog member add)"
	case !slices.Contains(m.Voters, n.Self):
		return "not a member: removed from the group (stop it), or joining (rmqlog member add)"
	case !m.Committed:
		return fmt.Sprintf("membership change under way (configuration %d not committed)", m.Index)
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Transfer asks the group's leader (found through addrs) to hand
// leadership to member to, and waits until it has.
func Transfer(ctx context.Context, addrs []string, to string) error {
	c, err := client.Dial(ctx, addrs, client.WithFailFast())
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Transfer(ctx, to)
}
