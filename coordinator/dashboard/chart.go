package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/superstep/superstep/coordinator"
)

// Step is one finished vertex superstep of a Pregel stage.
type Step struct {
	Superstep        int
	Active, Messages int64
	Millis           int64 // from its start to its end
}

// PregelSteps returns, per Pregel stage, its finished vertex supersteps in
// order (a rerun after a rollback replaces the superstep's earlier run).
func PregelSteps(evs []coordinator.Event) map[int][]Step {
	out := map[int][]Step{}
	start := map[int]int64{}
	for _, e := range evs {
		switch e.Kind {
		case coordinator.EventSuperstepStarted:
			start[e.Stage] = e.UnixMs
		case coordinator.EventRollback:
			steps := out[e.Stage]
			for len(steps) > 0 && steps[len(steps)-1].Superstep >= e.Superstep {
				steps = steps[:len(steps)-1]
			}
			out[e.Stage] = steps
		case coordinator.EventSuperstepFinished:
			out[e.Stage] = append(out[e.Stage], Step{Superstep: e.Superstep, Active: e.Active, Messages: e.Messages,
				Millis: e.UnixMs - start[e.Stage]})
		}
	}
	return out
}

// ChartSVG draws the active vertices and the messages of each vertex
// superstep: one point (circle.point) per superstep and series, on a log
// scale when the values span more than two decades.
func ChartSVG(stage int, steps []Step) template.HTML {
	if len(steps) == 0 {
		return template.HTML(`<p>No vertex superstep has finished yet.</p>`)
	}
	const w, h, left, bottom, top = 560.0, 220.0, 60.0, 28.0, 12.0
	var hi float64 = 1
	lo := math.Inf(1)
	for _, s := range steps {
		for _, v := range []int64{s.Active, s.Messages} {
			hi = max(hi, float64(v))
			if v > 0 {
				lo = min(lo, float64(v))
			}
		}
	}
	logScale := lo > 0 && hi/lo > 100
	yOf := func(v int64) float64 {
		f := float64(v) / hi
		if logScale {
			if v <= 0 {
				return h - bottom
			}
			f = (math.Log10(float64(v)) - math.Log10(lo)) / max(math.Log10(hi)-math.Log10(lo), 1e-9)
		}
		return h - bottom - f*(h-bottom-top)
	}
	xOf := func(i int) float64 {
		if len(steps) == 1 {
			return left + (w-left-10)/2
		}
		return left + float64(i)*(w-left-10)/float64(len(steps)-1)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="chart-%d" viewBox="0 0 %.0f %.0f" width="100%%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`, stage, w, h)
	fmt.Fprintf(&b, `<title id="chart-%d">Superstep %d: active vertices and messages per vertex superstep</title>`, stage, stage+1)
	fmt.Fprintf(&b, `<line class="axis-line" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, left, h-bottom, w-10, h-bottom)
	fmt.Fprintf(&b, `<text class="axis" x="4" y="%.0f">%d</text><text class="axis" x="4" y="%.0f">%s</text>`, top+4, int64(hi), h-bottom, map[bool]string{true: fmt.Sprint(int64(lo)), false: "0"}[logScale])
	series := []struct {
		name string
		get  func(Step) int64
	}{{"active", func(s Step) int64 { return s.Active }}, {"messages", func(s Step) int64 { return s.Messages }}}
	for _, se := range series {
		var pts []string
		for i, s := range steps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i), yOf(se.get(s))))
		}
		fmt.Fprintf(&b, `<polyline class="series %s" points="%s"/>`, se.name, strings.Join(pts, " "))
		for i, s := range steps {
			fmt.Fprintf(&b, `<circle class="point %s" data-superstep="%d" cx="%.1f" cy="%.1f" r="3"><title>vertex superstep %d: %d %s</title></circle>`,
				se.name, s.Superstep, xOf(i), yOf(se.get(s)), s.Superstep+1, se.get(s), se.name)
		}
	}
	for i, s := range steps {
		if len(steps) <= 20 || i%((len(steps)+19)/20) == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">%d</text>`, xOf(i), h-8, s.Superstep+1)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
