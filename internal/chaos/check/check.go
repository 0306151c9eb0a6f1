package check

import (
	"fmt"
	"slices"
	"time"
)

// Check checks a fault campaign's history against the committed logs the
// nodes hold after healing, and the history itself for linearizability
// (see the package doc). It does no I/O; it neither keeps nor modifies
// history and logs. It is safe to call from several goroutines.
func Check(history []Op, logs []NodeLog, opts Options) Report {
	t0 := time.Now()
	opts = opts.withDefaults()
	c := &checker{max: opts.MaxReported, diverged: map[uint64]bool{}}
	c.r.DuplicatesFail = opts.DuplicatesFail
	c.readLogs(logs)
	c.readHistory(history)
	c.checkAcked()
	c.checkEntries()
	c.checkReads()
	c.monotonic()
	c.r.Linearizable, c.r.vis = linearize(c.h, c.f, opts)
	c.r.Took = time.Since(t0)
	return c.r
}

// checker is Check's state.
type checker struct {
	r        Report
	max      int // Options.MaxReported
	f        *final
	h        *hist
	diverged map[uint64]bool // indexes reported in r.Divergent
}

// final is the union of the node logs: for each index, the entry of the
// first node (in the order given) that holds it.
type final struct {
	lo, hi uint64              // indexes held: [lo, hi]; none if hi < lo
	at     []Entry             // at[i-lo]; Index 0 where no node holds i
	ids    map[uint64][]uint64 // id -> the indexes holding it, ascending
	logs   []NodeLog           // the readable ones
}

// maxSpan bounds the indexes the final log spans, against a bogus index
// allocating a huge table.
const maxSpan = 1 << 28

// entry returns the final log's entry at i.
func (f *final) entry(i uint64) (Entry, bool) {
	if i < f.lo || i > f.hi || f.at[i-f.lo].Index == 0 {
		return Entry{}, false
	}
	return f.at[i-f.lo], true
}

// below reports whether i lies below every node's first index.
func (f *final) below(i uint64) bool { return f.hi >= f.lo && i < f.lo }

// first returns the lowest index holding id.
func (f *final) first(id uint64) (uint64, bool) {
	if ix := f.ids[id]; len(ix) > 0 {
		return ix[0], true
	}
	return 0, false
}

// readLogs builds the final log and reports divergences between nodes.
func (c *checker) readLogs(logs []NodeLog) {
	f := &final{ids: map[uint64][]uint64{}, lo: 1, hi: 0}
	for _, l := range logs {
		if err := contiguous(l); err != nil {
			c.r.NodeErrors = append(c.r.NodeErrors, err.Error())
			continue
		}
		if len(l.Entries) == 0 {
			f.logs = append(f.logs, l)
			continue
		}
		lo, hi := l.Entries[0].Index, l.Entries[len(l.Entries)-1].Index
		if len(f.logs) > 0 && f.hi >= f.lo {
			lo, hi = min(lo, f.lo), max(hi, f.hi)
		}
		if hi-lo >= maxSpan {
			c.r.NodeErrors = append(c.r.NodeErrors, fmt.Sprintf("check: node %s: its indexes %d..%d lie too far from the other nodes' (%d..%d)",
				l.Node, l.Entries[0].Index, l.Entries[len(l.Entries)-1].Index, f.lo, f.hi))
			continue
		}
		f.logs = append(f.logs, l)
		f.lo, f.hi = lo, hi
	}
	if f.hi >= f.lo {
		f.at = make([]Entry, f.hi-f.lo+1)
	}
	for n, l := range f.logs {
		for _, e := range l.Entries {
			c.merge(f, n, e)
		}
	}
	for _, e := range f.at {
		if e.Index != 0 && e.Type == TypeNormal && e.HasID {
			f.ids[e.ID] = append(f.ids[e.ID], e.Index)
		}
	}
	c.f = f
	c.r.Nodes = len(f.logs)
	if f.hi >= f.lo {
		c.r.First, c.r.Last = f.lo, f.hi
	}
}

// contiguous checks that l was read and holds a run of indexes.
func contiguous(l NodeLog) error {
	if l.Err != nil {
		return fmt.Errorf("check: node %s: %w", l.Node, l.Err)
	}
	for k, e := range l.Entries {
		if e.Index == 0 || e.Index != l.Entries[0].Index+uint64(k) {
			return fmt.Errorf("check: node %s: entry %d of its log has index %d, not %d: the log must be contiguous, from its first index",
				l.Node, k, e.Index, l.Entries[0].Index+uint64(k))
		}
	}
	return nil
}

// merge adds node n's entry e to f, or compares it with the entry there.
func (c *checker) merge(f *final, n int, e Entry) {
	ref := &f.at[e.Index-f.lo]
	if ref.Index == 0 {
		*ref = e
		return
	}
	if *ref == e || c.diverged[e.Index] {
		return
	}
	for m := range n { // the first node holding the index is the reference
		if l := f.logs[m]; len(l.Entries) > 0 && l.Entries[0].Index <= e.Index && e.Index <= l.Entries[len(l.Entries)-1].Index {
			c.diverged[e.Index] = true
			d := Divergence{Index: e.Index, NodeA: l.Node, NodeB: f.logs[n].Node, A: *ref, B: e}
			capped(&c.r.Divergent, &c.r.Counts.Divergent, c.max, d)
			return
		}
	}
}

// hist is the history with its valid operations indexed.
type hist struct {
	ops     []Op
	valid   []bool
	appends map[uint64][]int // id -> the positions of its appends
}

// readHistory counts the operations and sets the malformed ones aside.
func (c *checker) readHistory(ops []Op) {
	h := &hist{ops: ops, valid: make([]bool, len(ops)), appends: map[uint64][]int{}}
	for p, o := range ops {
		c.count(o)
		if why := malformed(o); why != "" {
			a := Anomaly{Op: p, Client: o.Client, Index: o.Index, ID: o.ID, Detail: why + ": " + o.String()}
			capped(&c.r.Malformed, &c.r.Counts.Malformed, c.max, a)
			continue
		}
		h.valid[p] = true
		if o.Kind == Append {
			h.appends[o.ID] = append(h.appends[o.ID], p)
		}
	}
	c.h = h
}

func (c *checker) count(o Op) {
	c.r.Ops++
	switch o.Kind {
	case Read:
		c.r.Reads++
	case Append:
		c.r.Appends++
		switch o.Outcome {
		case OK:
			c.r.Acked++
		case Failed:
			c.r.Failed++
		case Unknown:
			c.r.UnknownOutcome++
		}
	}
}

// malformed says why o cannot be interpreted, or "".
func malformed(o Op) string {
	switch {
	case o.Kind != Append && o.Kind != Read:
		return "invalid kind"
	case o.Outcome < OK || o.Outcome > Unknown:
		return "invalid outcome"
	case o.Kind == Append && o.ID == 0:
		return "append with id 0"
	case o.Outcome == OK && o.Index == 0:
		return "index 0"
	case o.Outcome == OK && o.Return < o.Call:
		return "returned before its call"
	case o.Kind == Append && o.Outcome == OK && (o.Found || o.ReadID != 0):
		return "append with a read's result"
	case o.Kind == Read && o.Outcome == OK && !o.Found && o.ReadID != 0:
		return "absent read with an id"
	}
	return ""
}

// checkAcked reports acknowledged appends that are not in the final log
// where acknowledged, and failed appends that were committed.
func (c *checker) checkAcked() {
	for p, o := range c.h.ops {
		if !c.h.valid[p] || o.Kind != Append {
			continue
		}
		switch o.Outcome {
		case OK:
			c.acked(p, o)
		case Failed:
			if ix := c.f.ids[o.ID]; len(ix) > 0 && c.failedOnly(o.ID) {
				a := Anomaly{Op: p, Client: o.Client, Index: ix[0], ID: o.ID,
					Detail: fmt.Sprintf("append %#x reported failed is committed at %v", o.ID, ix)}
				capped(&c.r.FailedApplied, &c.r.Counts.FailedApplied, c.max, a)
			}
		}
	}
}

// acked checks acknowledged append o (at position p) on every node that
// holds its index.
func (c *checker) acked(p int, o Op) {
	if c.f.below(o.Index) {
		c.r.Unverifiable++
		return
	}
	l := Lost{Op: p, Client: o.Client, ID: o.ID, Index: o.Index}
	held := false
	for _, n := range c.f.logs {
		if len(n.Entries) == 0 || o.Index < n.Entries[0].Index || o.Index-n.Entries[0].Index >= uint64(len(n.Entries)) {
			continue
		}
		held = true
		if e := n.Entries[o.Index-n.Entries[0].Index]; !e.holds(o.ID) {
			l.Node, l.Got = n.Node, e
			break
		}
	}
	if !held || l.Node != "" {
		l.Elsewhere = slices.Clone(c.f.ids[o.ID])
		capped(&c.r.Lost, &c.r.Counts.Lost, c.max, l)
	}
}

// checkEntries reports duplicate ids and entries no client appended.
func (c *checker) checkEntries() {
	for _, e := range c.f.at {
		if e.Index == 0 || e.Type != TypeNormal {
			continue
		}
		if !e.HasID || len(c.h.appends[e.ID]) == 0 {
			capped(&c.r.Unknown, &c.r.Counts.Unknown, c.max, e)
			continue
		}
		if ix := c.f.ids[e.ID]; len(ix) > 1 && ix[0] == e.Index {
			capped(&c.r.Duplicates, &c.r.Counts.Duplicates, c.max, Duplicate{ID: e.ID, Indexes: slices.Clone(ix)})
		}
	}
}

// checkReads compares what reads found with the final log, and reports
// reads that saw a failed append.
func (c *checker) checkReads() {
	for p, o := range c.h.ops {
		if !c.h.valid[p] || o.Kind != Read || o.Outcome != OK || !o.Found {
			continue
		}
		if c.failedSeen(p, o) {
			continue
		}
		if c.f.below(o.Index) {
			c.r.Unverifiable++
			continue
		}
		e, ok := c.f.entry(o.Index)
		var why string
		switch {
		case !ok:
			why = fmt.Sprintf("read %d found %#x; no node holds that index", o.Index, o.ReadID)
		case e.seenID() != o.ReadID:
			why = fmt.Sprintf("read %d found %#x; the final log holds %v", o.Index, o.ReadID, e)
		default:
			continue
		}
		a := Anomaly{Op: p, Client: o.Client, Index: o.Index, ID: o.ReadID, Detail: why}
		capped(&c.r.ReadMismatch, &c.r.Counts.ReadMismatch, c.max, a)
	}
}

// failedSeen reports read o (at p) if it saw the id of a failed append,
// one that the final log does not hold (else checkAcked reported it).
func (c *checker) failedSeen(p int, o Op) bool {
	if !c.failedOnly(o.ReadID) || len(c.f.ids[o.ReadID]) > 0 {
		return false
	}
	an := Anomaly{Op: p, Client: o.Client, Index: o.Index, ID: o.ReadID,
		Detail: fmt.Sprintf("read %d found %#x, which op %d reported failed", o.Index, o.ReadID, c.h.appends[o.ReadID][0])}
	capped(&c.r.FailedApplied, &c.r.Counts.FailedApplied, c.max, an)
	return true
}

// failedOnly reports whether id was appended, and every append of it
// failed (a driver may retry a refused append with the same id).
func (c *checker) failedOnly(id uint64) bool {
	ps := c.h.appends[id]
	for _, q := range ps {
		if c.h.ops[q].Outcome != Failed {
			return false
		}
	}
	return len(ps) > 0
}
