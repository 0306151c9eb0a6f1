package consumequeue

import (
	"errors"
	"sync"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// An injected I/O error at every file operation in turn (pebble's sweep):
// whatever fails, a crash and a reopen report an index at least that of
// the last Sync that succeeded, and replaying the log from it rebuilds
// every queue.
func TestFaultSweep(t *testing.T) {
	log := genLog(60, threeQueues, 0)
	syncs := []int{7, 20, 21, 45, 60} // Sync after these many messages
	for n := 0; ; n++ {
		fs := segment.NewMemFS()
		var count int
		fs.SetFault(segment.FailAt(n, &count))
		acked := uint64(0)
		err := func() error {
			s, info, err := Open(testDir, Options{FS: fs, UnitsPerFile: 4})
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.TruncateFrom(log[info.Index].phys); err != nil {
				return err
			}
			done := 0
			for _, k := range syncs {
				for _, m := range log[done:k] {
					if err := s.Put(m.topic, m.queue, m.off, m.phys, m.size, m.tags); err != nil {
						return err
					}
				}
				done = k
				if err := s.Sync(uint64(k)); err != nil {
					return err
				}
				acked = uint64(k)
			}
			return s.DeleteBefore(log[30].phys)
		}()
		injected := count > n
		if err != nil && !errors.Is(err, segment.ErrInjected()) {
			t.Fatalf("fault %d: unexpected error %v", n, err)
		}
		fs.SetFault(nil)
		s, info := openStore(t, fs.Crash(), 4, log)
		if info.Index < acked {
			t.Fatalf("fault %d (%v): reopened at index %d, but Sync(%d) succeeded", n, err, info.Index, acked)
		}
		from := info.Index
		replay(t, s, log, from)
		if err := s.DeleteBefore(log[30].phys); err != nil {
			t.Fatal(err)
		}
		checkQueues(t, s, log[30:])
		s.Close()
		if !injected {
			if n < 20 {
				t.Fatalf("only %d operations: the sweep saw nothing", n)
			}
			t.Logf("swept %d operations", n)
			return
		}
	}
}

// Reads run while the applier puts, syncs and applies retention.
func TestConcurrentReads(t *testing.T) {
	s, _ := openStore(t, segment.NewMemFS(), 8, nil)
	defer s.Close()
	log := genLog(600, threeQueues, 0)
	put(t, s, log[:3])
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, _ := s.Queue(threeQueues[r], int32(r))
			var dst []Unit
			for {
				select {
				case <-stop:
					return
				default:
				}
				from := q.MinOffset()
				var err error
				dst, err = q.Read(dst[:0], from, 16)
				if err != nil && !errors.Is(err, ErrBelowMin) {
					t.Errorf("Read: %v", err)
					return
				}
				for i := 1; i < len(dst); i++ {
					if dst[i].Phys <= dst[i-1].Phys {
						t.Errorf("units out of order: %v", dst)
						return
					}
				}
			}
		}()
	}
	for i := 3; i < len(log); i += 10 {
		put(t, s, log[i:min(i+10, len(log))])
		if err := s.Sync(log[min(i+10, len(log))-1].index); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteBefore(log[i/2].phys); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
