package engine

import (
	"fmt"
	"sync/atomic"
)

// waiter is an Append waiting for its entry to commit.
type waiter struct {
	index uint64
	term  uint64
	size  int64      // bytes it holds in Node.pending
	ch    chan error // buffered: resolving never blocks
}

// waitQueue holds a leader's waiters in index order (appends register
// under the node lock in the order they were appended).
type waitQueue struct {
	q       []waiter
	start   int
	pending *atomic.Int64 // Node.pending: released as waiters resolve
}

func (w *waitQueue) push(x waiter) { w.q = append(w.q, x) }

// commit releases every waiter of term at or below commit.
func (w *waitQueue) commit(commit, term uint64) {
	for w.start < len(w.q) && w.q[w.start].index <= commit {
		x := w.q[w.start]
		if x.term != term {
			panic(fmt.Sprintf("engine: waiter for entry %d of term %d still queued in term %d", x.index, x.term, term))
		}
		x.ch <- nil
		w.pending.Add(-x.size)
		w.q[w.start] = waiter{}
		w.start++
	}
	w.compact()
}

// settle, when the node stops leading, releases the waiters its commit
// index covers (nil if the log still holds their entry: a leader that
// removed itself steps down in the step that commits its removal) and
// fails the others with err.
func (w *waitQueue) settle(commit uint64, termAt func(uint64) uint64, err error) {
	for w.start < len(w.q) && w.q[w.start].index <= commit {
		x := w.q[w.start]
		if termAt(x.index) == x.term {
			x.ch <- nil
		} else {
			x.ch <- err
		}
		w.pending.Add(-x.size)
		w.q[w.start] = waiter{}
		w.start++
	}
	w.fail(err)
}

// fail releases every waiter with err.
func (w *waitQueue) fail(err error) {
	for _, x := range w.q[w.start:] {
		x.ch <- err
		w.pending.Add(-x.size)
	}
	w.q, w.start = w.q[:0], 0
}

func (w *waitQueue) compact() {
	if w.start == len(w.q) {
		w.q, w.start = w.q[:0], 0
	} else if w.start > 1024 && w.start > len(w.q)/2 {
		w.q = append(w.q[:0], w.q[w.start:]...)
		w.start = 0
	}
}

func (w *waitQueue) len() int { return len(w.q) - w.start }
