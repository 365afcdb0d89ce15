package coordinator

import (
	"errors"
	"strings"
	"testing"

	"github.com/superstep/superstep/internal/planspec"
)

func TestDecodeSpec(t *testing.T) {
	good := Spec{Version: 1, Partitions: 2, Stages: []StageSpec{
		{ID: 0, Input: SourceInput(0, 2), Tasks: 2, Output: OutputSpec{Kind: OutputShuffle, Node: 5, Partitions: 2}},
		{ID: 1, Input: InputSpec{Kind: InputShuffle, Node: 5, Sides: 1}, Tasks: 2, Output: OutputSpec{Kind: OutputSink}},
	}}
	if _, err := DecodeSpec(mustJSON(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(s *Spec)
	}{
		{"version", func(s *Spec) { s.Version = 2 }},
		{"no stages", func(s *Spec) { s.Stages = nil }},
		{"stage id", func(s *Spec) { s.Stages[1].ID = 3 }},
		{"negative tasks", func(s *Spec) { s.Stages[0].Tasks = -1 }},
		{"forward dep", func(s *Spec) { s.Stages[0].Deps = []int{1} }},
		{"bounds from non-sample", func(s *Spec) { s.Stages[1].Output.BoundsFrom = []int{0} }},
		{"no partitions", func(s *Spec) { s.Stages[0].Output.Partitions = 0 }},
		{"output kind", func(s *Spec) { s.Stages[1].Output.Kind = "tape" }},
		{"input kind", func(s *Spec) { s.Stages[0].Input.Kind = "tape" }},
		{"no producer", func(s *Spec) { s.Stages[1].Input.Node = 6 }},
		{"sides", func(s *Spec) { s.Stages[1].Input.Sides = 2 }},
		{"partition mismatch", func(s *Spec) { s.Stages[1].Tasks = 3 }},
		{"sink stage", func(s *Spec) { s.Sinks = []SinkSpec{{Stage: 9}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Stages = append([]StageSpec(nil), good.Stages...)
			tc.edit(&s)
			if _, err := DecodeSpec(mustJSON(s)); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("err %v, want ErrBadSpec", err)
			}
		})
	}
	if _, err := DecodeSpec([]byte("{")); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestBarrierOpensWhenStageCommitted(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 8)
	j := h.submit("j", twoStageSpec(3, 2))
	as := Schedule(h.s, h.s.FreeSlots())
	if len(as) != 3 {
		t.Fatalf("scheduled %d tasks, want the 3 of stage 0: %+v", len(as), as)
	}
	for _, a := range as {
		if a.Stage != 0 {
			t.Fatalf("scheduled %+v before stage 0 committed", a)
		}
		h.apply(a.Command())
	}
	// A stage-1 task cannot be assigned while stage 0 is running.
	h.reject(AssignTask{AttemptID: attempt("j", 1, 0, 0), Worker: "w1"}, ErrNotAssignable)
	for i, a := range as {
		h.succeed(a.AttemptID, a.Worker)
		if i < len(as)-1 {
			if got := j.CurrentStage(); got != 0 {
				t.Fatalf("after %d of 3 commits current stage %d", i+1, got)
			}
			if more := Schedule(h.s, h.s.FreeSlots()); len(more) != 0 {
				t.Fatalf("scheduled %+v with stage 0 incomplete", more)
			}
			h.reject(AssignTask{AttemptID: attempt("j", 1, 0, 0), Worker: "w1"}, ErrNotAssignable)
		}
	}
	if got := j.CurrentStage(); got != 1 {
		t.Fatalf("current stage %d, want 1", got)
	}
	as = Schedule(h.s, h.s.FreeSlots())
	if len(as) != 2 || as[0].Stage != 1 || as[1].Stage != 1 {
		t.Fatalf("stage 1 assignments %+v", as)
	}
	for _, a := range as {
		h.apply(a.Command())
	}
	h.succeed(as[0].AttemptID, as[0].Worker)
	r := h.succeed(as[1].AttemptID, as[1].Worker)
	if len(r.Phases) != 1 || r.Phases[0] != (PhaseChange{"j", JobCommitting}) {
		t.Fatalf("last commit phases %+v", r.Phases)
	}
	outs := h.s.CollectOutputs("j")
	if len(outs[20]) != 2 || outs[20][0].Task != 0 || outs[20][1].Addr != "addr-w1" {
		t.Fatalf("collect outputs %+v", outs)
	}
	h.reject(AssignTask{AttemptID: attempt("j", 1, 0, 1), Worker: "w1"}, ErrNotAssignable)
	h.apply(FinishJob{Job: "j"})
	if j.Phase != JobSucceeded || j.Err() != nil {
		t.Fatalf("phase %s err %v", j.Phase, j.Err())
	}
	if got := h.s.FileHolders("j"); len(got) != 1 || got[0] != "w1" {
		t.Fatalf("file holders %v", got)
	}
	h.apply(JobCleaned{Job: "j"})
	h.ignored(JobCleaned{Job: "j"})
	checkInvariants(t, h.s)
}

func TestEmptyStagesCompleteAtOnce(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 1)
	j := h.submit("j", twoStageSpec(0, 0+1))
	if j.CurrentStage() != 1 {
		t.Fatalf("current stage %d, want 1 (stage 0 has no tasks)", j.CurrentStage())
	}
}

func TestRetryLimitFailsJobWithUserError(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 1)
	h.worker("w2", 1)
	j := h.submit("j", twoStageSpec(2, 1))
	stack := "panic: boom\ngoroutine 7 [running]:\nmain.tokenize(...)"
	// Lost attempts do not count.
	for range 5 {
		a := h.assign("j", 0, 1, "w1")
		h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "connection reset", Lost: true})
	}
	for i := range DefaultMaxAttempts {
		a := h.assign("j", 0, 1, "w2")
		r := h.apply(TaskFailed{AttemptID: a, Worker: "w2", Error: stack})
		if i < DefaultMaxAttempts-1 {
			if j.Phase != JobRunning || len(r.Phases) != 0 {
				t.Fatalf("after %d failures the job is %s", i+1, j.Phase)
			}
		} else if len(r.Phases) != 1 || r.Phases[0].Phase != JobFailed {
			t.Fatalf("last failure phases %+v", r.Phases)
		}
	}
	err := j.Err()
	var je *JobError
	if !errors.As(err, &je) || je.Kind != KindUser || !errors.Is(err, ErrJobFailed) || errors.Is(err, ErrPermanent) {
		t.Fatalf("job error %v: want a user failure", err)
	}
	// The failure is the task's: out of attempts, its last one failed with
	// the user's stack.
	task := j.Task(0, 1)
	if last := task.Attempts[len(task.Attempts)-1]; task.Failures != DefaultMaxAttempts || last.State != AttemptFailed || last.Error != stack {
		t.Fatalf("task 1: %d failures, last attempt %+v", task.Failures, last)
	}
	h.reject(AssignTask{AttemptID: attempt("j", 0, 0, 0), Worker: "w1"}, ErrNotAssignable)
	if as := Schedule(h.s, h.s.FreeSlots()); len(as) != 0 {
		t.Fatalf("scheduled %+v of a failed job", as)
	}
	checkInvariants(t, h.s)
}

func TestMaxAttemptsOfJob(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 1)
	h.apply(SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(1, 1), Fingerprint: fp, MaxAttempts: 1})
	a := h.assign("j", 0, 0, "w1")
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "bad input"})
	if j := h.s.Job("j"); j.Phase != JobFailed {
		t.Fatalf("phase %s after one failure with MaxAttempts 1", j.Phase)
	}
	checkInvariants(t, h.s)
}

func TestWorkerDeathMidStage(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 2)
	h.worker("w2", 2)
	j := h.submit("j", threeStageSpec(4))
	used := h.runStage("j")
	onW1 := 0
	for _, w := range used {
		if w == "w1" {
			onW1++
		}
	}
	if onW1 == 0 || onW1 == 4 {
		t.Fatalf("stage 0 not spread: %v", used)
	}
	// Stage 1 starts; two tasks run on each worker.
	as := Schedule(h.s, h.s.FreeSlots())
	if len(as) != 4 {
		t.Fatalf("stage 1 assignments %+v", as)
	}
	for _, a := range as {
		h.apply(a.Command())
	}
	// One stage-1 task on w2 commits before w1 dies.
	var done AttemptID
	for _, a := range as {
		if a.Worker == "w2" {
			done = a.AttemptID
			h.succeed(a.AttemptID, "w2")
			break
		}
	}
	r := h.apply(WorkerDead{Worker: "w1", Reason: "heartbeats stopped"})
	if len(r.Uncommitted) != onW1 {
		t.Fatalf("uncommitted %v, want the %d stage-0 outputs of w1", r.Uncommitted, onW1)
	}
	if got := j.CurrentStage(); got != 0 {
		t.Fatalf("current stage %d after losing stage-0 outputs, want 0", got)
	}
	for _, a := range as {
		at := j.Task(a.Stage, a.Task).Attempts[a.Attempt]
		if a.Worker == "w1" && at.State != AttemptLost {
			t.Fatalf("attempt %s on dead w1 is %s", a.AttemptID, at.State)
		}
	}
	if c := j.Task(done.Stage, done.Task).Committed; c == nil || c.Worker != "w2" {
		t.Fatalf("committed stage-1 output on w2 dropped: %+v", c)
	}
	// Late reports from the dead worker are ignored.
	for _, a := range as {
		if a.Worker == "w1" {
			h.ignored(TaskSucceeded{AttemptID: a.AttemptID, Worker: "w1", Report: report(j, a.AttemptID)})
		}
	}
	checkInvariants(t, h.s)
	// Rerun: everything goes to w2 and the job completes.
	for j.Phase == JobRunning {
		as := Schedule(h.s, h.s.FreeSlots())
		if len(as) == 0 {
			// Running attempts of stage 1 on w2 finish.
			for ti, tk := range j.Stages[1].Tasks {
				for ai, at := range tk.Attempts {
					if at.State == AttemptRunning {
						h.succeed(attempt("j", 1, ti, ai), at.Worker)
					}
				}
			}
			continue
		}
		for _, a := range as {
			if a.Worker != "w2" {
				t.Fatalf("assigned %+v to a dead worker", a)
			}
			h.apply(a.Command())
			h.succeed(a.AttemptID, a.Worker)
		}
		checkInvariants(t, h.s)
	}
	if j.Phase != JobCommitting || len(h.s.SinkCommits("j")) != 4 {
		t.Fatalf("phase %s, %d sink commits", j.Phase, len(h.s.SinkCommits("j")))
	}
	for _, sc := range h.s.SinkCommits("j") {
		if sc.Commit.Report.SinkFile == nil || sc.Stage != 2 {
			t.Fatalf("sink commit %+v", sc)
		}
	}
	if got := h.s.FileHolders("j"); len(got) != 1 || got[0] != "w2" {
		t.Fatalf("file holders %v, want only the live w2", got)
	}
	h.ignored(WorkerDead{Worker: "w1"})
	h.reject(RegisterWorker{Worker: "w1", Fingerprint: fp, Slots: 1}, ErrWorkerDead)
}

// holders returns the workers holding committed outputs of a stage.
func holders(j *Job, stage int) map[WorkerID]int {
	out := map[WorkerID]int{}
	for _, tk := range j.Stages[stage].Tasks {
		if tk.Committed != nil {
			out[tk.Committed.Worker]++
		}
	}
	return out
}

func TestWorkerDeathKeepsOutputsNoLongerNeeded(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	h.worker("w2", 4)
	j := h.submit("j", threeStageSpec(2))
	h.runStage("j")
	h.runStage("j")
	// Spread puts stage 0 on both workers; locality puts stage 1 where the
	// most bytes are: both partitions on w2.
	if h0, h1 := holders(j, 0), holders(j, 1); h0["w1"] != 1 || h0["w2"] != 1 || h1["w2"] != 2 {
		t.Fatalf("placement: stage 0 %v, stage 1 %v", h0, h1)
	}
	// Stage 0's output on w1 is not needed any more: stage 1 is complete.
	r := h.apply(WorkerDead{Worker: "w1"})
	if len(r.Uncommitted) != 0 || j.CurrentStage() != 2 {
		t.Fatalf("uncommitted %v, current stage %d", r.Uncommitted, j.CurrentStage())
	}
	checkInvariants(t, h.s)
}

func TestWorkerDeathCascades(t *testing.T) {
	// Stage 1's outputs on w2 are lost, so stage 1 reruns and needs all of
	// stage 0's outputs again, including the one on w2.
	h := newHarness(t)
	h.worker("w1", 4)
	h.worker("w2", 4)
	j := h.submit("j", threeStageSpec(2))
	h.runStage("j")
	h.runStage("j")
	r := h.apply(WorkerDead{Worker: "w2"})
	want := []TaskID{{"j", 1, 0}, {"j", 1, 1}, {"j", 0, 1}}
	if len(r.Uncommitted) != len(want) || j.CurrentStage() != 0 {
		t.Fatalf("uncommitted %v (want %v), current stage %d", r.Uncommitted, want, j.CurrentStage())
	}
	for i := range want {
		if r.Uncommitted[i] != want[i] {
			t.Fatalf("uncommitted %v, want %v", r.Uncommitted, want)
		}
	}
	for h.s.Job("j").Phase == JobRunning {
		h.runStage("j")
	}
	if h1 := holders(j, 1); h1["w1"] != 2 {
		t.Fatalf("stage 1 rerun on %v", h1)
	}
	checkInvariants(t, h.s)
}

func TestMapOutputLost(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	j := h.submit("j", twoStageSpec(2, 2))
	h.runStage("j")
	c := j.Task(0, 1).Committed
	// A report naming another attempt is ignored.
	h.ignored(MapOutputLost{AttemptID: attempt("j", 0, 1, c.Attempt+1)})
	a := h.assign("j", 1, 0, "w1")
	r := h.apply(MapOutputLost{AttemptID: attempt("j", 0, 1, c.Attempt), Reason: "checksum mismatch"})
	if len(r.Uncommitted) != 1 || j.CurrentStage() != 0 {
		t.Fatalf("uncommitted %v, current stage %d", r.Uncommitted, j.CurrentStage())
	}
	h.ignored(MapOutputLost{AttemptID: attempt("j", 0, 1, c.Attempt)})
	// The reducer's attempt ends lost; it does not count.
	h.apply(TaskFailed{AttemptID: a, Worker: "w1", Error: "fetch failed", Lost: true})
	if f := j.Task(1, 0).Failures; f != 0 {
		t.Fatalf("lost reducer attempt counted: %d failures", f)
	}
	if _, err := h.s.ShuffleInputs("j", 1); !errors.Is(err, ErrMapOutputLost) {
		t.Fatalf("ShuffleInputs: %v", err)
	}
	used := h.runStage("j")
	if len(used) != 1 || used[1] != "w1" {
		t.Fatalf("rerun %v, want only task 1", used)
	}
	in, err := h.s.ShuffleInputs("j", 1)
	if err != nil || len(in) != 2 || in[0].Task != 0 || in[1].Task != 1 || in[1].Attempt != c.Attempt+1 {
		t.Fatalf("ShuffleInputs %+v, %v", in, err)
	}
	checkInvariants(t, h.s)
}

func TestLostOutputWhileCommitting(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	h.worker("w2", 4)
	j := h.submit("j", twoStageSpec(2, 2))
	h.runStage("j")
	h.runStage("j")
	if j.Phase != JobCommitting {
		t.Fatalf("phase %s", j.Phase)
	}
	c := j.Task(1, 0).Committed
	r := h.apply(MapOutputLost{AttemptID: attempt("j", 1, 0, c.Attempt)})
	if j.Phase != JobRunning || len(r.Phases) != 1 {
		t.Fatalf("phase %s, changes %+v", j.Phase, r.Phases)
	}
	h.reject(FinishJob{Job: "j"}, ErrJobPhase)
	h.runStage("j")
	if j.Phase != JobCommitting {
		t.Fatalf("phase %s after rerun", j.Phase)
	}
	h.apply(FinishJob{Job: "j", Error: "commit /out: permission denied"})
	if !errors.Is(j.Err(), ErrJobFailed) || j.Error != "commit /out: permission denied" {
		t.Fatalf("err %v", j.Err())
	}
	h.ignored(FinishJob{Job: "j"})
}

func TestDuplicateAndLateReports(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	h.worker("w2", 4)
	j := h.submit("j", twoStageSpec(2, 1))
	a := h.assign("j", 0, 0, "w1")
	// Assigning the same attempt again is a no-op; another worker is not.
	h.ignored(AssignTask{AttemptID: a, Worker: "w1"})
	h.reject(AssignTask{AttemptID: a, Worker: "w2"}, ErrNotAssignable)
	h.reject(AssignTask{AttemptID: attempt("j", 0, 0, 1), Worker: "w2"}, ErrNotAssignable)
	// Reports of unknown attempts, from the wrong worker, or of unknown jobs.
	h.ignored(TaskSucceeded{AttemptID: attempt("j", 0, 0, 5), Worker: "w1", Report: report(j, a)})
	h.ignored(TaskSucceeded{AttemptID: a, Worker: "w2", Report: report(j, a)})
	h.reject(TaskSucceeded{AttemptID: attempt("nope", 0, 0, 0), Worker: "w1"}, ErrUnknownJob)
	h.reject(TaskSucceeded{AttemptID: attempt("j", 0, 9, 0), Worker: "w1"}, ErrBadCommand)
	h.succeed(a, "w1")
	want := h.snap()
	h.ignored(TaskSucceeded{AttemptID: a, Worker: "w1", Report: report(j, a)})
	h.ignored(TaskFailed{AttemptID: a, Worker: "w1", Error: "late"})
	h.reject(AssignTask{AttemptID: attempt("j", 0, 0, 1), Worker: "w2"}, ErrNotAssignable)
	if h.snap() != want {
		t.Fatal("duplicate reports changed the state")
	}
	// A lost attempt's late success is ignored.
	b := h.assign("j", 0, 1, "w2")
	h.apply(TaskFailed{AttemptID: b, Worker: "w2", Error: "worker draining", Lost: true})
	h.ignored(TaskSucceeded{AttemptID: b, Worker: "w2", Report: report(j, b)})
	// Duplicate submits and registrations are no-ops; conflicting ones fail.
	h.ignored(SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(2, 1), Fingerprint: fp})
	h.ignored(SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(2, 1), Fingerprint: fp, MaxAttempts: DefaultMaxAttempts})
	h.reject(SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(3, 1), Fingerprint: fp}, ErrJobConflict)
	h.reject(SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(2, 1), Fingerprint: fp, Owner: "bob"}, ErrJobConflict)
	h.ignored(RegisterWorker{Worker: "w1", Addr: "addr-w1", Fingerprint: fp, Slots: 4})
	h.reject(RegisterWorker{Worker: "w1", Addr: "addr-w1", Fingerprint: "other", Slots: 4}, ErrWorkerConflict)
	h.apply(RegisterWorker{Worker: "w1", Addr: "new-addr", Fingerprint: fp, Slots: 4})
	if h.s.Worker("w1").Addr != "new-addr" {
		t.Fatal("re-registration did not update the address")
	}
	checkInvariants(t, h.s)
}

func TestInvalidReportFailsAttempt(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 1)
	j := h.submit("j", twoStageSpec(1, 2))
	a := h.assign("j", 0, 0, "w1")
	h.apply(TaskSucceeded{AttemptID: a, Worker: "w1", Report: TaskReport{}})
	tk := j.Task(0, 0)
	if tk.Committed != nil || tk.Failures != 1 || !strings.Contains(tk.Attempts[0].Error, "without a map output") {
		t.Fatalf("task after invalid report: %+v", tk)
	}
	checkInvariants(t, h.s)
}

func TestCancel(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	j := h.submit("j", twoStageSpec(3, 1))
	as := Schedule(h.s, h.s.FreeSlots())
	for _, a := range as {
		h.apply(a.Command())
	}
	r := h.apply(CancelJob{Job: "j", Reason: "user asked"})
	if len(r.Phases) != 1 || r.Phases[0].Phase != JobCancelled {
		t.Fatalf("phases %+v", r.Phases)
	}
	if !errors.Is(j.Err(), ErrJobCancelled) || !strings.Contains(j.Err().Error(), "user asked") {
		t.Fatalf("err %v", j.Err())
	}
	if h.s.Worker("w1").Running != 0 {
		t.Fatal("cancelled job still holds slots")
	}
	h.ignored(CancelJob{Job: "j"})
	h.ignored(TaskSucceeded{AttemptID: as[0].AttemptID, Worker: "w1", Report: report(j, as[0].AttemptID)})
	if got := h.s.FileHolders("j"); len(got) != 1 {
		t.Fatalf("file holders %v", got)
	}
	h.reject(CancelJob{Job: "nope"}, ErrUnknownJob)
	h.reject(JobCleaned{Job: "nope"}, ErrUnknownJob)
	checkInvariants(t, h.s)
}

func TestNoLiveWorker(t *testing.T) {
	h := newHarness(t)
	h.apply(RegisterWorker{Worker: "old", Fingerprint: "fp-old", Slots: 1})
	r := h.s.Apply(SubmitJob{Job: "j", Name: "wordcount", Spec: twoStageSpec(1, 1), Fingerprint: fp})
	want := `no live worker can run job "wordcount" (fingerprint fp-1); start workers from the same binary`
	if !errors.Is(r.Err, ErrNoWorker) || r.Err.Error() != want {
		t.Fatalf("submit err %v", r.Err)
	}
	if j := h.s.Job("j"); j == nil || j.Phase != JobFailed {
		t.Fatalf("job %+v", j)
	}
	// A worker without the job in its registry is not eligible either.
	h.apply(RegisterWorker{Worker: "w1", Fingerprint: fp, Slots: 1, Jobs: []string{"pagerank"}})
	r = h.s.Apply(SubmitJob{Job: "j2", Name: "wordcount", Spec: twoStageSpec(1, 1), Fingerprint: fp})
	if !errors.Is(r.Err, ErrNoWorker) {
		t.Fatalf("submit err %v", r.Err)
	}
	// The last eligible worker dying fails running jobs.
	h.worker("w2", 1)
	h.submit("j3", twoStageSpec(1, 1))
	h.assign("j3", 0, 0, "w2")
	h.reject(AssignTask{AttemptID: attempt("j3", 0, 0, 1), Worker: "old"}, ErrNotAssignable)
	res := h.apply(WorkerDead{Worker: "w2"})
	j3 := h.s.Job("j3")
	if !errors.Is(j3.Err(), ErrNoWorker) || len(res.Phases) != 1 {
		t.Fatalf("j3 after its last worker died: %v %+v", j3.Err(), res.Phases)
	}
	checkInvariants(t, h.s)
}

func TestRejectsBadSubmit(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 1)
	h.reject(SubmitJob{Job: "j", Name: "job", Spec: []byte("{}"), Fingerprint: fp}, ErrBadSpec)
	spec := mustJSON(Spec{Version: 1, JobID: "other", Partitions: 1, Stages: []StageSpec{
		{Input: InputSpec{Kind: InputSource}, Output: OutputSpec{Kind: OutputSink}}}})
	h.reject(SubmitJob{Job: "j", Name: "job", Spec: spec, Fingerprint: fp}, ErrBadSpec)
	h.reject(SubmitJob{Job: "j", Spec: spec, Fingerprint: fp}, ErrBadCommand)
	if len(h.s.Jobs) != 0 {
		t.Fatal("rejected submit created a job")
	}
}

func TestBounds(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 8)
	j := h.submit("j", sortSpec(4, 3))
	h.runStage("j")
	var samples [][]byte
	for _, tk := range j.Stages[0].Tasks {
		samples = append(samples, tk.Committed.Report.Samples...)
	}
	got := j.Bounds(1)
	want := planspec.RangeBounds(samples, 3)
	if len(got) == 0 || len(got) != len(want) {
		t.Fatalf("bounds %q, want %q", got, want)
	}
	for i := range got {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("bounds %q, want %q", got, want)
		}
	}
	if j.Bounds(0) != nil || j.Bounds(2) != nil {
		t.Fatal("bounds for a stage without BoundsFrom")
	}
}

// TestRepeatedlyLostOutputFailsJob: an output that is unreadable every time
// it is recomputed fails the job after MaxAttempts losses instead of looping.
func TestRepeatedlyLostOutputFailsJob(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", 4)
	j := h.submit("j", twoStageSpec(2, 2))
	for loss := 1; loss <= DefaultMaxAttempts; loss++ {
		h.runStage("j")
		if j.Phase != JobRunning {
			t.Fatalf("job ended after %d losses: %s", loss-1, j.Error)
		}
		c := j.Task(0, 1).Committed
		h.apply(MapOutputLost{AttemptID: attempt("j", 0, 1, c.Attempt), Reason: "checksum mismatch"})
	}
	if j.Phase != JobFailed || !strings.Contains(j.Error, "unreadable 3 times: map output lost: checksum mismatch") {
		t.Fatalf("phase %s, error %q", j.Phase, j.Error)
	}
	checkInvariants(t, h.s)
}

// TestWorkerBoundToItsCertificate: a worker ID registered with a
// certificate stays bound to it in the state (so on every leader, and
// across a snapshot): another identity's registration is refused, its own
// is accepted, and an ID registered without one is bound by the first
// registration that has one.
func TestWorkerBoundToItsCertificate(t *testing.T) {
	h := newHarness(t)
	h.apply(RegisterWorker{Worker: "w1", Addr: "a1", Fingerprint: fp, Slots: 2, Cert: "worker:w1"})
	h.reject(RegisterWorker{Worker: "w1", Addr: "evil", Fingerprint: fp, Slots: 2, Cert: "worker:mallory"}, ErrWorkerCert)
	h.reject(RegisterWorker{Worker: "w1", Addr: "evil", Fingerprint: fp, Slots: 2}, ErrWorkerCert)
	h.ignored(RegisterWorker{Worker: "w1", Addr: "a1", Fingerprint: fp, Slots: 2, Cert: "worker:w1"})
	h.apply(RegisterWorker{Worker: "w1", Addr: "a1-new", Fingerprint: fp, Slots: 2, Cert: "worker:w1"})
	restored, err := RestoreState([]byte(h.snap()))
	if err != nil {
		t.Fatal(err)
	}
	if w := restored.Worker("w1"); w == nil || w.Cert != "worker:w1" || w.Addr != "a1-new" {
		t.Fatalf("restored worker %+v, want bound to worker:w1 at a1-new", w)
	}
	if r := restored.Apply(RegisterWorker{Worker: "w1", Addr: "evil", Fingerprint: fp, Slots: 2, Cert: "worker:mallory"}); !errors.Is(r.Err, ErrWorkerCert) {
		t.Fatalf("after a restore, another certificate's registration: %v", r.Err)
	}
	h.apply(RegisterWorker{Worker: "w2", Addr: "a2", Fingerprint: fp, Slots: 1})
	h.apply(RegisterWorker{Worker: "w2", Addr: "a2", Fingerprint: fp, Slots: 1, Cert: "worker:w2"})
	h.reject(RegisterWorker{Worker: "w2", Addr: "a2", Fingerprint: fp, Slots: 1, Cert: "worker:w3"}, ErrWorkerCert)
	checkInvariants(t, h.s)
}
