package report

import (
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/rmqlog/rmqlog/internal/load"
)

// percentileTicks label the x axis of a latency plot, where x = 1/(1-q).
var percentileTicks = []plot.Tick{
	{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}, {Value: 10, Label: "90%"},
	{Value: 100, Label: "99%"}, {Value: 1e3, Label: "99.9%"}, {Value: 1e4, Label: "99.99%"},
	{Value: 1e5, Label: "99.999%"}, {Value: 1e6, Label: "99.9999%"}, {Value: 1e7, Label: "99.99999%"},
}

// latencyPoints returns h's percentile distribution as (1/(1-q), ms),
// with the same brackets as the .hgrm file but without the last (q = 1).
func latencyPoints(h *hdrhistogram.Histogram) plotter.XYs {
	var xys plotter.XYs
	for _, b := range h.CumulativeDistributionWithTicks(5) {
		q := b.Quantile / 100
		if q >= 1 {
			continue
		}
		xys = append(xys, plotter.XY{X: 1 / (1 - q), Y: math.Max(float64(b.ValueAt)/1000, minMillis)})
	}
	return xys
}

// latencyPlot draws the percentile distribution of every member of g
// that has a histogram.
func latencyPlot(results []*load.Result, g group) *plot.Plot {
	pl := newPlot(titled("Latency by percentile", g), "percentile", "latency (ms)")
	xmax, ymin, ymax := 100.0, math.Inf(1), minMillis
	for k, i := range g.members {
		if !hasHist(results[i]) {
			continue
		}
		xys := latencyPoints(results[i].Hist)
		for _, p := range xys {
			xmax, ymin, ymax = math.Max(xmax, p.X), math.Min(ymin, p.Y), math.Max(ymax, p.Y)
		}
		addLine(pl, results[i].Name, xys, lineStyle(k))
	}
	setLatencyAxes(pl, xmax, ymin, ymax)
	pl.Legend.Top, pl.Legend.Left = true, true
	pl.Legend.XOffs = vg.Points(8)
	return pl
}

// setLatencyAxes makes both axes logarithmic, spanning whole decades
// that hold the data, with the percentile labels on x.
func setLatencyAxes(pl *plot.Plot, xmax, ymin, ymax float64) {
	if math.IsInf(ymin, 1) {
		ymin = ymax
	}
	pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
	pl.X.Min, pl.X.Max = 1, math.Min(decadeUp(xmax), 1e7)
	var ticks plot.ConstantTicks
	for _, t := range percentileTicks {
		if t.Value <= pl.X.Max {
			ticks = append(ticks, t)
		}
	}
	pl.X.Tick.Marker = ticks
	pl.Y.Min, pl.Y.Max = decadeDown(ymin), decadeUp(ymax)
	if pl.Y.Max <= pl.Y.Min {
		pl.Y.Max = pl.Y.Min * 10
	}
	pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}
}

// decadeUp and decadeDown round a positive number to a power of ten.
func decadeUp(v float64) float64   { return math.Pow(10, math.Ceil(math.Log10(v)-1e-9)) }
func decadeDown(v float64) float64 { return math.Pow(10, math.Floor(math.Log10(v)+1e-9)) }
