package report

import (
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/rmqlog/rmqlog/internal/load"
)

// failoverBin returns the bin width, in milliseconds, of a failover plot
// over n milliseconds of ticks.
func failoverBin(n int) int {
	if n > 60_000 {
		return 100
	}
	return 10
}

// tickRate returns acknowledgements per bin of ticks (one per ms), as
// msgs/s at the end of each bin.
func tickRate(ticks []int32, bin int) plotter.XYs {
	var xys plotter.XYs
	for start := 0; start < len(ticks); start += bin {
		end := min(start+bin, len(ticks))
		var sum int64
		for _, t := range ticks[start:end] {
			sum += int64(t)
		}
		xys = append(xys, plotter.XY{X: float64(end) / 1000, Y: float64(sum) * 1000 / float64(end-start)})
	}
	return xys
}

// failoverPlot draws a failover result's acknowledgements over time, with
// the kill, the restart and the end of the catch-up marked.
func failoverPlot(r *load.Result) *plot.Plot {
	f, bin := r.Failover, failoverBin(len(r.Ticks))
	title := "Failover: " + r.Name + ", acks per " + strconv.Itoa(bin) + " ms bin as msgs/s"
	pl := newPlot(title, "time since start (s)", "acknowledged msgs/s")
	xys := tickRate(r.Ticks, bin)
	ymax := 0.0
	for _, p := range xys {
		ymax = math.Max(ymax, p.Y)
	}
	top := headroom(ymax, 4)
	addLine(pl, "acks ("+strings.ToLower(r.Spec.Mode)+")", xys, lineStyle(0))
	failoverMarkers(pl, f, top, palette[3])
	if f.CatchUp > 0 {
		end := (f.RestartAt + f.CatchUp).Seconds()
		addVertical(pl, f.OldLeader+" caught up", end, 0, top, markerStyle(palette[2], vg.Points(4), vg.Points(2)))
	}
	setLinearAxes(pl, top)
	return pl
}
