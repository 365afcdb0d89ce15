package dashboard

import (
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/superstep/superstep/coordinator"
)

// Bar is one task attempt on the timeline.
type Bar struct {
	Stage, Task, Attempt, Superstep int
	Worker                          string
	Lane                            int    // row: a slot of the worker
	Start, End                      int64  // Unix ms; End is the job's now while running
	Result                          string // running, succeeded, failed, lost
	Kind                            string // first, retry, speculative
	// Won marks the attempt that committed a task that had a speculative
	// copy: the winner of the race (the copy or the original).
	Won bool
}

// Lane is one row of the timeline: one slot of one worker.
type Lane struct {
	Worker string
	Slot   int
}

// Timeline is the Gantt of a job's attempts, laid out from its events.
type Timeline struct {
	Start, End int64
	Lanes      []Lane
	Bars       []Bar
	// Stages are the supersteps' spans (first attempt to barrier).
	Stages []Span
	// Waits are the barrier waits: a lane idle from its last attempt of a
	// superstep until the superstep's barrier.
	Waits []Wait
}

// Span is a superstep's time on the timeline.
type Span struct {
	Stage      int
	Start, End int64
}

// Wait is one lane's wait at a barrier.
type Wait struct {
	Lane, Stage int
	Start, End  int64
}

// BuildTimeline lays out the attempts of a job's events: each attempt on
// the first slot of its worker free when it started. now ends the bars of
// attempts still running.
func BuildTimeline(evs []coordinator.Event, now int64) *Timeline {
	tl := &Timeline{}
	type key struct{ stage, task, attempt int }
	open := map[key]int{} // running bar index
	bars := map[key]int{} // every bar's index
	raced := map[[2]int]bool{}
	stageSpan := map[int]*Span{}
	for _, e := range evs {
		if tl.Start == 0 || e.UnixMs < tl.Start {
			tl.Start = e.UnixMs
		}
		tl.End = max(tl.End, e.UnixMs)
		k := key{e.Stage, e.Task, e.Attempt}
		switch e.Kind {
		case coordinator.EventAttemptStarted, coordinator.EventAttemptRetried, coordinator.EventAttemptSpeculated:
			kind := map[coordinator.EventKind]string{coordinator.EventAttemptStarted: "first",
				coordinator.EventAttemptRetried: "retry", coordinator.EventAttemptSpeculated: "speculative"}[e.Kind]
			if kind == "speculative" {
				raced[[2]int{e.Stage, e.Task}] = true
			}
			open[k] = len(tl.Bars)
			bars[k] = len(tl.Bars)
			tl.Bars = append(tl.Bars, Bar{Stage: e.Stage, Task: e.Task, Attempt: e.Attempt, Superstep: e.Superstep,
				Worker: string(e.Worker), Start: e.UnixMs, End: -1, Result: "running", Kind: kind})
		case coordinator.EventAttemptSucceeded, coordinator.EventAttemptFailed:
			i, ok := open[k]
			if !ok {
				continue
			}
			delete(open, k)
			tl.Bars[i].End = e.UnixMs
			switch {
			case e.Kind == coordinator.EventAttemptSucceeded:
				tl.Bars[i].Result = "succeeded"
			case e.Lost:
				tl.Bars[i].Result = "lost"
			default:
				tl.Bars[i].Result = "failed"
			}
		case coordinator.EventTaskCommitted:
			if i, ok := bars[k]; ok && raced[[2]int{e.Stage, e.Task}] {
				tl.Bars[i].Won = true
			}
		case coordinator.EventStageStarted:
			stageSpan[e.Stage] = &Span{Stage: e.Stage, Start: e.UnixMs, End: -1}
		case coordinator.EventStageFinished:
			if sp := stageSpan[e.Stage]; sp != nil {
				sp.End = e.UnixMs
			}
		}
	}
	if len(open) > 0 {
		tl.End = max(tl.End, now)
	}
	for i := range tl.Bars {
		if tl.Bars[i].End < 0 {
			tl.Bars[i].End = tl.End
		}
	}
	// Lanes: per worker, an attempt takes the lowest slot free at its start.
	order := make([]int, len(tl.Bars))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tl.Bars[order[a]].Start < tl.Bars[order[b]].Start })
	busyUntil := map[string][]int64{}
	laneSlot := map[string][]int{}
	for _, i := range order {
		b := &tl.Bars[i]
		slots := busyUntil[b.Worker]
		slot := -1
		for s, until := range slots {
			if until <= b.Start {
				slot = s
				break
			}
		}
		if slot < 0 {
			slot = len(slots)
			busyUntil[b.Worker] = append(slots, 0)
			laneSlot[b.Worker] = append(laneSlot[b.Worker], -1)
		}
		busyUntil[b.Worker][slot] = max(b.End, b.Start+1)
		b.Lane = slot // worker-local for now
	}
	workers := make([]string, 0, len(busyUntil))
	for w := range busyUntil {
		workers = append(workers, w)
	}
	sort.Strings(workers)
	first := map[string]int{}
	for _, w := range workers {
		first[w] = len(tl.Lanes)
		for s := range busyUntil[w] {
			tl.Lanes = append(tl.Lanes, Lane{Worker: w, Slot: s})
		}
	}
	for i := range tl.Bars {
		tl.Bars[i].Lane += first[tl.Bars[i].Worker]
	}
	// Stages and the barrier waits in them.
	for _, sp := range stageSpan {
		if sp.End < 0 {
			sp.End = tl.End
		}
		tl.Stages = append(tl.Stages, *sp)
	}
	sort.Slice(tl.Stages, func(a, b int) bool { return tl.Stages[a].Stage < tl.Stages[b].Stage })
	lastEnd := map[[2]int]int64{}
	for _, b := range tl.Bars {
		k := [2]int{b.Lane, b.Stage}
		lastEnd[k] = max(lastEnd[k], b.End)
	}
	for _, sp := range tl.Stages {
		if sp.End <= sp.Start {
			continue
		}
		for lane := range tl.Lanes {
			if end, ok := lastEnd[[2]int{lane, sp.Stage}]; ok && end < sp.End {
				tl.Waits = append(tl.Waits, Wait{Lane: lane, Stage: sp.Stage, Start: end, End: sp.End})
			}
		}
	}
	return tl
}

// SVG geometry.
const (
	laneHeight = 18
	labelWidth = 190
	plotWidth  = 760
	axisHeight = 22
)

// SVG renders the timeline: a row per worker slot, a bar per attempt
// (class attempt plus its result and kind), the barrier waits hatched, and
// the supersteps' spans as labelled bands.
func (tl *Timeline) SVG() template.HTML {
	if len(tl.Bars) == 0 {
		return template.HTML(`<p>No task attempt has started yet.</p>`)
	}
	span := max(tl.End-tl.Start, 1)
	x := func(t int64) float64 { return labelWidth + float64(t-tl.Start)*plotWidth/float64(span) }
	y := func(lane int) int { return axisHeight + lane*laneHeight }
	h := axisHeight + len(tl.Lanes)*laneHeight + 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" role="img" aria-labelledby="tl-title" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`,
		labelWidth+plotWidth+10, h)
	b.WriteString(`<title id="tl-title">Superstep timeline: task attempts per worker slot</title>`)
	b.WriteString(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#aaa" stroke-width="2"/></pattern></defs>`)
	for i, sp := range tl.Stages {
		cls := "stage-band"
		if i%2 == 1 {
			cls += " odd"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="0" width="%.1f" height="%d"/>`, cls, x(sp.Start), max(x(sp.End)-x(sp.Start), 1), h)
		fmt.Fprintf(&b, `<text class="stage-label" x="%.1f" y="14">%d</text>`, x(sp.Start)+2, sp.Stage+1)
	}
	for i, l := range tl.Lanes {
		fmt.Fprintf(&b, `<text class="lane-label" x="4" y="%d">%s slot %d</text>`, y(i)+13, template.HTMLEscapeString(short(l.Worker, 22)), l.Slot+1)
	}
	for _, w := range tl.Waits {
		fmt.Fprintf(&b, `<rect class="wait" x="%.1f" y="%d" width="%.1f" height="%d" fill="url(#hatch)"><title>barrier wait of superstep %d: %d ms</title></rect>`,
			x(w.Start), y(w.Lane)+3, max(x(w.End)-x(w.Start), 0.5), laneHeight-6, w.Stage+1, w.End-w.Start)
	}
	for _, bar := range tl.Bars {
		label := fmt.Sprintf("superstep %d partition %d attempt %d", bar.Stage+1, bar.Task, bar.Attempt+1)
		if bar.Superstep > 0 {
			label += fmt.Sprintf(" (vertex superstep %d)", bar.Superstep+1)
		}
		cls, won := "", ""
		if bar.Won {
			cls, won = " won", ", won the speculative race"
		}
		fmt.Fprintf(&b, `<rect class="attempt %s %s%s" data-stage="%d" data-task="%d" data-attempt="%d" x="%.1f" y="%d" width="%.1f" height="%d"><title>%s on %s: %s, %d ms (%s%s)</title></rect>`,
			bar.Result, bar.Kind, cls, bar.Stage, bar.Task, bar.Attempt, x(bar.Start), y(bar.Lane)+2, max(x(bar.End)-x(bar.Start), 1.5),
			laneHeight-4, label, template.HTMLEscapeString(bar.Worker), bar.Result, bar.End-bar.Start, bar.Kind, won)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d">0</text><text class="axis" x="%d" y="%d" text-anchor="end">%d ms</text>`,
		labelWidth, h-1, labelWidth+plotWidth, h-1, span)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
