package broker

import (
	"sort"
	"sync"
)

// physIndexSize is how many of the last applied broker entries physIndex
// remembers: 16 bytes each, 1 MiB in all. A pull further back than that
// finds its entry by a binary search over the log (locate).
const physIndexSize = 1 << 16

// physIndex maps payload offsets to log indexes for the broker entries
// applied last, so that a pull finds the entry holding a message without
// reading entries (the search it replaces read log2(n) of them per
// message, 6% of a loaded master's CPU). The applier adds every broker
// entry, in log order (so starts increase), before it puts the entry's
// units in the consume queues: a unit a pull can see has its entry here,
// unless the ring has moved past it.
type physIndex struct {
	mu     sync.RWMutex
	starts [physIndexSize]int64
	idx    [physIndexSize]uint64
	head   int // the slot of the oldest entry
	n      int // entries held
}

// add remembers that the entry at index i starts at payload offset start.
func (p *physIndex) add(i uint64, start int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > 0 && start <= p.starts[(p.head+p.n-1)%physIndexSize] {
		// Not after the last one (a restart's replay from a checkpoint
		// before the entries held): start again from this one.
		p.head, p.n = 0, 0
	}
	slot := (p.head + p.n) % physIndexSize
	if p.n == physIndexSize {
		slot, p.head = p.head, (p.head+1)%physIndexSize
	} else {
		p.n++
	}
	p.starts[slot], p.idx[slot] = start, i
}

// lookup returns the index of the last remembered entry starting at or
// before phys, and false when phys is before the oldest one (or nothing is
// held). The caller checks that the entry holds phys.
func (p *physIndex) lookup(phys int64) (uint64, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	at := func(k int) int { return (p.head + k) % physIndexSize }
	// The first k whose start is after phys; the entry is k-1.
	k := sort.Search(p.n, func(k int) bool { return p.starts[at(k)] > phys })
	if k == 0 {
		return 0, false
	}
	return p.idx[at(k-1)], true
}
