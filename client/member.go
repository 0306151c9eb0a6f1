package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
)

// Membership (docs/membership.md): a group changes one member at a time.
// A new node, started with rmqlogJoin=true, is added as a learner (it
// receives the log, does not vote), promoted to a voter once it has caught
// up, and a member is removed, the leader included. The changes go to the
// leader and return once committed; Members reads any node's view.

// changePendingWait bounds how long a change is retried while an earlier
// change, or a new leader's no-op, commits.
const changePendingWait = 5 * time.Second

// Members returns the configuration as the node the client is connected
// to sees it (the leader, unless WithPinned): its members ordered by id,
// each one's role and addresses, and from a leader each one's match index
// and lag.
func (c *Client) Members(ctx context.Context) (proto.Members, error) {
	cl, err := c.run(ctx, &op{typ: proto.TypeMember, member: proto.MemberRequest{Op: proto.MemberList}})
	if err != nil {
		return proto.Members{}, err
	}
	m := cl.members
	cl.free()
	return m, nil
}

// AddLearner adds member id, whose peer address (its dLegerPeers entry)
// is peer and client address clientAddr ("" if not given), as a learner,
// and returns the configuration once the change is committed. The node
// must have been started with rmqlogJoin=true. Errors besides those of
// every call: ErrMembership (invalid: id or peer address already a
// member's), ErrChangePending once an earlier change has kept it waiting
// for 5 s or the context ended, ErrBadRequest (an id dLegerPeers cannot
// hold, an address that is not host:port). A change whose first attempt's
// outcome was unknown and that its retry finds in effect succeeds.
func (c *Client) AddLearner(ctx context.Context, id, peer, clientAddr string) (proto.Members, error) {
	return c.change(ctx, proto.MemberRequest{Op: proto.MemberAdd, ID: id, Peer: peer, Client: clientAddr})
}

// Promote makes learner id a voter and returns the configuration once the
// change is committed. ErrNotCaughtUp: the learner lags the leader (the
// message says by how much); retry once Members shows a small lag.
// Otherwise as AddLearner.
func (c *Client) Promote(ctx context.Context, id string) (proto.Members, error) {
	return c.change(ctx, proto.MemberRequest{Op: proto.MemberPromote, ID: id})
}

// RemoveMember removes member id (a voter or a learner; the leader too,
// which then hands leadership to another voter) and returns the
// configuration once the change is committed. As AddLearner otherwise.
func (c *Client) RemoveMember(ctx context.Context, id string) (proto.Members, error) {
	return c.change(ctx, proto.MemberRequest{Op: proto.MemberRemove, ID: id})
}

// change runs a membership change, retrying ErrChangePending for up to
// changePendingWait, and turns a refusal after an attempt whose outcome
// was unknown into success if the change is in effect.
func (c *Client) change(ctx context.Context, r proto.MemberRequest) (proto.Members, error) {
	o := &op{typ: proto.TypeMember, member: r}
	until := time.Now().Add(changePendingWait)
	var bo backoff
	var pending error // the last ErrChangePending
	for {
		cl, err := c.run(ctx, o)
		if err == nil {
			m := cl.members
			cl.free()
			return m, nil
		}
		if pending != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w; before that: %w", err, pending)
		}
		switch {
		case errors.Is(err, ErrMembership) && o.unsure:
			if m, merr := c.Members(ctx); merr == nil && inEffect(m, r) {
				return m, nil
			}
		case errors.Is(err, ErrChangePending) && time.Now().Before(until):
			pending = err
			if bo.wait(ctx, c.life) == nil {
				continue
			}
		}
		return proto.Members{}, err
	}
}

// inEffect reports whether configuration m holds what change r makes.
func inEffect(m proto.Members, r proto.MemberRequest) bool {
	x, ok := m.Member(r.ID)
	switch r.Op {
	case proto.MemberAdd:
		return ok && x.Peer == r.Peer
	case proto.MemberPromote:
		return ok && !x.Learner
	case proto.MemberRemove:
		return !ok
	}
	return false
}
