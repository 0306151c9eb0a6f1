package broker

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
)

// TestDedupMemory measures the heap cost of a remembered key (a topic of
// 12 bytes and the Go client's 32-character UNIQ_KEY) against
// dedupBytesPerKey, the figure the defaults' documentation quotes.
func TestDedupMemory(t *testing.T) {
	const n = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := newDedup(time.Hour, n)
	now := time.Now()
	for i := range n {
		key := dedupKey("CompatTopic1", fmt.Appendf(nil, "7F0000010001%020X", i))
		o, _ := d.begin(key, now)
		d.finish(key, o, &commitlog.Header{QueueOffset: int64(i)}, bornHost)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	runtime.KeepAlive(d)
	t.Logf("%.0f bytes per key (documented %d)", per, dedupBytesPerKey)
	if per > dedupBytesPerKey*1.25 {
		t.Fatalf("%.0f bytes per key, documented %d: update dedupBytesPerKey and docs/broker.md", per, dedupBytesPerKey)
	}
}
