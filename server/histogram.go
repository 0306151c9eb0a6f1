package server

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// histogram is a Prometheus histogram that takes n observations of one
// value at once: the answers of a run of appends share their latency, and
// the writer records them with one update instead of one per answer. It
// exposes what a prometheus.Histogram with the same options does.
type histogram struct {
	desc  *prometheus.Desc
	upper []float64 // the buckets' upper bounds, ascending

	mu     sync.Mutex // guards the fields below
	counts []uint64   // per bucket, not cumulative; the last is +Inf's
	count  uint64
	sum    float64
}

func newHistogram(name, help string, buckets []float64) *histogram {
	return &histogram{desc: prometheus.NewDesc(name, help, nil, nil), upper: buckets,
		counts: make([]uint64, len(buckets)+1)}
}

// observe records n observations of v.
func (h *histogram) observe(v float64, n int) {
	if n <= 0 {
		return
	}
	i := sort.SearchFloat64s(h.upper, v) // the first bound >= v: buckets hold v <= le
	h.mu.Lock()
	h.counts[i] += uint64(n)
	h.count += uint64(n)
	h.sum += v * float64(n)
	h.mu.Unlock()
}

func (h *histogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *histogram) Collect(ch chan<- prometheus.Metric) {
	cum := make(map[float64]uint64, len(h.upper))
	h.mu.Lock()
	n := uint64(0)
	for i, le := range h.upper {
		n += h.counts[i]
		cum[le] = n
	}
	count, sum := h.count, h.sum
	h.mu.Unlock()
	ch <- prometheus.MustNewConstHistogram(h.desc, count, sum, cum)
}
