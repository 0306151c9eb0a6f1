package flush_test

import (
	"context"
	"errors"
	"log/slog"
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
