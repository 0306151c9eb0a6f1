package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: github.com/rmqlog/rmqlog/segment
BenchmarkAppend/size=1KiB-2   	 100	  160 ns/op	 6400 MB/s	 0 allocs/op
BenchmarkAppend/size=1KiB-2   	 100	  170 ns/op	 6000 MB/s	 0 allocs/op
BenchmarkAppend/size=1KiB-2   	 100	  150 ns/op	 7000 MB/s	 0 allocs/op
BenchmarkMemcpy/size=1KiB-2   	 100	   66 ns/op	15000 MB/s
pkg: github.com/rmqlog/rmqlog/flush
BenchmarkSyncFlush/writers=1-2	 100	 1000 ns/op	 5000 entries/s
PASS
`

func TestParse(t *testing.T) {
	rs, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, metric string
		runs         int
		median       float64
	}{
		{"segment.Append/size=1KiB", "ns/op", 3, 160},
		{"segment.Append/size=1KiB", "MB/s", 3, 6400},
		{"segment.Memcpy/size=1KiB", "MB/s", 1, 15000},
		{"flush.SyncFlush/writers=1", "entries/s", 1, 5000},
	}
	for _, tc := range tests {
		var got *result
		for _, r := range rs {
			if r.name == tc.name {
				got = r
			}
		}
		if got == nil || len(got.metrics[tc.metric]) != tc.runs || median(got.metrics[tc.metric]) != tc.median {
			t.Fatalf("%s %s: got %+v, want %d runs, median %v", tc.name, tc.metric, got, tc.runs, tc.median)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRatio(t *testing.T) {
	rs, _ := parse(strings.NewReader(sample))
	var out bytes.Buffer
	if err := ratioTable(&out, rs, ratios{"append vs memcpy=Append/size=1KiB@MB/s:Memcpy/size=1KiB@MB/s"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| append vs memcpy | 0.43 |") {
		t.Fatalf("ratio table:\n%s", out.String())
	}
	for _, bad := range []string{"x=Nope@MB/s:Memcpy/size=1KiB@MB/s", "x=Append/size=1KiB@furlongs:Memcpy/size=1KiB@MB/s", "no-colon"} {
		if err := ratioTable(&out, rs, ratios{bad}); err == nil {
			t.Errorf("ratio %q: no error", bad)
		}
	}
}
