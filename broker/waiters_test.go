package broker

import "testing"

func TestAppliedWaiters(t *testing.T) {
	var w appliedWaiters
	chs := map[uint64]<-chan struct{}{}
	for _, i := range []uint64{5, 2, 9, 2, 7} {
		chs[i] = w.add(i) // the second 2 replaces the first in the map; both are released together
	}
	closed := func(i uint64) bool {
		select {
		case <-chs[i]:
			return true
		default:
			return false
		}
	}
	for _, tc := range []struct {
		applied uint64
		want    map[uint64]bool
	}{
		{1, map[uint64]bool{2: false, 5: false, 7: false, 9: false}},
		{5, map[uint64]bool{2: true, 5: true, 7: false, 9: false}},
		{8, map[uint64]bool{7: true, 9: false}},
	} {
		w.release(tc.applied)
		for i, want := range tc.want {
			if closed(i) != want {
				t.Errorf("after release(%d): waiter %d closed %v, want %v", tc.applied, i, !want, want)
			}
		}
	}
	if len(w.h) != 1 {
		t.Fatalf("%d waiters left, want 1", len(w.h))
	}
	w.releaseAll()
	if !closed(9) || len(w.h) != 0 {
		t.Fatal("releaseAll left a waiter")
	}
}

// A held pull is woken by a message of its own queue only.
func TestArrivals(t *testing.T) {
	var a arrivals
	q0, q1 := queueKey{"T", 0}, queueKey{"T", 1}
	c0, c1 := a.wait(q0), a.wait(q1)
	if a.wait(q0) != c0 {
		t.Fatal("two pulls of one queue must share its channel")
	}
	isClosed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	a.notify(queueKey{"U", 0})
	a.notify(q1)
	if isClosed(c0) || !isClosed(c1) {
		t.Fatalf("after a message of queue 1: queue 0 woken %v, queue 1 woken %v", isClosed(c0), isClosed(c1))
	}
	if a.wait(q1) == c1 {
		t.Fatal("a woken queue must get a new channel")
	}
	a.notifyAll()
	if !isClosed(c0) || len(a.m) != 0 {
		t.Fatal("notifyAll left a pull held")
	}
}
