// Package load drives benchmark loads and records their latencies in an
// HdrHistogram (microseconds): the engine's and the node's benchmarks use
// it, and rmqbench will.
package load

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// MaxLatency is the highest latency a histogram of NewHistogram tracks;
// Record clamps longer ones to it.
const MaxLatency = 100 * time.Second

// NewHistogram returns a histogram of latencies in microseconds, from 1 us
// to MaxLatency, with 3 significant digits.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(MaxLatency/time.Microsecond), 3)
}

// Record records latency d in h, clamped to [1 us, MaxLatency].
func Record(h *hdrhistogram.Histogram, d time.Duration) {
	us := min(max(d.Microseconds(), 1), int64(MaxLatency/time.Microsecond))
	h.RecordValue(us)
}

// ClosedLoop runs total operations on workers goroutines, each calling op
// and waiting for it before the next (a closed loop), and returns their
// latencies. It stops early at the first error, which it returns.
func ClosedLoop(workers, total int, op func() error) (*hdrhistogram.Histogram, error) {
	hist := NewHistogram()
	var left atomic.Int64
	left.Store(int64(total))
	var (
		mu       sync.Mutex // guards hist and firstErr
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := NewHistogram()
			var err error
			for left.Add(-1) >= 0 {
				t := time.Now()
				if err = op(); err != nil {
					left.Store(0)
					break
				}
				Record(local, time.Since(t))
			}
			mu.Lock()
			defer mu.Unlock()
			hist.Merge(local)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return hist, firstErr
}
