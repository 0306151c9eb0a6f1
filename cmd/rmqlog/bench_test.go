package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
)

// BenchmarkGroup measures the whole path a user gets: three rmqlog
// processes started from the sample configs, appends of 1 KiB through
// package client over the client port. Two load forms: 64 producers each
// waiting for its commit (closed loop), and one producer keeping 256
// AppendAsync calls in flight (pipelined). It reports entries/s, latency
// percentiles and the CPU time of the three node processes per entry.
// rmqbench (issue 5) will do the same with live output and results/.
func BenchmarkGroup(b *testing.B) {
	for _, mode := range []string{"SYNC_FLUSH", "ASYNC_FLUSH"} {
		for _, form := range []string{"producers=64", "pipelined=256"} {
			b.Run(fmt.Sprintf("mode=%s/%s/size=1KiB", mode, form), func(b *testing.B) {
				benchGroup(b, mode, form)
			})
		}
	}
}

func benchGroup(b *testing.B, mode, form string) {
	c := newCluster(b, map[string]string{"flushDiskType": mode, "mappedFileSizeCommitLog": fmt.Sprint(64 << 20)})
	for _, id := range c.ids {
		c.start(id)
	}
	c.leader()
	ctx := context.Background()
	cl, err := client.Dial(ctx, c.addrs())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	payload := make([]byte, 1024)
	for range 2000 { // warm-up: connections, first files
		if _, err := cl.Append(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	cpu0 := c.cpu(b)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	var hist *hdrhistogram.Histogram
	if form == "producers=64" {
		hist, err = load.ClosedLoop(64, b.N, func() error {
			_, err := cl.Append(context.Background(), payload)
			return err
		})
	} else {
		hist, err = pipelined(b.N, cl, payload, 256)
	}
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := c.cpu(b) - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(hist.ValueAtQuantile(50)), "p50-us")
	b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-us")
	b.ReportMetric(float64(hist.ValueAtQuantile(99.9)), "p99.9-us")
	b.ReportMetric(cpu.Seconds()*1e6/float64(b.N), "node-cpu-us/entry")
	for _, id := range c.ids {
		c.procs[id].cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, id := range c.ids {
		c.procs[id].wait(b, 30*time.Second)
	}
}

// pipelined: one producer keeping window appends in flight, n in all.
func pipelined(n int, cl *client.Client, payload []byte, window int) (*hdrhistogram.Histogram, error) {
	type sent struct {
		f  *client.Future
		t0 time.Time
	}
	hist := load.NewHistogram()
	q := make(chan sent, window)
	done := make(chan error, 1)
	go func() {
		var first error
		for s := range q {
			if _, err := s.f.Wait(context.Background()); err != nil && first == nil {
				first = err
			}
			hist.RecordValue(time.Since(s.t0).Microseconds())
		}
		done <- first
	}()
	for range n {
		q <- sent{cl.AppendAsync(payload), time.Now()}
	}
	close(q)
	return hist, <-done
}

// cpu returns the CPU time (user and system) the node processes used so far.
func (c *cluster) cpu(tb testing.TB) time.Duration {
	var total time.Duration
	for _, id := range c.ids {
		d, err := bench.ProcessCPU(c.procs[id].cmd.Process.Pid)
		if err != nil {
			tb.Fatal(err)
		}
		total += d
	}
	return total
}
