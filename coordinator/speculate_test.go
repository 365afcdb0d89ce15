package coordinator

import (
	"errors"
	"testing"
	"time"
)

// A retried task goes to another worker than the one where it failed, even
// against locality; with no other free worker it goes back.
func TestRetryAvoidsWorkerWhereTaskFailed(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 2)
	h.worker("w2", 2)
	h.submit("j", twoStageSpec(2, 2))
	// Both map outputs on w1: locality sends every reduce task there.
	for ti := range 2 {
		h.succeed(h.assign("j", 0, ti, "w1"), "w1")
	}
	as := Schedule(h.s, h.s.FreeSlots())
	if len(as) != 2 || as[0].Worker != "w1" || as[1].Worker != "w1" {
		t.Fatalf("first reduce assignments %+v, want both on w1 (locality)", as)
	}
	h.apply(as[0].Command())
	h.apply(TaskFailed{AttemptID: as[0].AttemptID, Worker: "w1", Error: "write: no space left on device"})
	as = Schedule(h.s, h.s.FreeSlots())
	if len(as) != 2 || as[0].Task != 0 || as[0].Worker != "w2" || as[1].Worker != "w1" {
		t.Fatalf("after task 0 failed on w1: %+v, want task 0 on w2 and task 1 still on w1", as)
	}
	// Only w1 has room: the retry goes there rather than waiting.
	free := map[WorkerID]int{"w1": 2}
	if as := Schedule(h.s, free); len(as) != 2 || as[0].Task != 0 || as[0].Worker != "w1" {
		t.Fatalf("with only w1 free: %+v", as)
	}
	checkInvariants(t, h.s)
}

func TestSpeculationConfigValidate(t *testing.T) {
	if err := DefaultSpeculationConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []SpeculationConfig{
		{Quantile: 0, Multiplier: 3}, {Quantile: 1.1, Multiplier: 3}, {Quantile: 0.9, Multiplier: 0.5},
		{Quantile: 0.9, Multiplier: 3, MinRuntime: -time.Second},
	} {
		if err := c.Validate(); !errors.Is(err, ErrBadSpeculationConfig) {
			t.Errorf("%+v: %v, want ErrBadSpeculationConfig", c, err)
		}
	}
}

// speculationFixture runs 10 map tasks of a job on w1..w3: nine commit
// after the durations given, task 9 is still running on w3, started at t0.
func speculationFixture(t *testing.T, took []time.Duration) (*harness, *AttemptClock, time.Time) {
	h := newHarness(t)
	for _, w := range []WorkerID{"w1", "w2", "w3"} {
		h.worker(w, 10)
	}
	h.submit("j", twoStageSpec(10, 2))
	clock := NewAttemptClock()
	t0 := time.Unix(1000, 0)
	for ti := range 10 {
		w := []WorkerID{"w1", "w2", "w3"}[ti%3]
		if ti == 9 {
			w = "w3"
		}
		a := h.assign("j", 0, ti, w)
		clock.Started(a, t0)
		if ti < len(took) {
			h.succeed(a, w)
			clock.Ended(a, t0.Add(took[ti]))
		}
	}
	return h, clock, t0
}

func TestSpeculateStraggler(t *testing.T) {
	took := []time.Duration{}
	for i := range 9 {
		took = append(took, time.Duration(1000+100*i)*time.Millisecond) // median 1.4 s
	}
	h, clock, t0 := speculationFixture(t, took)
	cfg := DefaultSpeculationConfig()
	straggler := attempt("j", 0, 9, 0)
	for _, c := range []struct {
		at   time.Duration
		cfg  func(*SpeculationConfig)
		want bool
	}{
		{4 * time.Second, nil, false},        // 4 s < 3 x 1.4 s
		{4300 * time.Millisecond, nil, true}, // 4.3 s > 4.2 s
		{4300 * time.Millisecond, func(c *SpeculationConfig) { c.Enabled = false }, false},
		{4300 * time.Millisecond, func(c *SpeculationConfig) { c.MinRuntime = 5 * time.Second }, false},
		{4300 * time.Millisecond, func(c *SpeculationConfig) { c.Quantile = 1 }, false}, // 9 of 10 < 100 %
		{3 * time.Second, func(c *SpeculationConfig) { c.Multiplier = 2 }, true},
	} {
		cf := cfg
		if c.cfg != nil {
			c.cfg(&cf)
		}
		got := Speculate(h.s, cf, clock.Snapshot(), t0.Add(c.at))
		if c.want != (len(got) == 1) || len(got) > 1 {
			t.Fatalf("at +%s with %+v: %+v, want straggler %v", c.at, cf, got, c.want)
		}
		if c.want && (got[0].AttemptID != straggler || got[0].Worker != "w3" || got[0].Median != 1400*time.Millisecond) {
			t.Fatalf("at +%s: %+v", c.at, got[0])
		}
	}
	st := Speculate(h.s, cfg, clock.Snapshot(), t0.Add(5*time.Second))[0]
	if w := SpeculationTarget(h.s, st, h.s.FreeSlots()); w != "w1" {
		t.Fatalf("copy goes to %q, want w1 (most free slots, not w3)", w)
	}
	if w := SpeculationTarget(h.s, st, map[WorkerID]int{"w3": 5}); w != "" {
		t.Fatalf("copy goes to %q with only the straggler's worker free", w)
	}
	// Copied once: no second copy.
	clock.Copied(st.TaskID)
	if got := Speculate(h.s, cfg, clock.Snapshot(), t0.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("a copied task was speculated again: %+v", got)
	}
	// A new leader's empty clock knows no ages: nothing is speculated.
	if got := Speculate(h.s, cfg, NewAttemptClock().Snapshot(), t0.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("speculated with an empty clock: %+v", got)
	}
	clock.ForgetJob("j")
	if s := clock.Snapshot(); len(s.Start)+len(s.Took)+len(s.Copied) != 0 {
		t.Fatalf("ForgetJob left %+v", s)
	}
}

// Below the quantile nothing is speculated, however slow.
func TestSpeculateWaitsForQuantile(t *testing.T) {
	h, clock, t0 := speculationFixture(t, []time.Duration{time.Second, time.Second})
	if got := Speculate(h.s, DefaultSpeculationConfig(), clock.Snapshot(), t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("2 of 10 committed: %+v", got)
	}
}

func TestMedianOf(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{{[]time.Duration{3, 1, 2}, 2}, {[]time.Duration{4, 1, 3, 2}, 2}, {[]time.Duration{7}, 7}} {
		if got := medianOf(c.in); got != c.want {
			t.Errorf("median %v = %v, want %v", c.in, got, c.want)
		}
	}
}

// A speculative copy runs beside its straggler; the first to succeed
// commits and the other is superseded (ended as lost, named for the
// leader to cancel); its late report is ignored.
func TestSpeculativeAttemptRace(t *testing.T) {
	for _, copyWins := range []bool{true, false} {
		h := newHarness(t)
		h.worker("w1", 2)
		h.worker("w2", 2)
		j := h.submit("j", twoStageSpec(2, 1))
		slow := h.assign("j", 0, 0, "w1")
		h.succeed(h.assign("j", 0, 1, "w2"), "w2")
		// Not a copy: the task has a running attempt.
		h.reject(AssignTask{AttemptID: attempt("j", 0, 0, 1), Worker: "w2"}, ErrNotAssignable)
		// A copy on the straggler's own worker is refused.
		h.reject(AssignTask{AttemptID: attempt("j", 0, 0, 1), Worker: "w1", Speculative: true}, ErrNotAssignable)
		cp := attempt("j", 0, 0, 1)
		h.apply(AssignTask{AttemptID: cp, Worker: "w2", Speculative: true})
		checkInvariants(t, h.s)
		// One copy only.
		h.reject(AssignTask{AttemptID: attempt("j", 0, 0, 2), Worker: "w2", Speculative: true}, ErrNotAssignable)
		win, winW, lose, loseW := cp, WorkerID("w2"), slow, WorkerID("w1")
		if !copyWins {
			win, winW, lose, loseW = slow, "w1", cp, "w2"
		}
		r := h.succeed(win, winW)
		if len(r.Superseded) != 1 || r.Superseded[0].AttemptID != lose || r.Superseded[0].Worker != loseW {
			t.Fatalf("copy wins %v: superseded %+v, want %v on %s", copyWins, r.Superseded, lose, loseW)
		}
		task := j.Task(0, 0)
		if task.Committed.Attempt != win.Attempt || task.Attempts[lose.Attempt].State != AttemptLost {
			t.Fatalf("copy wins %v: committed %+v, attempts %+v", copyWins, task.Committed, task.Attempts)
		}
		h.ignored(TaskSucceeded{AttemptID: lose, Worker: loseW, Report: report(j, lose)})
		checkInvariants(t, h.s)
		if j.CurrentStage() != 1 {
			t.Fatalf("copy wins %v: stage %d after the race, want 1", copyWins, j.CurrentStage())
		}
	}
}

// Pregel stages are not speculated.
func TestNoSpeculativeCopyInPregelStage(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 2)
	h.worker("w2", 2)
	h.submit("j", pregelSpec(2, 5, 0))
	h.runStage("j") // the load stage
	j := h.s.Job("j")
	st := j.CurrentStage()
	if j.Iteration(st) == nil {
		t.Fatalf("stage %d is not the Pregel stage", st)
	}
	a := h.assign("j", st, 0, "w1")
	h.reject(AssignTask{AttemptID: attempt("j", st, 0, a.Attempt+1), Worker: "w2", Speculative: true}, ErrNotAssignable)
}

// BenchmarkSpeculate is the leader's per-tick cost of the decision on a
// running stage of 2000 tasks, 1900 committed, none straggling (the cost
// when nothing is slow).
func BenchmarkSpeculate(b *testing.B) {
	h := newHarness(b)
	for _, w := range []WorkerID{"w1", "w2", "w3", "w4"} {
		h.worker(w, 1000)
	}
	h.submit("j", twoStageSpec(2000, 4))
	clock := NewAttemptClock()
	t0 := time.Unix(1000, 0)
	for ti := range 2000 {
		w := []WorkerID{"w1", "w2", "w3", "w4"}[ti%4]
		a := h.assign("j", 0, ti, w)
		clock.Started(a, t0)
		if ti < 1900 {
			h.succeed(a, w)
			clock.Ended(a, t0.Add(time.Second))
		}
	}
	times := clock.Snapshot()
	cfg := DefaultSpeculationConfig()
	b.ResetTimer()
	for range b.N {
		if got := Speculate(h.s, cfg, times, t0.Add(2*time.Second)); len(got) != 0 {
			b.Fatalf("speculated %d", len(got))
		}
	}
}

// The assignment's command carries the speculative mark.
func TestAssignmentCommandKeepsSpeculative(t *testing.T) {
	a := Assignment{AttemptID: attempt("j", 0, 1, 1), Worker: "w2", Speculative: true}
	if c := a.Command(); !c.Speculative || c.AttemptID != a.AttemptID || c.Worker != "w2" {
		t.Fatalf("command %+v of %+v", c, a)
	}
}
