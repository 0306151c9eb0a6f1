package bench

import "time"

// gap is a stretch of a run without an acknowledged append, between two
// acknowledged ones: the milliseconds [from, to) since the run's start
// (load.Result.Ticks indexes), each of which saw no acknowledgement.
type gap struct{ from, to int }

func (g gap) length() time.Duration { return time.Duration(g.to-g.from) * time.Millisecond }

// overlaps reports whether g shares a millisecond with w.
func (g gap) overlaps(w window) bool { return g.from <= w.to && g.to > w.from }

// window is a step's milliseconds [from, to], both included: its start
// rounded down, its end rounded up.
type window struct{ from, to int }

func windowOf(at, took time.Duration) window {
	end := at + took
	return window{int(at / time.Millisecond), int((end + time.Millisecond - 1) / time.Millisecond)}
}

// ackGaps returns the gaps of ticks (acknowledgements per millisecond), in
// order. The silence before the first acknowledgement and after the last
// is no gap: the load had not started, or had ended.
func ackGaps(ticks []int32) []gap {
	var out []gap
	last := -1 // the last millisecond with an acknowledgement so far
	for i, n := range ticks {
		if n == 0 {
			continue
		}
		if last >= 0 && i > last+1 {
			out = append(out, gap{last + 1, i})
		}
		last = i
	}
	return out
}

// lastAck is the last millisecond of ticks with an acknowledgement (-1:
// none).
func lastAck(ticks []int32) int {
	for i := len(ticks) - 1; i >= 0; i-- {
		if ticks[i] != 0 {
			return i
		}
	}
	return -1
}

// stepOutages returns, per window, the longest gap of ticks that overlaps
// it (the window's write outage; a gap that started before the step or
// ends after it counts whole), and the longest gap that overlaps no window
// (the baseline: the load's own gaps). ok is false if the acknowledgements
// stopped before some window ended: the writes did not resume, and that
// outage cannot be measured.
func stepOutages(ticks []int32, ws []window) (outages []time.Duration, baseline time.Duration, ok bool) {
	ok = true
	end := lastAck(ticks)
	outages = make([]time.Duration, len(ws))
	for _, w := range ws {
		ok = ok && w.to <= end
	}
	for _, g := range ackGaps(ticks) {
		hit := false
		for k, w := range ws {
			if g.overlaps(w) {
				hit = true
				outages[k] = max(outages[k], g.length())
			}
		}
		if !hit {
			baseline = max(baseline, g.length())
		}
	}
	return outages, baseline, ok
}
