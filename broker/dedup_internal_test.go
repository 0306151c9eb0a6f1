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

// TestDedupIndex: the index against its rules: a second begin of a key in
// flight waits (not owner) and sees the outcome; a failed append forgets
// the key so the next begin owns it; the count bound pushes out the
// oldest; the window expires keys by first sight.
func TestDedupIndex(t *testing.T) {
	now := time.Now()
	d := newDedup(time.Second, 2)
	o, owner := d.begin("a", now)
	if !owner {
		t.Fatal("first begin not owner")
	}
	w, owner := d.begin("a", now)
	if owner || w != o {
		t.Fatal("a begin in flight must wait on the first")
	}
	d.finish("a", o, nil, bornHost) // failed
	select {
	case <-w.done:
	default:
		t.Fatal("waiter not released")
	}
	if w.ok {
		t.Fatal("a failed append reported ok")
	}
	o2, owner := d.begin("a", now)
	if !owner {
		t.Fatal("after a failure the resend must own the key")
	}
	d.finish("a", o2, &commitlog.Header{QueueID: 1, QueueOffset: 7, PhysicalOffset: 99}, bornHost)
	if got, owner := d.begin("a", now); owner || !got.ok || got.qoff != 7 {
		t.Fatalf("committed key: owner %v %+v", owner, got)
	}
	d.begin("b", now)
	d.begin("c", now) // pushes out a
	if _, owner := d.begin("a", now); !owner {
		t.Fatal("the count bound kept the oldest key")
	}
	if _, owner := d.begin("c", now.Add(2*time.Second)); !owner {
		t.Fatal("the window kept an expired key")
	}
}
