package flush_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

// TestCrashKeepsAcknowledged runs concurrent writers through a real
// segment.Log on a crash-simulating file system and loses power while they
// run. In SYNC_FLUSH every entry whose Wait returned before the crash must
// be in the recovered log with its bytes; in both modes so must every entry
// up to Durable().
func TestCrashKeepsAcknowledged(t *testing.T) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			for round := 0; round < 5; round++ {
				crashRound(t, mode, 200+round*150)
			}
		})
	}
}

func crashRound(t *testing.T, mode flush.Mode, crashAfter int) {
	fs := segment.NewMemFS()
	opts := segment.Options{FS: fs, SegmentSize: 16 << 10, IndexEntries: 512, Logger: slog.New(slog.DiscardHandler)}
	log, err := segment.Open("/log", opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := flush.New(log, flush.Options{Mode: mode, Interval: 1e6, CheckpointInterval: 5e6})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		acked   []uint64
		crashed *segment.MemFS
		durable uint64
	)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for k := 0; k < 100; k++ {
				idx, err := log.Append(1, segment.TypeNormal, body(uint64(w*1000+k)))
				if err != nil {
					return // the log may be closed under us
				}
				if err := f.Wait(context.Background(), idx); err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, idx)
				if len(acked) == crashAfter*3/4 && crashed == nil {
					durable = f.Durable()
					crashed = fs.Crash()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	_ = f.Close()
	_ = log.Close()
	mu.Lock()
	defer mu.Unlock()
	if crashed == nil {
		durable, crashed = f.Durable(), fs.Crash()
	}
	ackedBefore := acked
	if n := crashAfter * 3 / 4; n < len(acked) {
		ackedBefore = acked[:n]
	}
	rec, err := segment.Open("/log", segment.Options{FS: crashed, SegmentSize: 16 << 10, Logger: opts.Logger})
	if err != nil {
		t.Fatalf("recovery: %v", err)
	}
	defer rec.Close()
	if rec.LastIndex() < durable {
		t.Fatalf("%s: recovered up to %d, but %d was reported durable", mode, rec.LastIndex(), durable)
	}
	if mode != flush.SyncFlush {
		return
	}
	for _, idx := range ackedBefore {
		e, err := rec.Read(idx)
		if err != nil {
			t.Fatalf("acknowledged entry %d lost: %v", idx, err)
		}
		if len(e.Payload) != 100 || !bytes.Equal(e.Payload, body(binary.LittleEndian.Uint64(e.Payload))) {
			t.Fatalf("acknowledged entry %d has wrong bytes", idx)
		}
	}
}

// body is a 100-byte payload that names its writer and sequence number.
func body(id uint64) []byte {
	b := make([]byte, 100)
	binary.LittleEndian.PutUint64(b, id)
	for i := 8; i < len(b); i++ {
		b[i] = byte(id) + byte(i)
	}
	return b
}
