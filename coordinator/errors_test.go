package coordinator

import (
	"errors"
	"testing"
)

// TestPermanentFailsAtOnce: a permanent failure ends the job after the one
// attempt, with its kind and input location; a cancelled attempt counts as
// lost; the job's times are the stamps of the commands.
func TestPermanentFailsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	h.apply(SubmitJob{Stamp: Stamp{Time: 1000}, Job: "j", Name: "job", Spec: twoStageSpec(2, 1), Fingerprint: fp})
	j := h.s.Job("j")
	a := h.assign("j", 0, 0, "w1")
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "stopped", ErrorKind: KindCancelled})
	if j.Phase != JobRunning || j.Stages[0].Tasks[0].Failures != 0 {
		t.Fatalf("a cancelled attempt counted: %s, %d failures", j.Phase, j.Stages[0].Tasks[0].Failures)
	}
	a = h.assign("j", 0, 0, "w1")
	at := Location{Path: "/in/x.jsonl", Line: 4}
	r := h.apply(TaskFailed{Stamp: Stamp{Time: 5000}, AttemptID: a, Worker: "w1", Error: "x.jsonl:4: bad", ErrorKind: KindPermanent, At: at})
	if len(r.Phases) != 1 || r.Phases[0].Phase != JobFailed || j.Stages[0].Tasks[0].Failures != 1 {
		t.Fatalf("phases %+v, failures %d", r.Phases, j.Stages[0].Tasks[0].Failures)
	}
	err := j.Err()
	var je *JobError
	if !errors.Is(err, ErrPermanent) || !errors.Is(err, ErrJobFailed) || !errors.As(err, &je) || je.At != at || je.Kind != KindPermanent {
		t.Fatalf("job error %#v", err)
	}
	if j.SubmittedMs != 1000 || j.EndedMs != 5000 {
		t.Fatalf("submitted %d ended %d, want the command stamps 1000 and 5000", j.SubmittedMs, j.EndedMs)
	}
	h.reject(TaskFailed{AttemptID: a, Worker: "w1", ErrorKind: "nonsense"}, ErrBadCommand)
	checkInvariants(t, h.s)
}

// TestRestoreLegacyErrorKind: a snapshot from before error kinds (kind
// "failed") restores as a user error.
func TestRestoreLegacyErrorKind(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 1)
	h.apply(SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(1, 1), Fingerprint: fp, MaxAttempts: 1})
	a := h.assign("j", 0, 0, "w1")
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "boom"})
	h.s.Job("j").ErrorKind = "failed"
	b, err := h.s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	s, err := RestoreState(b)
	if err != nil {
		t.Fatal(err)
	}
	if j := s.Job("j"); j.ErrorKind != KindUser || !errors.Is(j.Err(), ErrJobFailed) || errors.Is(j.Err(), ErrPermanent) {
		t.Fatalf("restored kind %q err %v", j.ErrorKind, j.Err())
	}
}

// TestFencing: once the state has applied an assignment of term 2, an
// assignment or a commit of term 1 (a deposed leader) is rejected and
// changes nothing.
func TestFencing(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	h.submit("j", twoStageSpec(2, 1))
	h.apply(AssignTask{AttemptID: attempt("j", 0, 0, 0), Worker: "w1", Term: 2})
	h.reject(AssignTask{AttemptID: attempt("j", 0, 1, 0), Worker: "w1", Term: 1}, ErrStaleTerm)
	h.reject(FinishJob{Job: "j", Term: 1}, ErrStaleTerm)
	h.apply(AssignTask{AttemptID: attempt("j", 0, 1, 0), Worker: "w1", Term: 3})
	if h.s.Term != 3 {
		t.Fatalf("state term %d, want 3", h.s.Term)
	}
}
