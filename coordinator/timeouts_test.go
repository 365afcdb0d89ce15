package coordinator

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestTimeoutConfigValidate(t *testing.T) {
	if err := DefaultTimeoutConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []TimeoutConfig{{Floor: -time.Second, Multiplier: 4}, {Floor: time.Second, Multiplier: 0.5}} {
		if err := c.Validate(); !errors.Is(err, ErrBadTimeoutConfig) {
			t.Errorf("%+v: %v, want ErrBadTimeoutConfig", c, err)
		}
	}
}

// Overdue's bar, from the fixture's nine commits (median 1.4 s) and task 9
// running on w3 since t0: the floor alone without a median, else the
// larger of the floor and k x the median, doubled per earlier timeout.
func TestOverdue(t *testing.T) {
	took := []time.Duration{}
	for i := range 9 {
		took = append(took, time.Duration(1000+100*i)*time.Millisecond) // median 1.4 s
	}
	h, clock, t0 := speculationFixture(t, took)
	late := attempt("j", 0, 9, 0)
	cfg := TimeoutConfig{Floor: 2 * time.Second, Multiplier: 4}
	for _, c := range []struct {
		at   time.Duration
		cfg  TimeoutConfig
		want time.Duration // the timeout passed; 0: not overdue
	}{
		{5500 * time.Millisecond, cfg, 0},                       // 5.5 s < 4 x 1.4 s
		{5700 * time.Millisecond, cfg, 5600 * time.Millisecond}, // past 5.6 s
		{7 * time.Second, TimeoutConfig{Floor: 6 * time.Second, Multiplier: 4}, 6 * time.Second},
		{time.Hour, TimeoutConfig{Multiplier: 4}, 0}, // a zero floor disables timeouts
	} {
		got := Overdue(h.s, c.cfg, clock.Snapshot(), nil, t0.Add(c.at))
		switch {
		case c.want == 0 && len(got) != 0:
			t.Fatalf("at +%s with %+v: %+v, want none", c.at, c.cfg, got)
		case c.want != 0 && (len(got) != 1 || got[0].AttemptID != late || got[0].Worker != "w3" ||
			got[0].Timeout != c.want || got[0].Age != c.at):
			t.Fatalf("at +%s with %+v: %+v, want %s past %s", c.at, c.cfg, got, late, c.want)
		}
	}
	// A new leader's clock does not know the attempt: it times out from
	// when that leader adopted it.
	adopted := map[AttemptID]time.Time{late: t0.Add(time.Minute)}
	if got := Overdue(h.s, cfg, NewAttemptClock().Snapshot(), adopted, t0.Add(time.Minute+time.Second)); len(got) != 0 {
		t.Fatalf("adopted a second ago: %+v", got)
	}
	if got := Overdue(h.s, cfg, NewAttemptClock().Snapshot(), adopted, t0.Add(time.Minute+3*time.Second)); len(got) != 1 ||
		got[0].Timeout != 2*time.Second {
		t.Fatalf("adopted 3 s ago, no median in the new clock: %+v, want the 2 s floor", got)
	}
	// The timeout applies; the next attempt's bar doubles.
	r := h.apply(TaskFailed{AttemptID: late, Worker: "w3", Error: "timed out", ErrorKind: KindLost, Timeout: true})
	task := h.s.Job("j").Task(0, 9)
	if len(r.Phases) != 0 || task.Timeouts != 1 || task.Failures != 0 || !task.Attempts[0].TimedOut ||
		task.Attempts[0].State != AttemptLost || h.s.Worker("w3").Failures != 1 {
		t.Fatalf("after the timeout: %+v, task %+v, w3 %+v", r, task, h.s.Worker("w3"))
	}
	as := Schedule(h.s, h.s.FreeSlots())
	if len(as) != 1 || as[0].Worker == "w3" {
		t.Fatalf("retry %+v: want one, not on w3", as)
	}
	retry := h.apply(as[0].Command())
	if retry.Err != nil {
		t.Fatal(retry.Err)
	}
	t1 := t0.Add(10 * time.Second)
	clock.Started(as[0].AttemptID, t1)
	if got := Overdue(h.s, cfg, clock.Snapshot(), nil, t1.Add(11*time.Second)); len(got) != 0 {
		t.Fatalf("retry overdue at 11 s: %+v, want its timeout doubled to 11.2 s", got)
	}
	if got := Overdue(h.s, cfg, clock.Snapshot(), nil, t1.Add(11300*time.Millisecond)); len(got) != 1 || got[0].Timeout != 11200*time.Millisecond {
		t.Fatalf("retry: %+v, want overdue past 2 x 5.6 s", got)
	}
}

// A task that times out MaxAttempts times fails the job (it does not loop
// as lost attempts would).
func TestTimeoutsFailJob(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 1)
	h.worker("w2", 1)
	j := h.submit("j", twoStageSpec(1, 1))
	for i, w := range []WorkerID{"w1", "w2", "w1"} {
		a := h.assign("j", 0, 0, w)
		r := h.apply(TaskFailed{AttemptID: a, Worker: w, Error: "timed out", ErrorKind: KindLost, Timeout: true})
		if want := i == 2; want != (j.Phase == JobFailed) {
			t.Fatalf("after timeout %d: job %s %q, %+v", i+1, j.Phase, j.Error, r)
		}
	}
	if j.ErrorKind != KindUser || j.Stages[0].Tasks[0].Timeouts != 3 {
		t.Fatalf("job %s kind %s: %s", j.Phase, j.ErrorKind, j.Error)
	}
	checkInvariants(t, h.s)
}

// A pinned Pregel superstep that times out rolls the stage back, so that
// the partition can move off the slow worker; Overdue gives Pregel stages
// the floor only.
func TestPregelTimeoutRollsBack(t *testing.T) {
	h, j := startIteration(t, 2, 100, 2)
	it := j.Iteration(1)
	for range 3 {
		h.step("j", 1, checkpointing(h, 2))
	}
	if !it.Pinned() {
		t.Fatalf("not pinned: %+v", it)
	}
	clock := NewAttemptClock()
	t0 := time.Unix(1000, 0)
	var running []AttemptID
	for _, a := range Schedule(h.s, h.s.FreeSlots()) {
		h.apply(a.Command())
		clock.Started(a.AttemptID, t0)
		running = append(running, a.AttemptID)
	}
	// A huge measured commit of the stage would raise the bar of another
	// stage; a Pregel stage keeps the floor.
	clock.Started(attempt("j", 1, 0, 0), t0.Add(-time.Hour))
	clock.Ended(attempt("j", 1, 0, 0), t0)
	got := Overdue(h.s, TimeoutConfig{Floor: time.Second, Multiplier: 4}, clock.Snapshot(), nil, t0.Add(2*time.Second))
	if len(got) != len(running) || got[0].Timeout != time.Second {
		t.Fatalf("overdue %+v, want %v at the 1 s floor", got, running)
	}
	from := it.Superstep
	w := got[0].Worker
	h.apply(TaskFailed{AttemptID: got[0].AttemptID, Worker: w, Error: "timed out", ErrorKind: KindLost, Timeout: true})
	if it.Rollbacks != 1 || !it.Restore || it.Superstep != it.Checkpoint.Superstep+1 || j.Phase != JobRunning || j.Stages[1].Tasks[0].Running() {
		t.Fatalf("after the timeout at superstep %d: %+v", from, it)
	}
	checkInvariants(t, h.s)
}

// An excluded worker's Pregel partitions move: the pinned stage rolls
// back, its attempts there are lost, and the restore and later supersteps
// run elsewhere. The worker's other state stays.
func TestExcludeMovesPregelPartitions(t *testing.T) {
	h, j := startIteration(t, 2, 100, 2)
	h.worker("w3", 2)
	it := j.Iteration(1)
	for range 4 {
		h.step("j", 1, checkpointing(h, 2))
	}
	own := it.Owner(0)
	for _, a := range Schedule(h.s, h.s.FreeSlots()) {
		h.apply(a.Command())
	}
	h.apply(ExcludeWorker{Stamp: Stamp{Time: 1000}, Worker: own, UntilMs: 5000, Reason: "test"})
	w := h.s.Worker(own)
	if !w.Excluded(4999) || w.Excluded(5000) || w.Running != 0 || it.Rollbacks != 1 || !it.Restore {
		t.Fatalf("after excluding %s: worker %+v, iteration %+v", own, w, it)
	}
	checkInvariants(t, h.s)
	// Excluding again while excluded, or a dead worker, does nothing.
	h.ignored(ExcludeWorker{Stamp: Stamp{Time: 2000}, Worker: own, UntilMs: 9000})
	h.reject(ExcludeWorker{Stamp: Stamp{Time: 2000}, Worker: "nobody", UntilMs: 9000}, ErrUnknownWorker)
	for it.Superstep < 7 {
		free := h.s.FreeSlots()
		delete(free, own)
		as := Schedule(h.s, free)
		if len(as) == 0 {
			t.Fatalf("nothing to schedule at superstep %d", it.Superstep)
		}
		for _, a := range as {
			h.apply(a.Command())
		}
		for _, a := range as {
			at := j.Stages[1].Tasks[a.Task].Attempts[a.Attempt]
			ir := checkpointing(h, 2)(a.Task)
			ir.Superstep = at.Superstep
			h.apply(TaskSucceeded{AttemptID: a.AttemptID, Worker: a.Worker, Report: iterReport(j, a.AttemptID, ir)})
		}
	}
	for p := range it.Partitions {
		if it.Owner(p) == own {
			t.Fatalf("partition %d still on the excluded %s: %v", p, own, owners(it))
		}
	}
	checkInvariants(t, h.s)
}

func TestExclusionConfigValidate(t *testing.T) {
	if err := DefaultExclusionConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (ExclusionConfig{}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []ExclusionConfig{{Failures: -1}, {Failures: 2}} {
		if err := c.Validate(); !errors.Is(err, ErrBadExclusionConfig) {
			t.Errorf("%+v: %v, want ErrBadExclusionConfig", c, err)
		}
	}
}

// The failure count: user failures and timeouts count, a success resets
// it, lost and permanent failures do not count; the count and the
// exclusion survive a snapshot.
func TestWorkerFailureCount(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	h.submit("j", twoStageSpec(4, 1))
	a := h.assign("j", 0, 0, "w1")
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "boom", ErrorKind: KindUser})
	a = h.assign("j", 0, 1, "w1")
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "gone", ErrorKind: KindLost})
	a = h.assign("j", 0, 2, "w1")
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "slow", ErrorKind: KindLost, Timeout: true})
	if n := h.s.Worker("w1").Failures; n != 2 {
		t.Fatalf("failures %d, want 2 (user + timeout)", n)
	}
	h.apply(ExcludeWorker{Stamp: Stamp{Time: 10}, Worker: "w1", UntilMs: 100, Reason: "r"})
	c := h.s.Clone()
	if w := c.Worker("w1"); w.Failures != 0 || w.ExcludedUntilMs != 100 || w.ExcludedReason != "r" {
		t.Fatalf("restored %+v", w)
	}
	a = h.assign("j", 0, 3, "w1")
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "boom", ErrorKind: KindUser})
	a = h.assign("j", 0, 3, "w1")
	h.succeed(a, "w1")
	if n := h.s.Worker("w1").Failures; n != 0 {
		t.Fatalf("failures %d after a success", n)
	}
	if !reflect.DeepEqual(h.s.Job("j").Task(0, 3).failedOn(), map[WorkerID]bool{"w1": true}) {
		t.Fatal("failedOn")
	}
}
