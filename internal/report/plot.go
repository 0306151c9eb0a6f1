package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/rmqlog/rmqlog/internal/load"
)

// Plot size, and the smallest latency drawn (a log axis cannot show 0).
const (
	plotWidth  = 9 * vg.Inch
	plotHeight = 5.5 * vg.Inch
	minMillis  = 0.001
)

// palette is Tableau 10: distinct colours that stay readable when
// printed; past ten lines the dashes change.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

var dashSets = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}}

// lineStyle is the style of the i-th line of a plot.
func lineStyle(i int) draw.LineStyle {
	return draw.LineStyle{
		Color:  palette[i%len(palette)],
		Width:  vg.Points(1.5),
		Dashes: dashSets[(i/len(palette))%len(dashSets)],
	}
}

// markerStyle is the style of a vertical marker line (kill, restart).
func markerStyle(c color.Color, dashes ...vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(1), Dashes: dashes}
}

// writePlots draws every plot of p into dir.
func writePlots(dir string, p plan) error {
	for _, g := range p.groups {
		if g.latency != "" {
			if err := save(latencyPlot(p.results, g), filepath.Join(dir, g.latency)); err != nil {
				return err
			}
		}
		if g.throughput != "" {
			if err := save(throughputPlot(p.results, g), filepath.Join(dir, g.throughput)); err != nil {
				return err
			}
		}
	}
	for _, f := range p.failovers {
		if err := save(failoverPlot(p.results[f.result]), filepath.Join(dir, f.name)); err != nil {
			return err
		}
	}
	return nil
}

// save writes pl as a PNG.
func save(pl *plot.Plot, path string) error {
	if err := pl.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("report: plot %s: %w", path, err)
	}
	return nil
}

// newPlot returns a plot with a title, axis labels and a grid.
func newPlot(title, x, y string) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = title
	pl.X.Label.Text = x
	pl.Y.Label.Text = y
	pl.Add(plotter.NewGrid())
	pl.Title.Padding = vg.Points(6)
	pl.Legend.TextStyle.Font.Size = vg.Points(9)
	return pl
}

// titled appends a group's label to a title.
func titled(title string, g group) string {
	if g.label == "" {
		return title
	}
	return title + ", payload " + g.label
}

// addLine adds a line through xys with a legend entry.
func addLine(pl *plot.Plot, name string, xys plotter.XYs, st draw.LineStyle) {
	l := &plotter.Line{XYs: xys, LineStyle: st}
	pl.Add(l)
	pl.Legend.Add(name, l)
}

// addVertical adds a vertical marker at x from y0 to y1.
func addVertical(pl *plot.Plot, name string, x, y0, y1 float64, st draw.LineStyle) {
	addLine(pl, name, plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}}, st)
}

// headroom returns the top of a linear y axis that leaves room above
// the data for a legend of n entries.
func headroom(ymax float64, n int) float64 {
	if ymax <= 0 {
		ymax = 1
	}
	return ymax * (1.05 + 0.06*float64(n))
}

// failoverMarkers adds the kill and restart of f (positions in seconds)
// as vertical lines from 0 to top.
func failoverMarkers(pl *plot.Plot, f *load.Failover, top float64, c color.Color) {
	addVertical(pl, "kill "+f.OldLeader, f.KillAt.Seconds(), 0, top, markerStyle(c, vg.Points(6), vg.Points(3)))
	addVertical(pl, "restart "+f.OldLeader, f.RestartAt.Seconds(), 0, top, markerStyle(c, vg.Points(1), vg.Points(3)))
}

// throughputPoints returns msgs/s over time from a run's seconds: each
// second's acknowledgements over its length (the last may be short).
func throughputPoints(secs []load.Second) plotter.XYs {
	var xys plotter.XYs
	prev := 0.0
	for _, s := range secs {
		if dt := s.At - prev; dt > 0 {
			xys = append(xys, plotter.XY{X: s.At, Y: float64(s.Acked) / dt})
		}
		prev = s.At
	}
	return xys
}

// throughputPlot draws msgs/s over time for a group, with the kill and
// restart of any failover result marked.
func throughputPlot(results []*load.Result, g group) *plot.Plot {
	pl := newPlot(titled("Throughput", g), "time since start (s)", "acknowledged msgs/s")
	lines, entries, ymax := make([]plotter.XYs, len(g.members)), 0, 0.0
	for k, i := range g.members {
		lines[k] = throughputPoints(results[i].Seconds)
		for _, p := range lines[k] {
			ymax = math.Max(ymax, p.Y)
		}
		entries++
		if results[i].Failover != nil {
			entries += 2
		}
	}
	top := headroom(ymax, entries)
	for k, i := range g.members {
		if len(lines[k]) > 0 {
			addLine(pl, results[i].Name, lines[k], lineStyle(k))
		}
		if f := results[i].Failover; f != nil {
			failoverMarkers(pl, f, top, lineStyle(k).Color)
		}
	}
	setLinearAxes(pl, top)
	return pl
}

// setLinearAxes starts both axes at 0, ends y at top, and gives them
// round ticks; the legend goes top right, in the headroom.
func setLinearAxes(pl *plot.Plot, top float64) {
	pl.X.Min, pl.Y.Min, pl.Y.Max = 0, 0, top
	pl.X.Tick.Marker, pl.Y.Tick.Marker = roundTicks{}, roundTicks{}
	pl.Legend.Top, pl.Legend.XOffs = true, -vg.Points(6)
}

// roundTicks marks a linear axis every 1, 2 or 5 times a power of ten,
// about eight times, labelled without trailing zeros ("2500", "0.5").
type roundTicks struct{}

// Ticks implements plot.Ticker.
func (roundTicks) Ticks(lo, hi float64) []plot.Tick {
	step := roundStep((hi - lo) / 8)
	if step <= 0 || math.IsInf(step, 0) || math.IsNaN(step) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'f', -1, 64)}}
	}
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for n := math.Ceil(lo / step); n*step <= hi+step*1e-9; n++ {
		v := n * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
	}
	return ticks
}

// roundStep returns the smallest of 1, 2, 5 times a power of ten that is
// at least raw.
func roundStep(raw float64) float64 {
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}
