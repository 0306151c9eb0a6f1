package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
)

// Membership changes (docs/membership.md). A group's configuration is a
// log entry (record.TypeConfig) holding the whole membership; a node uses
// the latest configuration in its log, committed or not, from the moment
// it is appended (Raft thesis §4.1), and falls back to the one before when
// a truncation removes it. Changes are single-server (one member added as
// a learner, one learner promoted, or one member removed) and one at a
// time: a leader proposes a change only once its term's no-op and every
// earlier configuration entry are committed. Any two configurations that
// differ by one voter have overlapping majorities, so two leaders can never
// be elected in one term; waiting for the no-op closes the gap Ongaro found
// in the single-server algorithm (a leader of a new term must not change
// the configuration before an entry of its own term commits).
//
// Learners receive the log but neither vote nor count toward commit, so
// adding one never stalls commits; a learner is promoted only once it has
// caught up (Promote's check), so the promotion does not stall them either.

// Member is one member of a group's configuration.
type Member struct {
	ID     string
	Peer   string // peer address (replication), "host:port"
	Client string // client address, "" if not known
	// Learner: receives the log, does not vote, does not count toward
	// commit, never campaigns.
	Learner bool
}

// Membership is a configuration: its members sorted by id.
type Membership struct {
	Members []Member
}

// Get returns member id.
func (c Membership) Get(id string) (Member, bool) {
	for _, m := range c.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// IsVoter reports whether id is a voting member.
func (c Membership) IsVoter(id string) bool {
	m, ok := c.Get(id)
	return ok && !m.Learner
}

// Voters returns the voting members' ids, sorted.
func (c Membership) Voters() []string { return c.ids(false) }

// Learners returns the learners' ids, sorted.
func (c Membership) Learners() []string { return c.ids(true) }

func (c Membership) ids(learners bool) []string {
	var ids []string
	for _, m := range c.Members {
		if m.Learner == learners {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// String is "voters n0,n1,n2 learners n3".
func (c Membership) String() string {
	s := "voters " + strings.Join(c.Voters(), ",")
	if l := c.Learners(); len(l) > 0 {
		s += " learners " + strings.Join(l, ",")
	}
	return s
}

// Equal reports whether c and o have the same members with the same roles
// and addresses.
func (c Membership) Equal(o Membership) bool { return slices.Equal(c.Members, o.Members) }

func (c Membership) clone() Membership {
	return Membership{Members: slices.Clone(c.Members)}
}

func (c *Membership) sort() {
	slices.SortFunc(c.Members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
}

// Limits of an encoded configuration.
const (
	MaxMembers    = 64
	maxMemberName = 255
	membershipV1  = 1
)

// ErrMembership wraps every error about a configuration: an invalid one,
// an undecodable entry or file, a refused change.
var ErrMembership = errors.New("raft: membership")

// Validate checks c: 1..MaxMembers members, ids 1..255 bytes and unique,
// addresses at most 255 bytes, at least one voter.
func (c Membership) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrMembership, fmt.Sprintf(format, a...))
	}
	if len(c.Members) == 0 || len(c.Members) > MaxMembers {
		return bad("%d members, want 1 to %d", len(c.Members), MaxMembers)
	}
	voters := 0
	for i, m := range c.Members {
		switch {
		case m.ID == "" || len(m.ID) > maxMemberName:
			return bad("member id %q is %d bytes, want 1 to %d", m.ID, len(m.ID), maxMemberName)
		case len(m.Peer) > maxMemberName || len(m.Client) > maxMemberName:
			return bad("member %q: an address is longer than %d bytes", m.ID, maxMemberName)
		case i > 0 && c.Members[i-1].ID >= m.ID:
			return bad("member ids are not sorted and unique at %q", m.ID)
		}
		if !m.Learner {
			voters++
		}
	}
	if voters == 0 {
		return bad("no voting member")
	}
	return nil
}

// EncodeMembership returns the payload of a configuration entry:
//
//	version u8 (1) | count u8 | count x (flags u8 | id | peer | client)
//
// each string a u8 length and that many bytes; flags bit 0 is Learner.
// c must be valid (Validate).
func EncodeMembership(c Membership) []byte {
	b := []byte{membershipV1, byte(len(c.Members))}
	for _, m := range c.Members {
		var flags byte
		if m.Learner {
			flags = 1
		}
		b = append(b, flags)
		for _, s := range [...]string{m.ID, m.Peer, m.Client} {
			b = append(b, byte(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// DecodeMembership decodes a configuration entry's payload and validates
// it. Every length is checked against what is left before it is used.
func DecodeMembership(b []byte) (Membership, error) {
	bad := func(format string, a ...any) (Membership, error) {
		return Membership{}, fmt.Errorf("%w: configuration entry: %s", ErrMembership, fmt.Sprintf(format, a...))
	}
	if len(b) < 2 {
		return bad("%d bytes, need at least 2", len(b))
	}
	if b[0] != membershipV1 {
		return bad("version %d, this node reads %d", b[0], membershipV1)
	}
	n := int(b[1])
	if n == 0 || n > MaxMembers {
		return bad("%d members, want 1 to %d", n, MaxMembers)
	}
	b = b[2:]
	c := Membership{Members: make([]Member, 0, n)}
	for k := range n {
		if len(b) < 1 {
			return bad("member %d: truncated", k+1)
		}
		flags := b[0]
		if flags&^1 != 0 {
			return bad("member %d: unknown flags %#x", k+1, flags)
		}
		b = b[1:]
		var s [3]string
		for j := range s {
			if len(b) < 1 || len(b) < 1+int(b[0]) {
				return bad("member %d: truncated string", k+1)
			}
			s[j], b = string(b[1:1+int(b[0])]), b[1+int(b[0]):]
		}
		c.Members = append(c.Members, Member{ID: s[0], Peer: s[1], Client: s[2], Learner: flags&1 != 0})
	}
	if len(b) != 0 {
		return bad("%d bytes after the last member", len(b))
	}
	if err := c.Validate(); err != nil {
		return Membership{}, err
	}
	return c, nil
}

// ConfEntry is a configuration entry of the log: where it is and what it holds.
type ConfEntry struct {
	Index, Term uint64
	Membership
}

// EncodeConfs encodes the configuration entries a node keeps (the file
// Log.SaveMembership writes):
//
//	"RMQM" | version u8 (1) | count u16 | count x (index u64 | term u64 | len u16 | payload) | crc32c u32
//
// little endian; the CRC covers every byte before it.
func EncodeConfs(cs []ConfEntry) []byte {
	b := append([]byte("RMQM"), membershipV1)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cs)))
	for _, c := range cs {
		p := EncodeMembership(c.Membership)
		b = binary.LittleEndian.AppendUint64(b, c.Index)
		b = binary.LittleEndian.AppendUint64(b, c.Term)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxConfs bounds the entries a saved list may hold: one per change in the
// retained log, plus the one in force below it.
const maxConfs = 4096

// DecodeConfs decodes what EncodeConfs wrote, checking the CRC, every
// length, and that indexes increase and terms do not decrease.
func DecodeConfs(b []byte) ([]ConfEntry, error) {
	bad := func(format string, a ...any) ([]ConfEntry, error) {
		return nil, fmt.Errorf("%w: membership file: %s", ErrMembership, fmt.Sprintf(format, a...))
	}
	if len(b) < 11 {
		return bad("%d bytes, need at least 11", len(b))
	}
	if string(b[:4]) != "RMQM" {
		return bad("no RMQM magic")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if c := crc32.Checksum(body, castagnoli); c != sum {
		return bad("crc %08x, computed %08x", sum, c)
	}
	if body[4] != membershipV1 {
		return bad("version %d, this node reads %d", body[4], membershipV1)
	}
	n := int(binary.LittleEndian.Uint16(body[5:7]))
	if n > maxConfs {
		return bad("%d entries, at most %d", n, maxConfs)
	}
	body = body[7:]
	cs := make([]ConfEntry, 0, n)
	for k := range n {
		if len(body) < 18 {
			return bad("entry %d: truncated", k+1)
		}
		c := ConfEntry{Index: binary.LittleEndian.Uint64(body), Term: binary.LittleEndian.Uint64(body[8:])}
		l := int(binary.LittleEndian.Uint16(body[16:]))
		if len(body) < 18+l {
			return bad("entry %d: payload of %d bytes, %d left", k+1, l, len(body)-18)
		}
		m, err := DecodeMembership(body[18 : 18+l])
		if err != nil {
			return bad("entry %d (index %d): %v", k+1, c.Index, err)
		}
		if k > 0 && (c.Index <= cs[k-1].Index || c.Term < cs[k-1].Term) {
			return bad("entry %d: index %d term %d after index %d term %d", k+1, c.Index, c.Term, cs[k-1].Index, cs[k-1].Term)
		}
		c.Membership = m
		cs = append(cs, c)
		body = body[18+l:]
	}
	if len(body) != 0 {
		return bad("%d bytes after the last entry", len(body))
	}
	return cs, nil
}
