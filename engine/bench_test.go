package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	loadgen "github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// BenchmarkCluster runs an in-process 3-node group on loopback with real
// segment files: appenders goroutines each append 1 KiB entries one at a
// time and wait for the commit (Append), b.N entries in all. It reports
// commit latency percentiles, replication batches, elections during the run
// (should be 0), and the CPU time of the whole process (three nodes and the
// load) per committed entry.
//
//	go test -run '^$' -bench Cluster -benchtime 200000x ./engine
//
// nodes=1 is the same load on a group of one (commit = the local log's
// fsync under SYNC_FLUSH), run side by side as the reference for what
// replication costs.
func BenchmarkCluster(b *testing.B) {
	cases := []struct{ nodes, appenders int }{{3, 64}, {1, 64}, {3, 256}}
	for _, c := range cases {
		for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
			name := fmt.Sprintf("nodes=%d/mode=%s/appenders=%d/size=1KiB", c.nodes, mode, c.appenders)
			b.Run(name, func(b *testing.B) { benchCluster(b, c.nodes, mode, c.appenders, 1024) })
		}
	}
}

func benchCluster(b *testing.B, nodes int, mode flush.Mode, appenders, size int) {
	l := startBenchGroup(b, mode, nodes).Leader()
	term0 := l.Status().Term
	payload := make([]byte, size)
	st0 := l.Status()
	fs0 := engine.FlushStats(l)
	cpu0 := cpuTime()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	hist, err := loadgen.ClosedLoop(appenders, b.N, func() error {
		_, err := l.Append(context.Background(), payload)
		return err
	})
	if err != nil {
		b.Fatalf("append: %v", err)
	}
	el := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	st := l.Status()
	batches := float64(st.BatchesSent - st0.BatchesSent)
	b.ReportMetric(float64(b.N)/el.Seconds(), "entries/s")
	b.ReportMetric(float64(hist.ValueAtQuantile(50)), "p50-us")
	b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-us")
	b.ReportMetric(float64(hist.ValueAtQuantile(99.9)), "p99.9-us")
	b.ReportMetric(batches/el.Seconds(), "batches/s")
	b.ReportMetric(float64(st.EntriesSent-st0.EntriesSent)/max(batches, 1), "entries/batch")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/entry")
	b.ReportMetric(float64(st.Term-term0), "elections")
	fs := engine.FlushStats(l)
	syncs := float64(fs.Syncs - fs0.Syncs)
	b.ReportMetric(syncs/el.Seconds(), "leader-syncs/s")
	b.ReportMetric(float64((fs.SyncTime-fs0.SyncTime).Microseconds())/max(syncs, 1), "leader-sync-us")
	b.ReportMetric(float64(fs.MaxSync.Microseconds())/1000, "leader-max-sync-ms")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startBenchGroup starts a group of nodes with the engine's default
// timers, batch and entry sizes, and 64 MiB segment files.
func startBenchGroup(b *testing.B, mode flush.Mode, nodes int) *testgroup.Group {
	return testgroup.Start(b, testgroup.Options{Nodes: nodes, Config: func(c *engine.Config) {
		c.FlushMode = mode
		c.TickInterval, c.HeartbeatInterval, c.ElectionTimeout, c.RetransmitTimeout = 0, 0, 0, 0
		c.MaxEntrySize, c.SegmentSize, c.IndexEntries = 0, 64<<20, 0
	}})
}

// BenchmarkIndependent is the physical reference for a 3-node group on one
// machine: three single-node groups side by side, each with its own 64
// appenders and b.N entries, sharing the disk and the CPUs as the three
// replicas of BenchmarkCluster do, but with no replication between them.
// entries/s is per group: what each replica could do if it did not have
// to agree with the others.
//
//	go test -run '^$' -bench Independent -benchtime 200000x ./engine
func BenchmarkIndependent(b *testing.B) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		b.Run(fmt.Sprintf("groups=3/mode=%s/appenders=64/size=1KiB", mode), func(b *testing.B) {
			var groups []*engine.Node
			for range 3 {
				groups = append(groups, startBenchGroup(b, mode, 1).Leader())
			}
			payload := make([]byte, 1024)
			cpu0 := cpuTime()
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, g := range groups {
				var left atomic.Int64
				left.Store(int64(b.N))
				for range 64 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for left.Add(-1) >= 0 {
							if _, err := g.Append(context.Background(), payload); err != nil {
								b.Errorf("append: %v", err)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "entries/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(3*b.N), "cpu-us/entry")
		})
	}
}
