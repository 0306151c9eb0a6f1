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
