package client

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkAppend measures the client's own cost per append against a test
// node that answers at once and keeps nothing (over loopback TCP, in the
// same process: the node's cost is in the numbers too, though it
// allocates nothing per request). 1 KiB payloads.
//
//	sync:     one goroutine, Append after Append (a round trip each)
//	parallel: Append from 64 goroutines over the one connection
//	async:    AppendAsync with up to 256 appends in flight
//	async-batch=16: AppendBatchAsync of 16 payloads, up to 256 appends
//	          in flight (b.N counts appends, so ns/op is per entry)
func BenchmarkAppend(b *testing.B) {
	payload := make([]byte, 1024)
	ctx := context.Background()
	start := func(b *testing.B) *Client {
		l := &testLog{discard: true}
		n := newNode(b, "n0", l, true)
		c := dial(b, []string{n.addr})
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		c.mu.Lock()
		cn := c.cur
		c.mu.Unlock()
		writes := cn.writes.Load()
		b.Cleanup(func() { b.ReportMetric(float64(b.N)/float64(cn.writes.Load()-writes), "appends/write") })
		b.ResetTimer()
		return c
	}
	b.Run("sync", func(b *testing.B) {
		c := start(b)
		for b.Loop() {
			if _, err := c.Append(ctx, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		c := start(b)
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Append(ctx, payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("async", func(b *testing.B) {
		c := start(b)
		window := make([]*Future, 0, 256)
		wait := func() {
			for _, f := range window {
				if _, err := f.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			window = window[:0]
		}
		for b.Loop() {
			if len(window) == cap(window) {
				wait()
			}
			window = append(window, c.AppendAsync(payload))
		}
		wait()
	})
	b.Run("async-batch=16", func(b *testing.B) {
		const size = 16
		c := start(b)
		batch := make([][]byte, size)
		for i := range batch {
			batch[i] = payload
		}
		window := make([]*Future, 0, 256/size)
		wait := func() {
			for _, f := range window {
				if _, err := f.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			window = window[:0]
		}
		for i := 0; i < b.N; i += size {
			if len(window) == cap(window) {
				wait()
			}
			window = append(window, c.AppendBatchAsync(batch[:min(size, b.N-i)]))
		}
		wait()
	})
}
