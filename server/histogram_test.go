package server

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestHistogramAsPrometheus: a histogram fed n observations at a time
// exposes what a prometheus.Histogram with the same buckets exposes after
// the same observations one by one.
func TestHistogramAsPrometheus(t *testing.T) {
	buckets := []float64{0.5, 1, 2, 4}
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "help", Buckets: buckets})
	h := newHistogram("h", "help", buckets)
	for _, o := range []struct {
		v float64
		n int
	}{{0.25, 3}, {0.5, 1}, {1.5, 2}, {4, 1}, {8, 5}, {2, 0}} {
		h.observe(o.v, o.n)
		for range o.n {
			ref.Observe(o.v)
		}
	}
	if got, want := gatherHistogram(t, h), gatherHistogram(t, ref); got != want {
		t.Fatalf("exposed\n%s\nwant\n%s", got, want)
	}
}

// gatherHistogram is c's one histogram as registered and gathered: name,
// help, type, count, sum and buckets.
func gatherHistogram(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].Metric) != 1 {
		t.Fatalf("gathered %d families: %v", len(mfs), err)
	}
	mf := mfs[0]
	hist := mf.Metric[0].GetHistogram()
	s := fmt.Sprintf("%s %q %v count %d sum %g", mf.GetName(), mf.GetHelp(), mf.GetType(), hist.GetSampleCount(), hist.GetSampleSum())
	for _, b := range hist.GetBucket() {
		s += fmt.Sprintf(" le=%g:%d", b.GetUpperBound(), b.GetCumulativeCount())
	}
	return s
}
