package check

import (
	"cmp"
	"fmt"
	"slices"
)

// monotonic reports, per client, reads that went backwards. A read r
// compares with the client's reads that returned before r was called
// (so a client may pipeline its reads): once a client saw index i
// present, i and every index below it must stay present, and i must keep
// the id it had.
func (c *checker) monotonic() {
	byClient := map[int][]int{}
	for p, o := range c.h.ops {
		if c.h.valid[p] && o.Kind == Read && o.Outcome == OK {
			byClient[o.Client] = append(byClient[o.Client], p)
		}
	}
	clients := make([]int, 0, len(byClient))
	for cl := range byClient {
		clients = append(clients, cl)
	}
	slices.Sort(clients)
	for _, cl := range clients {
		c.clientReads(byClient[cl])
	}
}

// seen is what a client learned of one index: the id there, and which
// read saw it.
type seen struct {
	id uint64
	op int
}

// clientReads checks the reads of one client (positions in the history).
func (c *checker) clientReads(reads []int) {
	ops := c.h.ops
	byCall := slices.Clone(reads)
	slices.SortStableFunc(byCall, func(a, b int) int { return cmp.Compare(ops[a].Call, ops[b].Call) })
	byReturn := slices.Clone(reads)
	slices.SortStableFunc(byReturn, func(a, b int) int { return cmp.Compare(ops[a].Return, ops[b].Return) })
	known := map[uint64]seen{}
	var top uint64 // the highest index seen present
	topOp, done := -1, 0
	for _, p := range byCall {
		r := ops[p]
		for ; done < len(byReturn) && ops[byReturn[done]].Return < r.Call; done++ {
			if q := ops[byReturn[done]]; q.Found {
				if _, ok := known[q.Index]; !ok {
					known[q.Index] = seen{q.ReadID, byReturn[done]}
				}
				if q.Index > top {
					top, topOp = q.Index, byReturn[done]
				}
			}
		}
		var why string
		if s, ok := known[r.Index]; ok && (!r.Found || r.ReadID != s.id) {
			why = fmt.Sprintf("read %d found %s after op %d had found %#x there", r.Index, result(r), s.op, s.id)
		} else if !r.Found && r.Index <= top {
			why = fmt.Sprintf("read %d found nothing after op %d had found index %d present", r.Index, topOp, top)
		} else {
			continue
		}
		a := Anomaly{Op: p, Client: r.Client, Index: r.Index, ID: r.ReadID, Detail: why}
		capped(&c.r.NonMonotonic, &c.r.Counts.NonMonotonic, c.max, a)
	}
}

// result describes what read o found.
func result(o Op) string {
	if !o.Found {
		return "nothing"
	}
	return fmt.Sprintf("%#x", o.ReadID)
}
