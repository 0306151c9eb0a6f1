package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// mop is one operation of the linearizability search: the porcupine
// input (the output is nil: the outcome is part of the input).
type mop struct {
	op     int // position in the history
	client int // dense, for the visualization
	kind   Kind
	index  uint64 // append: the index it filled; read: the index asked
	id     uint64 // append: its id; found read: the id seen
	found  bool   // a read that found an entry
	// contested: the operations of the search do not all agree on the
	// id at index, so the state must remember it.
	contested bool
	// open: an append of unknown outcome; ret is a bound (see bound).
	open      bool
	call, ret int64 // nanoseconds since the start of the run
}

// claims reports whether m says what the log holds at m.index.
func (m *mop) claims() bool { return m.kind == Append || m.found }

func (m *mop) String() string {
	switch {
	case m.kind == Append:
		return fmt.Sprintf("op %d: append %#x -> %d", m.op, m.id, m.index)
	case m.found:
		return fmt.Sprintf("op %d: read %d -> %#x", m.op, m.index, m.id)
	}
	return fmt.Sprintf("op %d: read %d -> absent", m.op, m.index)
}

// state is the model's state: a log whose positions are filled in order.
// last is the length of the committed prefix; fixed holds the ids known
// at contested positions (at the others every operation agrees, so the
// id need not be remembered). A state is immutable: a step that changes
// it returns a new one sharing fixed's tail.
type state struct {
	last  uint64
	fixed *binding
	n     int    // len(fixed)
	sum   uint64 // xor of mix(index, id) over fixed
}

// binding is one known id at a contested position.
type binding struct {
	index, id uint64
	next      *binding
}

// at returns the id known at contested position i.
func (s *state) at(i uint64) (uint64, bool) {
	for b := s.fixed; b != nil; b = b.next {
		if b.index == i {
			return b.id, true
		}
	}
	return 0, false
}

// fill returns s with the prefix grown to last and, if m is contested,
// m's id fixed at m's index.
func (s *state) fill(last uint64, m *mop) *state {
	t := *s
	t.last = last
	if m.contested {
		t.fixed = &binding{index: m.index, id: m.id, next: s.fixed}
		t.n++
		t.sum ^= mix(m.index, m.id)
	}
	return &t
}

// step is the model's transition: whether m is legal in s, and the state
// after it.
//   - append(i): legal iff i > last; then last = i, pos[i] = id.
//   - read(i) absent: legal iff i > last.
//   - read(i) found x, i > last: legal; last = i, pos[i] = x.
//   - read(i) found x, i <= last: legal iff pos[i] is x or unknown
//     (then pos[i] = x).
//
// Positions between the old last and i are filled by entries outside the
// search: no-ops of new leaders, duplicates, dropped appends.
func step(s *state, m *mop) (bool, *state) {
	switch {
	case m.kind == Append:
		if m.index <= s.last {
			return false, s
		}
		return true, s.fill(m.index, m)
	case !m.found:
		return m.index > s.last, s
	case m.index > s.last:
		return true, s.fill(m.index, m)
	case !m.contested:
		return true, s
	}
	if id, ok := s.at(m.index); ok {
		return id == m.id, s
	}
	return true, s.fill(s.last, m)
}

// mix hashes one binding (splitmix64's finalizer).
func mix(index, id uint64) uint64 {
	z := index*0x9e3779b97f4a7c15 ^ id
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// model is the porcupine model of the log, starting from init.
//
// Equal compares last, the number of bindings and their hash: porcupine
// compares two states only when the same set of operations was
// linearized to reach them, and the state is a function of that set
// (last is the highest index among its claims, fixed the ids they claim
// at contested positions), so equal sets mean equal states; the fields
// compared only guard that argument.
func model(init *state) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return init },
		Step: func(st, in, _ any) (bool, any) { return step(st.(*state), in.(*mop)) },
		Equal: func(a, b any) bool {
			x, y := a.(*state), b.(*state)
			return x.last == y.last && x.n == y.n && x.sum == y.sum
		},
		Hash: func(st any) uint64 {
			s := st.(*state)
			return mix(s.last, uint64(s.n)) ^ s.sum
		},
		DescribeOperation: func(in, _ any) string { return in.(*mop).String() },
		DescribeState:     describe,
	}
}

// describe prints a state for the visualization.
func describe(st any) string {
	s := st.(*state)
	var b strings.Builder
	fmt.Fprintf(&b, "committed prefix %d", s.last)
	var fixed []string
	for f := s.fixed; f != nil; f = f.next {
		fixed = append(fixed, fmt.Sprintf("%d: %#x", f.index, f.id))
	}
	slices.Sort(fixed)
	if len(fixed) > 0 {
		fmt.Fprintf(&b, "; contested positions {%s}", strings.Join(fixed, ", "))
	}
	return b.String()
}
