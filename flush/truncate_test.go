package flush_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

// TestTruncateSuffix: after a truncation, entries appended again at the
// removed indexes count as durable only once a sync has covered them (a
// crash then keeps them), and a Wait running on a removed index fails.
func TestTruncateSuffix(t *testing.T) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			fs := segment.NewMemFS()
			opts := segment.Options{FS: fs, SegmentSize: 16 << 10, IndexEntries: 512, Logger: slog.New(slog.DiscardHandler)}
			log, err := segment.Open("/log", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			f, err := flush.New(log, flush.Options{Mode: mode, Interval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			appendWait := func(term uint64, n int, tag byte) {
				t.Helper()
				for k := 0; k < n; k++ {
					idx, err := log.Append(term, segment.TypeNormal, []byte{tag, byte(k)})
					if err == nil {
						err = f.Wait(ctx, idx)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			appendWait(1, 10, 'a')
			epoch := f.Epoch()
			if err := f.TruncateSuffix(6); err != nil {
				t.Fatal(err)
			}
			if d := f.Durable(); d != 5 {
				t.Fatalf("Durable() after truncating at 6 = %d, want 5", d)
			}
			if err := f.WaitEpoch(ctx, 8, epoch); !errors.Is(err, flush.ErrTruncated) {
				t.Fatalf("Wait on a removed index: %v, want ErrTruncated", err)
			}
			if err := f.WaitEpoch(ctx, 5, epoch); err != nil {
				t.Fatalf("Wait on a kept index: %v", err)
			}
			appendWait(2, 5, 'b') // indexes 6..10 again
			rec, err := segment.Open("/log", segment.Options{FS: fs.Crash(), SegmentSize: 16 << 10, Logger: opts.Logger})
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close()
			for i := uint64(6); i <= 10; i++ {
				e, err := rec.Read(i)
				if err != nil || e.Term != 2 || e.Payload[0] != 'b' {
					t.Fatalf("entry %d acknowledged after the truncation is not on disk: %+v, %v", i, e, err)
				}
			}
		})
	}
}

// gatedLog holds TruncateSuffix at its start: the point between the
// flusher lowering durable and the log truncating.
type gatedLog struct {
	*segment.Log
	entered, gate chan struct{}
}

func (g *gatedLog) TruncateSuffix(i uint64) error {
	close(g.entered)
	<-g.gate
	return g.Log.TruncateSuffix(i)
}

// TestSyncDuringTruncation: a sync requested while a truncation is under
// way must not report the entries being removed as durable (found by
// review: the sync ran between the durable index being lowered and the
// truncation, and its result then covered entries appended later at the
// removed indexes, which were never synced).
func TestSyncDuringTruncation(t *testing.T) {
	fs := segment.NewMemFS()
	opts := segment.Options{FS: fs, SegmentSize: 16 << 10, IndexEntries: 512, Logger: slog.New(slog.DiscardHandler)}
	sl, err := segment.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	g := &gatedLog{Log: sl, entered: make(chan struct{}), gate: make(chan struct{})}
	f, err := flush.New(g, flush.Options{Mode: flush.SyncFlush})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	for k := 1; k <= 10; k++ {
		if _, err := sl.Append(1, segment.TypeNormal, []byte{'a', byte(k)}); err != nil {
			t.Fatal(err)
		}
		if k == 5 {
			if err := f.Wait(ctx, 5); err != nil {
				t.Fatal(err)
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- f.TruncateSuffix(6) }()
	<-g.entered
	f.Request(10)
	// Give the flusher the chance to sync while the truncation is held.
	for deadline := time.Now().Add(100 * time.Millisecond); time.Now().Before(deadline); {
		if d := f.Durable(); d > 5 {
			t.Fatalf("durable %d while entries 6..10 are being truncated", d)
		}
		runtime.Gosched()
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := f.Durable(); d > 5 {
		t.Fatalf("durable %d right after truncating at 6", d)
	}
	for k := 6; k <= 10; k++ { // a new leader's entries at the removed indexes
		if _, err := sl.Append(2, segment.TypeNormal, []byte{'b', byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	d := f.Durable()
	rec, err := segment.Open("/log", segment.Options{FS: fs.Crash(), SegmentSize: 16 << 10, Logger: opts.Logger})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	for i := uint64(6); i <= d; i++ {
		if e, err := rec.Read(i); err != nil || e.Term != 2 {
			t.Errorf("entry %d, reported durable, is not on disk after a crash: %+v, %v", i, e, err)
		}
	}
}
