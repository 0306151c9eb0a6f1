package flush_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	mmap "github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

const (
	benchFileSize = 64 << 20
	benchPayload  = 1 << 10
)

// BenchmarkFdatasync measures the physical limit of the sync path, one 1 KiB
// write per sync, three ways: pwrite over already-written blocks, O_APPEND
// on a growing file, a copy into a mapped file plus fdatasync, and a copy
// into a mapped file plus msync(MS_SYNC) of the touched pages. This is how we
// choose fdatasync over msync, and pwrite over the mapping for appends.
func BenchmarkFdatasync(b *testing.B) {
	b.Run("overwrite", benchOverwrite)
	b.Run("append", benchAppend)
	b.Run("mmap-fdatasync", func(b *testing.B) { benchMapped(b, false) })
	b.Run("msync", func(b *testing.B) { benchMapped(b, true) })
}

func benchOverwrite(b *testing.B) {
	f := writtenFile(b)
	buf := make([]byte, benchPayload)
	fd := int(f.Fd())
	startSyncBench(b)
	off := int64(0)
	for range b.N {
		if _, err := unix.Pwrite(fd, buf, off); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(fd); err != nil {
			b.Fatal(err)
		}
		off = (off + benchPayload) % benchFileSize
	}
	reportSyncs(b)
}

func benchAppend(b *testing.B) {
	path := filepath.Join(b.TempDir(), "append")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, benchPayload)
	fd := int(f.Fd())
	startSyncBench(b)
	for range b.N {
		if _, err := unix.Write(fd, buf); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(fd); err != nil {
			b.Fatal(err)
		}
	}
	reportSyncs(b)
}

func benchMapped(b *testing.B, msync bool) {
	f := writtenFile(b)
	m, err := mmap.Map(f, mmap.RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Unmap()
	buf := make([]byte, benchPayload)
	page := os.Getpagesize()
	startSyncBench(b)
	off := 0
	for range b.N {
		copy(m[off:], buf)
		lo, hi := off&^(page-1), (off+benchPayload+page-1)&^(page-1)
		err := unix.Fdatasync(int(f.Fd()))
		if msync {
			err = unix.Msync(m[lo:hi], unix.MS_SYNC)
		}
		if err != nil {
			b.Fatal(err)
		}
		off = (off + benchPayload) % benchFileSize
	}
	reportSyncs(b)
}

// writtenFile returns a 64 MiB file whose blocks are all written and synced,
// closed when the benchmark ends.
func writtenFile(b *testing.B) *os.File {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "data"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	chunk := make([]byte, 1<<20)
	for off := int64(0); off < benchFileSize; off += int64(len(chunk)) {
		if _, err := f.WriteAt(chunk, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		b.Fatal(err)
	}
	return f
}

func startSyncBench(b *testing.B) {
	b.SetBytes(benchPayload)
	b.ReportAllocs()
	b.ResetTimer()
}

func reportSyncs(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
}

// BenchmarkSyncFlush is group commit end to end on a real segment.Log: each
// writer appends 1 KiB and waits for it to be durable, b.N entries in all.
// The names keep "write=pwrite", segment's only append path, so that they
// compare with runs recorded when a write=mmap variant existed
// (results/storage.md).
func BenchmarkSyncFlush(b *testing.B) {
	for _, writers := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("write=pwrite/writers=%d", writers), func(b *testing.B) {
			benchSyncFlush(b, writers)
		})
	}
}

func benchSyncFlush(b *testing.B, writers int) {
	log, err := segment.Open(b.TempDir(), segment.Options{SegmentSize: benchFileSize})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	f, err := flush.New(log, flush.Options{Mode: flush.SyncFlush})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	lat := make([][]time.Duration, writers)
	for w := range lat {
		lat[w] = make([]time.Duration, 0, b.N/writers+1)
	}
	warmUp(b, log, f)
	log.WaitPrepared()
	before := f.Stats()
	b.SetBytes(benchPayload)
	b.ReportAllocs()
	b.ResetTimer()
	runWriters(b, log, f, lat)
	b.StopTimer()
	after := f.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Nanoseconds())/1e3, "p50-us")
	b.ReportMetric(float64(p99.Nanoseconds())/1e3, "p99-us")
	if syncs := after.Syncs - before.Syncs; syncs > 0 {
		b.ReportMetric(float64(after.Entries-before.Entries)/float64(syncs), "entries/sync")
		b.ReportMetric(float64((after.SyncTime-before.SyncTime).Microseconds())/float64(syncs), "us/sync")
	}
}

// warmUp does two appends, each waited for, before the timer starts. The first
// Sync after segment.Open and the first Checkpoint (which the flusher runs at
// once) take tens of milliseconds; Wait for the second entry returns only
// after both, since the flusher checkpoints before it syncs again. Without
// this, a 2000-op run measures mostly that one-off cost.
func warmUp(b *testing.B, log *segment.Log, f *flush.Flusher) {
	payload := make([]byte, benchPayload)
	for range 2 {
		idx, err := log.Append(1, segment.TypeNormal, payload)
		if err == nil {
			err = f.Wait(context.Background(), idx)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// runWriters splits b.N append+Wait operations among len(lat) goroutines,
// each recording its latencies into its own slice.
func runWriters(b *testing.B, log *segment.Log, f *flush.Flusher, lat [][]time.Duration) {
	payload := make([]byte, benchPayload)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range lat {
		n := b.N / len(lat)
		if w < b.N%len(lat) {
			n++
		}
		wg.Go(func() {
			for range n {
				start := time.Now()
				idx, err := log.Append(1, segment.TypeNormal, payload)
				if err == nil {
					err = f.Wait(ctx, idx)
				}
				if err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	wg.Wait()
}

// percentiles returns the p50 and p99 of all recorded latencies.
func percentiles(lat [][]time.Duration) (p50, p99 time.Duration) {
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return 0, 0
	}
	slices.Sort(all)
	at := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	return at(0.50), at(0.99)
}

// BenchmarkAsyncLossWindow measures how long an entry can stay unsynced under
// ASYNC_FLUSH with the default interval (500 ms) and checkpoint interval
// (1 s) on this disk, while one goroutine appends 1 KiB entries as fast as it
// can (the worst case for the page cache): the checkpoint runs in the
// flusher's goroutine, so it delays the next sync. The window of sync k is
// from the start of sync k-1 (an entry appended just after it is not
// covered) to the end of sync k. It reports the median and the largest.
//
//	go test ./flush -run '^$' -bench AsyncLossWindow -benchtime 20000000x -count 3
func BenchmarkAsyncLossWindow(b *testing.B) {
	log, err := segment.Open(b.TempDir(), segment.Options{SegmentSize: benchFileSize, NoPrewrite: true})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	var mu sync.Mutex
	var starts, ends []time.Time
	f, err := flush.New(log, flush.Options{Mode: flush.AsyncFlush, OnSync: func(_ uint64, took time.Duration) {
		now := time.Now()
		mu.Lock()
		starts, ends = append(starts, now.Add(-took)), append(ends, now)
		mu.Unlock()
	}})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayload)
	b.SetBytes(benchPayload)
	b.ResetTimer()
	for range b.N {
		if _, err := log.Append(1, segment.TypeNormal, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var windows []float64
	for k := 1; k < len(ends); k++ {
		windows = append(windows, float64(ends[k].Sub(starts[k-1]).Microseconds())/1000)
	}
	if len(windows) == 0 {
		return // the framework's first run (b.N = 1), or too short to sync twice
	}
	slices.Sort(windows)
	b.ReportMetric(windows[len(windows)/2], "window-ms-p50")
	b.ReportMetric(windows[len(windows)-1], "window-ms-max")
	b.ReportMetric(float64(f.Stats().Checkpoints), "checkpoints")
}
