package dashboard

import (
	"strings"
	"testing"

	"github.com/superstep/superstep/coordinator"
)

func at(kind coordinator.EventKind, ms int64, stage, task, attempt int, w string) coordinator.Event {
	return coordinator.Event{Kind: kind, UnixMs: ms, Stage: stage, Task: task, Attempt: attempt, Worker: coordinator.WorkerID(w)}
}

// TestTimelineLayout lays out a hand-made superstep: worker a runs two
// attempts at once (two slots) and then a third after the first ended
// (back in slot 1); worker b's attempt fails and is retried on a. The bars,
// lanes and barrier waits are worked out by hand.
func TestTimelineLayout(t *testing.T) {
	const S, A, R, F = coordinator.EventAttemptStarted, coordinator.EventAttemptSucceeded, coordinator.EventAttemptRetried, coordinator.EventAttemptFailed
	evs := []coordinator.Event{
		{Kind: coordinator.EventStageStarted, UnixMs: 100, Stage: 0, Task: -1, Attempt: -1},
		at(S, 100, 0, 0, 0, "a"), at(S, 100, 0, 1, 0, "a"), at(S, 100, 0, 2, 0, "b"),
		at(A, 150, 0, 0, 0, "a"), at(S, 150, 0, 3, 0, "a"),
		at(F, 160, 0, 2, 0, "b"), at(R, 170, 0, 2, 1, "a"),
		at(A, 200, 0, 1, 0, "a"), at(A, 220, 0, 3, 0, "a"), at(A, 260, 0, 2, 1, "a"),
		{Kind: coordinator.EventStageFinished, UnixMs: 260, Stage: 0, Task: -1, Attempt: -1},
	}
	tl := BuildTimeline(evs, 1000)
	if len(tl.Bars) != 5 {
		t.Fatalf("%d bars, want 5", len(tl.Bars))
	}
	want := []struct {
		lane       int
		start, end int64
		result     string
		kind       string
	}{
		{0, 100, 150, "succeeded", "first"}, // a slot 1
		{1, 100, 200, "succeeded", "first"}, // a slot 2
		{3, 100, 160, "failed", "first"},    // b slot 1 (lanes: a1 a2 a3 b1)
		{0, 150, 220, "succeeded", "first"}, // a slot 1 again
		{2, 170, 260, "succeeded", "retry"}, // a needs a third slot at 170
	}
	for i, w := range want {
		b := tl.Bars[i]
		if b.Lane != w.lane || b.Start != w.start || b.End != w.end || b.Result != w.result || b.Kind != w.kind {
			t.Errorf("bar %d: %+v, want %+v", i, b, w)
		}
	}
	if len(tl.Lanes) != 4 || tl.Lanes[3] != (Lane{Worker: "b", Slot: 0}) {
		t.Fatalf("lanes %+v", tl.Lanes)
	}
	// Waits: a1 idles 220→260, a2 200→260, b1 160→260; a3 ends at the barrier.
	got := map[int][2]int64{}
	for _, w := range tl.Waits {
		got[w.Lane] = [2]int64{w.Start, w.End}
	}
	if len(got) != 3 || got[0] != [2]int64{220, 260} || got[1] != [2]int64{200, 260} || got[3] != [2]int64{160, 260} {
		t.Fatalf("waits %+v", tl.Waits)
	}
	svg := string(tl.SVG())
	if n := strings.Count(svg, `class="attempt `); n != 5 || !strings.Contains(svg, `class="attempt failed first"`) ||
		!strings.Contains(svg, `class="attempt succeeded retry"`) || strings.Count(svg, `class="wait"`) != 3 {
		t.Fatalf("SVG: %d attempt bars\n%s", n, svg)
	}
}

// TestTimelineMarksSpeculationWinner: task 0's first attempt straggles, a
// speculative copy commits first and the original is superseded (lost);
// task 1 is also copied but its original wins. The winners are marked,
// and only on raced tasks.
func TestTimelineMarksSpeculationWinner(t *testing.T) {
	const S, P, A, F, C = coordinator.EventAttemptStarted, coordinator.EventAttemptSpeculated, coordinator.EventAttemptSucceeded,
		coordinator.EventAttemptFailed, coordinator.EventTaskCommitted
	lost := at(F, 400, 0, 0, 0, "a")
	lost.Lost = true
	evs := []coordinator.Event{
		at(S, 100, 0, 0, 0, "a"), at(S, 100, 0, 1, 0, "a"), at(S, 100, 0, 2, 0, "b"),
		at(A, 150, 0, 2, 0, "b"), at(C, 150, 0, 2, 0, "b"),
		at(P, 300, 0, 0, 1, "b"), at(P, 300, 0, 1, 1, "c"),
		at(A, 350, 0, 1, 0, "a"), at(C, 350, 0, 1, 0, "a"),
		at(A, 400, 0, 0, 1, "b"), at(C, 400, 0, 0, 1, "b"), lost,
	}
	tl := BuildTimeline(evs, 1000)
	won := map[[2]int]bool{}
	spec := 0
	for _, b := range tl.Bars {
		if b.Won {
			won[[2]int{b.Task, b.Attempt}] = true
		}
		if b.Kind == "speculative" {
			spec++
		}
	}
	if len(won) != 2 || !won[[2]int{0, 1}] || !won[[2]int{1, 0}] || spec != 2 {
		t.Fatalf("winners %v (want task 0's copy and task 1's original), %d speculative bars (want 2)", won, spec)
	}
	svg := string(tl.SVG())
	if n := strings.Count(svg, ` won"`); n != 2 || !strings.Contains(svg, `class="attempt succeeded speculative won"`) ||
		!strings.Contains(svg, `class="attempt lost first"`) {
		t.Fatalf("SVG: %d winners\n%s", n, svg)
	}
}
