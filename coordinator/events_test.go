package coordinator

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// eventRecorder applies commands through a harness and derives their
// events as the server does, one raft index per command.
type eventRecorder struct {
	h      *harness
	d      *EventDeriver
	index  uint64
	events []Event
}

func newEventRecorder(t *testing.T) *eventRecorder {
	return &eventRecorder{h: newHarness(t), d: NewEventDeriver()}
}

func (r *eventRecorder) apply(c Command) Result {
	r.h.t.Helper()
	res := r.h.apply(c)
	r.index++
	r.events = append(r.events, r.d.Derive(r.h.s, c, res, r.index, int64(r.index)*10)...)
	return res
}

func (r *eventRecorder) assign(job JobID, stage, task int, w WorkerID) AttemptID {
	a := attempt(job, stage, task, len(r.h.s.Job(job).Task(stage, task).Attempts))
	r.apply(AssignTask{AttemptID: a, Worker: w})
	return a
}

func (r *eventRecorder) succeed(a AttemptID, w WorkerID) {
	r.apply(TaskSucceeded{AttemptID: a, Worker: w, Report: report(r.h.s.Job(a.Job), a)})
}

func describe(evs []Event) []string {
	var out []string
	for _, e := range evs {
		s := e.Kind.String()
		if e.Stage >= 0 {
			s += fmt.Sprintf(" s%d", e.Stage)
		}
		if e.Task >= 0 {
			s += fmt.Sprintf(" t%d", e.Task)
		}
		if e.Attempt >= 0 && e.Kind != EventTaskUncommitted {
			s += fmt.Sprintf(" a%d", e.Attempt)
		}
		if e.Phase != "" {
			s += " " + string(e.Phase)
		}
		if e.Worker != "" && e.Kind == EventWorkerLost {
			s += " " + string(e.Worker)
		}
		out = append(out, s)
	}
	return out
}

// TestEventsOfAJob derives the events of a job with a failed attempt and a
// worker lost with a running attempt and a needed output, and checks them
// against the sequence worked out by hand from the commands.
func TestEventsOfAJob(t *testing.T) {
	r := newEventRecorder(t)
	r.h.worker("w1", 4)
	r.h.worker("w2", 4)
	r.apply(SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(2, 1), Fingerprint: fp})
	a0 := r.assign("j", 0, 0, "w1")
	a1 := r.assign("j", 0, 1, "w2")
	r.apply(TaskFailed{AttemptID: a1, Worker: "w2", Error: "boom"})
	a1b := r.assign("j", 0, 1, "w2")
	r.succeed(a0, "w1")
	r.succeed(a1b, "w2")
	r.assign("j", 1, 0, "w2")
	r.apply(WorkerDead{Worker: "w2", Reason: "gone"})
	c1 := r.assign("j", 0, 1, "w1")
	r.succeed(c1, "w1")
	b1 := r.assign("j", 1, 0, "w1")
	r.succeed(b1, "w1")
	r.apply(FinishJob{Job: "j"})
	got := describe(r.events)
	want := []string{
		"state_changed running",
		"stage_started s0", "attempt_started s0 t0 a0",
		"attempt_started s0 t1 a0",
		"attempt_failed s0 t1 a0",
		"attempt_retried s0 t1 a1",
		"attempt_succeeded s0 t0 a0", "task_committed s0 t0 a0",
		"attempt_succeeded s0 t1 a1", "task_committed s0 t1 a1", "stage_finished s0",
		"stage_started s1", "attempt_started s1 t0 a0",
		"worker_lost w2", "task_uncommitted s0 t1", "attempt_failed s1 t0 a0",
		"attempt_retried s0 t1 a2",
		"attempt_succeeded s0 t1 a2", "task_committed s0 t1 a2", "stage_finished s0",
		"attempt_retried s1 t0 a1",
		"attempt_succeeded s1 t0 a1", "task_committed s1 t0 a1", "stage_finished s1", "state_changed committing",
		"state_changed succeeded",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	checkKeys(t, r.events)
	for _, e := range r.events {
		if e.Kind == EventAttemptFailed && e.Lost != (e.Stage == 1) {
			t.Fatalf("%s s%d: lost %v", e.Kind, e.Stage, e.Lost)
		}
	}
	// The stage totals: every committed attempt reports 1 record in and out.
	for _, e := range r.events {
		if e.Kind == EventStageFinished && e.Stage == 0 && e.Counters.RecordsIn != 2 {
			t.Fatalf("stage 0 finished with %d records in, want 2", e.Counters.RecordsIn)
		}
	}

	// Determinism: another coordinator applying the same log derives the
	// same events; one that restored a snapshot mid-way derives the same
	// events from there on.
	again := newEventRecorder(t)
	const resetAt = 9 // after the first commit of stage 0
	for _, c := range r.h.log {
		if c.Kind() == (RegisterWorker{}).Kind() {
			again.h.apply(c)
			continue
		}
		again.apply(c)
		if again.index == resetAt {
			again.d = NewEventDeriver()
			again.d.Reset(again.h.s.Clone())
		}
	}
	if !reflect.DeepEqual(again.events, r.events) {
		t.Fatalf("replay derived other events:\n%s\nwant\n%s", strings.Join(describe(again.events), "\n"), strings.Join(describe(r.events), "\n"))
	}
}

func checkKeys(t *testing.T, evs []Event) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if !evs[i-1].Key.Less(evs[i].Key) {
			t.Fatalf("event %d key %v not after %v", i, evs[i].Key, evs[i-1].Key)
		}
	}
}
