package engine_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// BenchmarkFailover measures the write outage when the leader dies under
// load, with the default timers: 64 appenders write 1 KiB entries to
// whichever node leads; after a second the leader is closed (its peers see
// its connections drop, as with kill -9, and must wait for the election
// timeout). The outage is the time from the last append acknowledged
// before the kill to the first acknowledged after it. Each iteration is a
// fresh group; the metrics are the median and the maximum.
//
//	go test -run '^$' -bench Failover -benchtime 5x ./engine
func BenchmarkFailover(b *testing.B) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		b.Run("mode="+mode.String(), func(b *testing.B) {
			var outages, detect []float64
			for range b.N {
				o, d := failoverOnce(b, mode)
				outages = append(outages, o.Seconds()*1000)
				detect = append(detect, d.Seconds()*1000)
			}
			slices.Sort(outages)
			slices.Sort(detect)
			b.ReportMetric(outages[len(outages)/2], "outage-ms-median")
			b.ReportMetric(outages[len(outages)-1], "outage-ms-max")
			b.ReportMetric(detect[len(detect)/2], "kill-to-ack-ms-median")
		})
	}
}

func failoverOnce(b *testing.B, mode flush.Mode) (outage, killToAck time.Duration) {
	b.StopTimer()
	g := startBenchGroup(b, mode, 3)
	defer func() { // this iteration's group closes now, not when the benchmark ends
		for _, n := range g.Nodes() {
			n.Close()
		}
	}()
	old := g.Leader()
	var lastOK atomic.Int64 // unix nanos of the latest acknowledged append
	var killed atomic.Int64
	firstAfter := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	payload := make([]byte, 1024)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if n := appendOnce(ctx, g, payload); n != nil {
					now := time.Now()
					if killed.Load() != 0 && n != old {
						select {
						case firstAfter <- now:
						default:
						}
					} else {
						lastOK.Store(now.UnixNano())
					}
				}
			}
		}()
	}
	time.Sleep(time.Second) // steady load before the kill
	b.StartTimer()
	killed.Store(time.Now().UnixNano())
	kill := time.Now()
	g.Stop(old.ID())
	var after time.Time
	select {
	case after = <-firstAfter:
	case <-time.After(30 * time.Second):
		b.Fatalf("no append succeeded within 30s of the kill:%s", g.Describe())
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	return after.Sub(time.Unix(0, lastOK.Load())), after.Sub(kill)
}

// appendOnce appends p on whichever running member takes it, trying them
// in turn until one acknowledges it (while the election runs, none does)
// or ctx ends, and returns that member, or nil if ctx ended.
func appendOnce(ctx context.Context, g *testgroup.Group, p []byte) *engine.Node {
	var by *engine.Node
	poll.Until(ctx, func() bool {
		for _, n := range g.Nodes() {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := n.Append(actx, p)
			cancel()
			if err == nil {
				by = n
				return true
			}
		}
		return false
	})
	return by
}
