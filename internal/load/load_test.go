package load

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestClosedLoop(t *testing.T) {
	var n atomic.Int64
	hist, err := ClosedLoop(8, 1000, func() error { n.Add(1); return nil })
	if err != nil || n.Load() != 1000 || hist.TotalCount() != 1000 {
		t.Fatalf("ClosedLoop: %d ops, %d recorded, %v; want 1000", n.Load(), hist.TotalCount(), err)
	}
	boom := errors.New("boom")
	n.Store(0)
	hist, err = ClosedLoop(4, 1000, func() error {
		if n.Add(1) == 10 {
			return boom
		}
		return nil
	})
	if err != boom || n.Load() >= 1000 || hist.TotalCount() >= 1000 {
		t.Fatalf("after an error: %d ops, %d recorded, %v; want an early stop with boom", n.Load(), hist.TotalCount(), err)
	}
}
