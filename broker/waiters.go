package broker

import (
	"container/heap"
	"sync"
)

// appliedWaiters wakes each waitFor once the applier reaches its index. A
// broadcast at every applied entry (what pulls wait on) woke all the
// senders waiting for theirs, 64 wake-ups per entry under 64 producers;
// here the applier wakes only those it reached.
type appliedWaiters struct {
	mu sync.Mutex
	h  waiterHeap
}

type waiter struct {
	index uint64
	ch    chan struct{}
}

// waiterHeap is a min-heap by index (container/heap).
type waiterHeap []waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h waiterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waiterHeap) Push(x any)        { *h = append(*h, x.(waiter)) }
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}

// add returns a channel closed once release reaches index i (or at
// releaseAll). A waiter that gives up leaves it: it is closed and dropped
// when the applier gets there.
func (w *appliedWaiters) add(i uint64) <-chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	heap.Push(&w.h, waiter{i, ch})
	w.mu.Unlock()
	return ch
}

// release wakes the waiters of every index up to applied.
func (w *appliedWaiters) release(applied uint64) {
	w.mu.Lock()
	for len(w.h) > 0 && w.h[0].index <= applied {
		close(heap.Pop(&w.h).(waiter).ch)
	}
	w.mu.Unlock()
}

// releaseAll wakes every waiter (the applier stopped: they see why).
func (w *appliedWaiters) releaseAll() {
	w.mu.Lock()
	for _, x := range w.h {
		close(x.ch)
	}
	w.h = nil
	w.mu.Unlock()
}

// arrivals wakes the pulls held on a queue when a message of that queue
// is applied (RocketMQ's PullRequestHoldService.notifyMessageArriving).
// A broadcast at every applied entry woke every held pull, of every queue,
// to find nothing new in most of them: each consumer's queues cost the
// master a pull attempt per entry.
type arrivals struct {
	mu sync.Mutex
	m  map[queueKey]chan struct{} // the queues with held pulls
}

// wait returns a channel closed at the next message of queue k applied
// (or at notifyAll). Take it before looking at the queue.
func (a *arrivals) wait(k queueKey) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[queueKey]chan struct{}{}
	}
	ch, ok := a.m[k]
	if !ok {
		ch = make(chan struct{})
		a.m[k] = ch
	}
	return ch
}

// notify wakes the pulls held on queue k.
func (a *arrivals) notify(k queueKey) {
	a.mu.Lock()
	if ch, ok := a.m[k]; ok {
		close(ch)
		delete(a.m, k)
	}
	a.mu.Unlock()
}

// notifyAll wakes every held pull (the applier stopped).
func (a *arrivals) notifyAll() {
	a.mu.Lock()
	for k, ch := range a.m {
		close(ch)
		delete(a.m, k)
	}
	a.mu.Unlock()
}
