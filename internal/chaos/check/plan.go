package check

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// plan is the input of the linearizability search.
type plan struct {
	ops     []*mop // by call
	pruned  int    // reads left out as certainly legal and without effect
	dropped int    // operations left out as without effect or information
}

// planSearch chooses the operations of the search (see the package doc).
func planSearch(h *hist, f *final) *plan {
	p := &plan{}
	clients := map[int]int{}
	var unknown []*mop
	acked, kept := map[uint64]bool{}, map[uint64]bool{}
	for q, o := range h.ops {
		if h.valid[q] && o.Kind == Append && o.Outcome == OK {
			acked[o.ID] = true
		}
	}
	seenAt := readSightings(h)
	for q, o := range h.ops {
		if !h.valid[q] {
			continue
		}
		m := &mop{op: q, kind: o.Kind, index: o.Index, id: o.ID, call: int64(o.Call), ret: int64(o.Return)}
		switch {
		case o.Kind == Read && o.Outcome == OK:
			m.found, m.id = o.Found, o.ReadID
		case o.Kind == Append && o.Outcome == OK:
		case o.Kind == Append && o.Outcome == Unknown && !acked[o.ID] && !kept[o.ID]:
			var ok bool
			if m.index, ok = f.first(o.ID); !ok {
				m.index, ok = seenAt[o.ID]
			}
			if !ok {
				p.dropped++
				continue
			}
			kept[o.ID], m.open = true, true
			unknown = append(unknown, m)
		default: // failed; an unknown read; an unknown append whose id another covers
			p.dropped++
			continue
		}
		if _, ok := clients[o.Client]; !ok {
			clients[o.Client] = len(clients)
		}
		m.client = clients[o.Client]
		p.ops = append(p.ops, m)
	}
	bound(p.ops, unknown)
	contest(p.ops)
	p.prune()
	slices.SortStableFunc(p.ops, func(a, b *mop) int { return cmp.Compare(a.call, b.call) })
	return p
}

// readSightings maps each id that a successful read found to the lowest
// index it was found at.
func readSightings(h *hist) map[uint64]uint64 {
	at := map[uint64]uint64{}
	for q, o := range h.ops {
		if h.valid[q] && o.Kind == Read && o.Outcome == OK && o.Found && o.ReadID != 0 {
			if i, ok := at[o.ReadID]; !ok || o.Index < i {
				at[o.ReadID] = o.Index
			}
		}
	}
	return at
}

// bound gives each unknown append, which filled index j, a return time:
// the earliest return of a successful operation that claims an index at
// or above j. That operation leaves the prefix at j or beyond, after
// which an append at j is illegal, so the append must take effect before
// it: the bound removes no valid linearization, and it keeps the append
// from spanning the rest of the history (which would leave no quiescent
// point). Without such an operation, or if it returned before the
// append was called, the return is the end of time.
func bound(ops, unknown []*mop) {
	end := int64(math.MinInt64)
	type claim struct {
		index uint64
		ret   int64
	}
	var claims []claim
	for _, m := range ops {
		end = max(end, m.call, m.ret)
		if m.claims() && !m.open {
			claims = append(claims, claim{m.index, m.ret})
		}
	}
	end++
	slices.SortFunc(claims, func(a, b claim) int { return cmp.Compare(a.index, b.index) })
	for k := len(claims) - 2; k >= 0; k-- { // suffix minimum of ret
		claims[k].ret = min(claims[k].ret, claims[k+1].ret)
	}
	for _, m := range unknown {
		m.ret = end
		k := sort.Search(len(claims), func(k int) bool { return claims[k].index >= m.index })
		if k < len(claims) && claims[k].ret >= m.call {
			m.ret = claims[k].ret
		}
	}
}

// contest marks the claims at indexes where claims disagree on the id.
func contest(ops []*mop) {
	first, contested := map[uint64]uint64{}, map[uint64]bool{}
	for _, m := range ops {
		if !m.claims() {
			continue
		}
		if id, ok := first[m.index]; !ok {
			first[m.index] = m.id
		} else if id != m.id {
			contested[m.index] = true
		}
	}
	for _, m := range ops {
		m.contested = m.claims() && contested[m.index]
	}
}

// prune leaves out the reads whose verdict and effect do not depend on
// where they are linearized (see the package doc):
//   - a found read of an uncontested index at or below lo, the highest
//     index claimed by an operation that returned before the read was
//     called (the prefix has reached it whatever the order);
//   - an absent read of an index above hi, the highest index claimed by
//     an operation called before the read returned (the prefix cannot
//     have reached it).
func (p *plan) prune() {
	byRet := prefixMax(p.ops, func(m *mop) int64 { return m.ret })
	byCall := prefixMax(p.ops, func(m *mop) int64 { return m.call })
	kept := p.ops[:0]
	for _, m := range p.ops {
		switch {
		case m.kind == Read && m.found && !m.contested && m.index <= byRet.before(m.call):
		case m.kind == Read && !m.found && m.index > byCall.atOrBefore(m.ret):
		default:
			kept = append(kept, m)
			continue
		}
		p.pruned++
	}
	clear(p.ops[len(kept):])
	p.ops = kept
}

// maxIndex answers "the highest index claimed by an operation whose time
// is before t" for one of the operations' times.
type maxIndex struct {
	times []int64
	top   []uint64 // top[k]: the highest index among the first k+1
}

func prefixMax(ops []*mop, time func(*mop) int64) maxIndex {
	var claims []*mop
	for _, m := range ops {
		if m.claims() {
			claims = append(claims, m)
		}
	}
	slices.SortFunc(claims, func(a, b *mop) int { return cmp.Compare(time(a), time(b)) })
	x := maxIndex{times: make([]int64, len(claims)), top: make([]uint64, len(claims))}
	var top uint64
	for k, m := range claims {
		top = max(top, m.index)
		x.times[k], x.top[k] = time(m), top
	}
	return x
}

// before returns the highest index with a time < t (0 if none).
func (x maxIndex) before(t int64) uint64 {
	k := sort.Search(len(x.times), func(k int) bool { return x.times[k] >= t })
	if k == 0 {
		return 0
	}
	return x.top[k-1]
}

// atOrBefore returns the highest index with a time <= t (0 if none).
func (x maxIndex) atOrBefore(t int64) uint64 {
	if t == math.MaxInt64 && len(x.top) > 0 { // every time is <= t
		return x.top[len(x.top)-1]
	}
	return x.before(t + 1)
}
