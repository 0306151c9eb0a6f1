package load

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// maxTicks bounds Result.Ticks: ten minutes of milliseconds.
const maxTicks = 10 * 60 * 1000

// shard is the part of a meter one recording goroutine writes, so that
// producers do not share a lock; the once-a-second reporter takes each
// shard's lock in turn.
type shard struct {
	mu     sync.Mutex              // guards the fields below
	total  *hdrhistogram.Histogram // every second closed so far
	second *hdrhistogram.Histogram // the current second
	acked  int64                   // in the current second
	errors int64                   // in the current second
	kinds  map[string]int64
	acks   []Ack
}

// meter records a run's outcomes: latencies overall and per second, error
// kinds, acknowledgements per millisecond and, if asked, the acks.
type meter struct {
	t      Target
	start  time.Time
	record bool
	shards []*shard
	ticks  []atomic.Int32
	sent   atomic.Int64

	secHist *hdrhistogram.Histogram // owned by the reporter
	seconds []Second                // owned by the reporter
	last    time.Duration           // end of the last reported second
}

func newMeter(t Target, shards int, record bool) *meter {
	m := &meter{t: t, record: record, ticks: make([]atomic.Int32, maxTicks), secHist: NewHistogram()}
	for range shards {
		m.shards = append(m.shards, &shard{total: NewHistogram(), second: NewHistogram(), kinds: map[string]int64{}})
	}
	return m
}

// done records one finished append on shard s: sent at t0 (its intended
// time in an open loop), finished now.
func (m *meter) done(s *shard, t0 time.Time, id, seq uint64, err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errors++
		s.kinds[m.t.Kind(err)]++
		return
	}
	Record(s.second, now.Sub(t0)) // folded into total once a second (tick)
	s.acked++
	if m.record {
		s.acks = append(s.acks, Ack{Seq: seq, ID: id})
	}
	if ms := now.Sub(m.start).Milliseconds(); ms >= 0 && ms < maxTicks {
		m.ticks[ms].Add(1)
	}
}

// tick closes the second ending at `at` (since the start), prints its line
// to live (if not nil) and keeps it.
func (m *meter) tick(at time.Duration, payload int, live io.Writer) {
	var acked, errs int64
	m.secHist.Reset()
	for _, s := range m.shards {
		s.mu.Lock()
		m.secHist.Merge(s.second)
		s.total.Merge(s.second)
		s.second.Reset()
		acked, errs = acked+s.acked, errs+s.errors
		s.acked, s.errors = 0, 0
		s.mu.Unlock()
	}
	span := (at - m.last).Seconds()
	m.last = at
	sec := Second{At: at.Seconds(), Acked: acked, Errors: errs,
		P50: m.secHist.ValueAtQuantile(50), P99: m.secHist.ValueAtQuantile(99), Max: m.secHist.Max()}
	m.seconds = append(m.seconds, sec)
	if live != nil && span >= 0.1 { // a last sliver of a second would print a noisy rate
		rate := float64(acked) / span
		fmt.Fprintf(live, "%6.1fs %9.0f msg/s %8.1f MB/s   p50 %8s   p99 %8s   errors %d\n",
			sec.At, rate, rate*float64(payload)/1e6, FormatUs(sec.P50), FormatUs(sec.P99), errs)
	}
}

// result folds the shards into r.
func (m *meter) result(r *Result) {
	r.Hist, r.Errors = NewHistogram(), map[string]int64{}
	for _, s := range m.shards {
		s.mu.Lock()
		r.Hist.Merge(s.total)
		r.Hist.Merge(s.second) // recorded after the last tick, if any
		for k, v := range s.kinds {
			r.Errors[k] += v
		}
		r.Acks = append(r.Acks, s.acks...)
		s.mu.Unlock()
	}
	r.Acked, r.Sent, r.Seconds = r.Hist.TotalCount(), m.sent.Load(), m.seconds
	r.Latency = Summarize(r.Hist)
	n := min(int(r.Elapsed.Milliseconds())+1, maxTicks)
	r.Ticks = make([]int32, n)
	for i := range n {
		r.Ticks[i] = m.ticks[i].Load()
	}
}

// FormatUs prints a latency in microseconds with a unit a reader takes in
// at a glance: "850us", "1.16ms", "12.3ms", "2.05s".
func FormatUs(us int64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%dus", us)
	case us < 10_000:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	case us < 1_000_000:
		return fmt.Sprintf("%.1fms", float64(us)/1e3)
	default:
		return fmt.Sprintf("%.2fs", float64(us)/1e6)
	}
}
