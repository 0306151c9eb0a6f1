package flush_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
)

func TestSyncFlushWait(t *testing.T) {
	log := newTestLog()
	f := newFlusher(t, log, flush.Options{Mode: flush.SyncFlush})
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		idx := log.append(i) // batches of 1..5 entries
		if err := f.Wait(ctx, idx); err != nil {
			t.Fatalf("Wait(%d) = %v", idx, err)
		}
		if got := f.Durable(); got != idx {
			t.Fatalf("Durable() = %d after Wait(%d)", got, idx)
		}
	}
	want := flush.Stats{Syncs: 5, Entries: 15}
	got := f.Stats()
	got.SyncTime, got.MaxSync = 0, 0
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// TestGroupCommit holds sync #1, queues 50 appends and Waits behind it, and
// checks that exactly one more sync covers all 50.
func TestGroupCommit(t *testing.T) {
	const writers = 50
	log := newTestLog()
	f := newFlusher(t, log, flush.Options{Mode: flush.SyncFlush})
	hold := make(chan struct{})
	log.set(func(l *testLog) { l.hold = hold })
	defer func() { close(hold) }()
	ctx := context.Background()

	first := make(chan error, 1)
	go func() { first <- f.Wait(ctx, log.append(1)) }()
	log.waitUntil(t, "sync #1 to start", func(l *testLog) bool { return l.syncCalls == 2 })

	errs := make(chan error, writers)
	for range writers {
		go func() { errs <- f.Wait(ctx, log.append(1)) }()
	}
	log.waitUntil(t, "all appends", func(l *testLog) bool { return l.last == writers+1 })
	log.set(func(l *testLog) { l.hold = nil })
	hold <- struct{}{} // release sync #1 only

	if err := <-first; err != nil {
		t.Fatalf("first Wait = %v", err)
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatalf("Wait = %v", err)
		}
	}
	syncs := get(log, func(l *testLog) []uint64 { return append([]uint64(nil), l.syncs...) })
	if want := []uint64{0, 1, writers + 1}; !equal(syncs, want) {
		t.Errorf("syncs returned %v, want %v (New, #1, one sync for all %d)", syncs, want, writers)
	}
	if s := f.Stats(); s.Syncs != 2 || s.Entries != writers+1 {
		t.Errorf("Stats = %+v, want 2 syncs covering %d entries", s, writers+1)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSyncFlushNoSpin checks that appends alone, and requests for indexes
// already durable, cause no sync: only a request beyond Durable does.
func TestSyncFlushNoSpin(t *testing.T) {
	log := newTestLog()
	log.append(2)
	f := newFlusher(t, log, flush.Options{Mode: flush.SyncFlush})
	log.append(3)
	f.Request(1)
	f.Request(2)
	if err := f.Wait(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if err := f.Wait(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	if got := get(log, func(l *testLog) []uint64 { return l.syncs }); !equal(got, []uint64{2, 5}) {
		t.Errorf("syncs = %v, want [2 5]", got)
	}
}

func TestAsyncFlush(t *testing.T) {
	log := newTestLog()
	f := newFlusher(t, log, flush.Options{Mode: flush.AsyncFlush, Interval: 2 * time.Millisecond})
	idx := log.append(5)
	f.Request(idx) // no-op in ASYNC_FLUSH
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := f.Wait(ctx, idx); err != nil {
		t.Fatalf("Wait(%d) = %v", idx, err)
	}
	if got := f.Durable(); got != idx {
		t.Errorf("Durable() = %d, want %d", got, idx)
	}
	// Idle ticks look at LastIndex but must not sync.
	syncs := get(log, func(l *testLog) int { return l.syncCalls })
	calls := get(log, func(l *testLog) int { return l.lastCalls })
	log.waitUntil(t, "three idle ticks", func(l *testLog) bool { return l.lastCalls >= calls+3 })
	if got := get(log, func(l *testLog) int { return l.syncCalls }); got != syncs {
		t.Errorf("idle ticks ran %d syncs", got-syncs)
	}
	// And the next append is picked up without any request.
	idx = log.append(1)
	waitFlusher(t, f, "tick to cover the next append", func() bool { return f.Durable() == idx })
}

func TestWaitContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"canceled before", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline during", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := newTestLog()
			f := newFlusher(t, log, flush.Options{})
			hold := make(chan struct{})
			log.set(func(l *testLog) { l.hold = hold })
			defer close(hold)
			ctx, cancel := tt.ctx()
			defer cancel()
			if err := f.Wait(ctx, log.append(1)); !errors.Is(err, tt.want) {
				t.Fatalf("Wait = %v, want %v", err, tt.want)
			}
			log.waitUntil(t, "the held sync", func(l *testLog) bool { return l.syncCalls == 2 })
			log.set(func(l *testLog) { l.hold = nil })
			hold <- struct{}{}
			if err := f.Wait(context.Background(), 1); err != nil {
				t.Fatalf("Wait after release = %v", err)
			}
		})
	}
}

// TestWaitCancelWhileBlocked cancels a Wait that is blocked on a held sync.
func TestWaitCancelWhileBlocked(t *testing.T) {
	log := newTestLog()
	f := newFlusher(t, log, flush.Options{})
	hold := make(chan struct{})
	log.set(func(l *testLog) { l.hold = hold })
	defer close(hold)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- f.Wait(ctx, log.append(1)) }()
	log.waitUntil(t, "sync to start", func(l *testLog) bool { return l.syncCalls == 2 })
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}

func TestWaitDurableNoAlloc(t *testing.T) {
	log := newTestLog()
	log.append(10)
	f := newFlusher(t, log, flush.Options{})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := f.Wait(ctx, 7); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Wait on a durable index: %v allocs, want 0", allocs)
	}
	if a := testing.AllocsPerRun(1000, func() { f.Request(11) }); a != 0 {
		t.Errorf("Request: %v allocs, want 0", a)
	}
}

func TestChangedGeneration(t *testing.T) {
	log := newTestLog()
	f := newFlusher(t, log, flush.Options{})
	ch := f.Changed()
	if f.Changed() != ch {
		t.Fatal("Changed returned a new channel without a change")
	}
	if err := f.Wait(context.Background(), log.append(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed channel not closed after Durable advanced")
	}
	next := f.Changed()
	select {
	case <-next:
		t.Fatal("next Changed channel closed without a change")
	default:
	}
	f.Close()
	select {
	case <-next:
	default:
		t.Fatal("Changed channel not closed by Close")
	}
}

// TestDurableNeverDecreases: a Sync that reports less (the log's suffix was
// truncated) does not move Durable back.
func TestDurableNeverDecreases(t *testing.T) {
	log := newTestLog()
	f := newFlusher(t, log, flush.Options{})
	if err := f.Wait(context.Background(), log.append(5)); err != nil {
		t.Fatal(err)
	}
	log.set(func(l *testLog) { l.truncateTo = 3 })
	log.append(1)
	f.Request(6)
	log.waitUntil(t, "sync after truncate", func(l *testLog) bool { return len(l.syncs) == 3 })
	if got := f.Durable(); got != 5 {
		t.Errorf("Durable() = %d after a sync returning 3, want 5", got)
	}
}

// TestConcurrentWriters is a race-detector workout: many appenders waiting at once.
func TestConcurrentWriters(t *testing.T) {
	const writers, each = 16, 200
	log := newTestLog()
	f := newFlusher(t, log, flush.Options{})
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				idx := log.append(1)
				if err := f.Wait(context.Background(), idx); err != nil {
					t.Error(err)
					return
				}
				if d := f.Durable(); d < idx {
					t.Errorf("Wait(%d) returned with Durable() = %d", idx, d)
				}
			}
		})
	}
	wg.Wait()
	s := f.Stats()
	if s.Entries != writers*each || s.Syncs == 0 || s.Syncs > writers*each {
		t.Errorf("Stats = %+v, want %d entries", s, writers*each)
	}
	t.Logf("%d entries in %d syncs", s.Entries, s.Syncs)
}
