package proto

import (
	"encoding/binary"
	"fmt"
)

// The member request (TypeMember) lists the group's configuration or
// changes it by one member (docs/membership.md):
//
//	request:  u8 op | string id | string peer | string client
//	answer:   string node | string leader | u64 index | u8 committed |
//	          u16 count | count x member
//	member:   string id | string peer | string client | u8 flags | u64 match | u64 lag
//	flags:    bit 0 learner, bit 1 progress (match and lag are known); the rest 0
//
// A list is answered by any node with its own view; a change only by the
// leader (others answer CodeNotLeader naming it), once the change is
// committed, with the configuration it made.

// MemberOp is what a member request asks.
type MemberOp uint8

// The member operations.
const (
	MemberList    MemberOp = 0 // the answering node's view of the configuration
	MemberAdd     MemberOp = 1 // add ID at Peer (Client optional) as a learner
	MemberPromote MemberOp = 2 // make learner ID a voter, once it has caught up
	MemberRemove  MemberOp = 3 // remove member ID (voter or learner, the leader included)
	maxMemberOp            = MemberRemove
)

var memberOpNames = [...]string{"list", "add", "promote", "remove"}

func (o MemberOp) String() string {
	if o <= maxMemberOp {
		return memberOpNames[o]
	}
	return fmt.Sprintf("MemberOp(%d)", uint8(o))
}

// MemberRequest is the body of a member request. Add needs ID and Peer
// (the member's peer address, as in dLegerPeers; Client, its client
// address, is optional); Promote and Remove need ID; List none.
type MemberRequest struct {
	Op               MemberOp
	ID, Peer, Client string
}

// AppendMemberRequest appends r's body.
func AppendMemberRequest(b []byte, r MemberRequest) []byte {
	b = append(b, byte(r.Op))
	return appendStr(appendStr(appendStr(b, r.ID), r.Peer), r.Client)
}

// ParseMemberRequest decodes AppendMemberRequest. It checks the op, not
// whether the strings suit it (the node does).
func ParseMemberRequest(body []byte) (MemberRequest, error) {
	r := reader{b: body}
	op := MemberOp(r.u8("op"))
	if r.err == nil && op > maxMemberOp {
		r.err = fmt.Errorf("%w: member op %d, want 0 (list) to %d", ErrBody, op, maxMemberOp)
	}
	m := MemberRequest{Op: op, ID: r.str("member id"), Peer: r.str("peer address"), Client: r.str("client address")}
	return m, r.done("member")
}

// MaxMembers bounds the members of a Members body.
const MaxMembers = 1024

// memberMin is the smallest encoded member: three empty strings, the
// flags, match and lag.
const memberMin = 3*2 + 1 + 8 + 8

// Member is one member of a configuration, as a member answer carries it.
type Member struct {
	ID     string
	Peer   string // peer address (replication)
	Client string // client address, "" if not known
	// Learner: receives the log, neither votes nor counts toward commit.
	Learner bool
	// Progress: Match and Lag are known (the answering node leads; for
	// itself, Match is its last index and Lag 0).
	Progress bool
	Match    uint64 // the highest index known to be in the member's log
	Lag      uint64 // the leader's last index minus Match
}

// Members answers a member request: the configuration in force on the
// answering node (for a change: once the change committed).
type Members struct {
	Node   string // the answering node's id
	Leader string // the leader's id, "" if unknown
	// Index is the configuration entry's index: 0 for the bootstrap
	// configuration (dLegerPeers), or for none (a node that joins and
	// has not been added yet: no members).
	Index uint64
	// Committed: the configuration entry is committed (while it is not, a
	// change is under way).
	Committed bool
	Members   []Member // ordered by id
}

// Member returns member id, if it is one.
func (m Members) Member(id string) (Member, bool) {
	for _, x := range m.Members {
		if x.ID == id {
			return x, true
		}
	}
	return Member{}, false
}

// Member flags.
const (
	flagLearner  = 1 << 0
	flagProgress = 1 << 1
)

// AppendMembers appends m's body; members beyond MaxMembers are left out.
func AppendMembers(b []byte, m Members) []byte {
	b = appendStr(appendStr(b, m.Node), m.Leader)
	b = binary.LittleEndian.AppendUint64(b, m.Index)
	b = append(b, boolByte(m.Committed))
	ms := m.Members[:min(len(m.Members), MaxMembers)]
	b = binary.LittleEndian.AppendUint16(b, uint16(len(ms)))
	for _, x := range ms {
		b = appendStr(appendStr(appendStr(b, x.ID), x.Peer), x.Client)
		b = append(b, boolByte(x.Learner)*flagLearner|boolByte(x.Progress)*flagProgress)
		b = binary.LittleEndian.AppendUint64(b, x.Match)
		b = binary.LittleEndian.AppendUint64(b, x.Lag)
	}
	return b
}

// ParseMembers decodes AppendMembers. The member count is checked against
// the body's size before anything is allocated.
func ParseMembers(body []byte) (Members, error) {
	r := reader{b: body}
	m := Members{Node: r.str("node"), Leader: r.str("leader"), Index: r.u64("configuration index")}
	m.Committed = r.flag("committed")
	n := int(r.u16("member count"))
	switch {
	case r.err != nil:
		return Members{}, r.err
	case n > MaxMembers:
		return Members{}, fmt.Errorf("%w: %d members, at most %d", ErrBody, n, MaxMembers)
	case n*memberMin > len(r.b):
		return Members{}, fmt.Errorf("%w: %d members cannot fit in %d bytes", ErrBody, n, len(r.b))
	}
	m.Members = make([]Member, 0, n)
	for range n {
		x := Member{ID: r.str("member id"), Peer: r.str("peer address"), Client: r.str("client address")}
		f := r.u8("member flags")
		if r.err == nil && f&^(flagLearner|flagProgress) != 0 {
			r.err = fmt.Errorf("%w: member %q has flags %#x, only bits 0 and 1 are defined", ErrBody, x.ID, f)
		}
		x.Learner, x.Progress = f&flagLearner != 0, f&flagProgress != 0
		x.Match, x.Lag = r.u64("match index"), r.u64("lag")
		if r.err != nil {
			return Members{}, r.err
		}
		m.Members = append(m.Members, x)
	}
	if err := r.done("members"); err != nil {
		return Members{}, err
	}
	return m, nil
}

func (r *reader) u16(what string) uint16 {
	if v := r.need(2, what); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

// flag reads a u8 that must be 0 or 1.
func (r *reader) flag(what string) bool {
	v := r.u8(what)
	if r.err == nil && v > 1 {
		r.err = fmt.Errorf("%w: %s flag %d, want 0 or 1", ErrBody, what, v)
	}
	return v == 1
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
