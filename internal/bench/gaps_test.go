package bench

import (
	"slices"
	"testing"
	"time"
)

// ticksOf turns a picture into ticks: '#' an acknowledgement in that
// millisecond, '.' none.
func ticksOf(spec string) []int32 {
	out := make([]int32, len(spec))
	for i, c := range spec {
		if c == '#' {
			out[i] = 3
		}
	}
	return out
}

func TestStepOutages(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, c := range []struct {
		name     string
		ticks    string
		windows  []window
		outages  []time.Duration
		baseline time.Duration
		ok       bool
	}{
		{"no gap at all", "##########", []window{{2, 5}}, []time.Duration{0}, 0, true},
		{"gap inside the step", "##...#####", []window{{1, 6}}, []time.Duration{ms(3)}, 0, true},
		{"gap that starts before the step counts whole", "#.....####", []window{{4, 7}}, []time.Duration{ms(5)}, 0, true},
		{"gap that ends after the step counts whole", "###....###", []window{{2, 3}}, []time.Duration{ms(4)}, 0, true},
		{"gap just after the step is baseline", "###...#..#", []window{{0, 2}}, []time.Duration{0}, ms(3), true},
		{"the longest of several gaps", "#.#...#..#", []window{{0, 9}}, []time.Duration{ms(3)}, 0, true},
		{"baseline is the longest gap outside every step", "#..#....#.#####.#", []window{{4, 6}, {14, 16}},
			[]time.Duration{ms(4), ms(1)}, ms(2), true},
		{"one gap overlapping two steps counts for both", "##......##", []window{{2, 3}, {6, 7}},
			[]time.Duration{ms(6), ms(6)}, 0, true},
		{"silence before the first and after the last ack is no gap", "...####...", []window{{4, 5}}, []time.Duration{0}, 0, true},
		{"writes that never resume", "####......", []window{{3, 6}}, []time.Duration{0}, 0, false},
	} {
		got, base, ok := stepOutages(ticksOf(c.ticks), c.windows)
		if !slices.Equal(got, c.outages) || base != c.baseline || ok != c.ok {
			t.Errorf("%s: outages %v, baseline %v, ok %v; want %v, %v, %v", c.name, got, base, ok, c.outages, c.baseline, c.ok)
		}
	}
}

func TestWindowOf(t *testing.T) {
	for _, c := range []struct {
		at, took time.Duration
		want     window
	}{
		{0, 0, window{0, 0}},
		{1500 * time.Microsecond, 2 * time.Millisecond, window{1, 4}},
		{3 * time.Millisecond, 7 * time.Millisecond, window{3, 10}},
	} {
		if got := windowOf(c.at, c.took); got != c.want {
			t.Errorf("windowOf(%v, %v) = %v; want %v", c.at, c.took, got, c.want)
		}
	}
}
