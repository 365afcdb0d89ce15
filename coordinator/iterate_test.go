package coordinator

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// pregelSpec is source (n tasks) → hash shuffle of node 10 → Pregel stage 1
// over it (at most maxSteps supersteps, a checkpoint every `every`) writing
// shuffle node 11 → collect node 20.
func pregelSpec(n, maxSteps, every int) []byte {
	return mustJSON(Spec{Version: 1, Partitions: n, Stages: []StageSpec{
		{ID: 0, Input: SourceInput(1, n), Tasks: n,
			Output: OutputSpec{Kind: OutputShuffle, Node: 10, Partitions: n}},
		{ID: 1, Input: InputSpec{Kind: InputShuffle, Node: 10, Sides: 1}, Tasks: n, Deps: []int{0},
			Iterate: &IterateSpec{MaxSupersteps: maxSteps, CheckpointEvery: every, CheckpointDir: "/ckpt/j/stage-1"},
			Output:  OutputSpec{Kind: OutputShuffle, Node: 11, Partitions: n}},
		{ID: 2, Input: InputSpec{Kind: InputShuffle, Node: 11, Sides: 1}, Tasks: n, Deps: []int{1},
			Output: OutputSpec{Kind: OutputCollect, Node: 20}},
	}})
}

// iterReport builds the report of a Pregel task's attempt: the message
// output of a superstep, or with ir.Final the stage's output.
func iterReport(j *Job, a AttemptID, ir IterReport) TaskReport {
	if ir.Final {
		r := report(j, a)
		r.Iter = &ir
		return r
	}
	sizes := make([]int64, j.Plan().Stages[a.Stage].Tasks)
	for p := range sizes {
		sizes[p] = int64(p + 1)
	}
	return TaskReport{Iter: &ir, MapOutput: &MapOutputFile{
		Path: fmt.Sprintf("/work/%s/pregel/ss%d-%d-a%d", a.Job, ir.Superstep, a.Task, a.Attempt), Sizes: sizes}}
}

// halting reports one active vertex and one message per task, and the
// task number as its aggregate.
func halting(ckpt bool) func(task int) IterReport {
	return func(task int) IterReport {
		return IterReport{Active: 1, Messages: 1, Aggregates: []byte{byte(task)}, Checkpoint: ckpt}
	}
}

// step runs the current superstep of Pregel stage `stage` to its end
// through Schedule: every running attempt of the stage succeeds, reporting
// what rep returns for its task with its superstep filled in. It returns the
// worker of each task.
func (h *harness) step(job JobID, stage int, rep func(task int) IterReport) map[int]WorkerID {
	h.t.Helper()
	j := h.s.Job(job)
	it := j.Iteration(stage)
	k, restore := it.Superstep, it.Restore
	used := map[int]WorkerID{}
	for range 100 {
		if !j.Active() || j.StageComplete(stage) || it.Superstep != k || it.Restore != restore {
			return used
		}
		for _, a := range Schedule(h.s, h.s.FreeSlots()) {
			if a.Stage != stage {
				h.t.Fatalf("scheduled %+v during superstep %d of stage %d", a, k, stage)
			}
			h.apply(a.Command())
		}
		ran := false
		for ti, tk := range j.Stages[stage].Tasks {
			for ai, at := range tk.Attempts {
				if at.State != AttemptRunning {
					continue
				}
				used[ti], ran = at.Worker, true
				ir := rep(ti)
				ir.Superstep = at.Superstep
				a := attempt(job, stage, ti, ai)
				h.apply(TaskSucceeded{AttemptID: a, Worker: at.Worker, Report: iterReport(j, a, ir)})
			}
		}
		if !ran {
			h.t.Fatalf("superstep %d: nothing runs", k)
		}
	}
	h.t.Fatalf("superstep %d did not end", k)
	return nil
}

// startIteration submits pregelSpec on workers w1 and w2 (2 slots each) and
// runs stage 0, so that superstep 0 of stage 1 is next.
func startIteration(t *testing.T, n, maxSteps, every int) (*harness, *Job) {
	h := newHarness(t)
	h.worker("w1", 2)
	h.worker("w2", 2)
	j := h.submit("j", pregelSpec(n, maxSteps, every))
	h.runStage("j")
	if j.CurrentStage() != 1 || j.Iteration(1).Superstep != 0 || j.Iteration(0) != nil {
		t.Fatalf("current stage %d, iteration %+v", j.CurrentStage(), j.Iteration(1))
	}
	return h, j
}

func owners(it *Iteration) []WorkerID {
	var out []WorkerID
	for _, p := range it.Partitions {
		out = append(out, p.Worker)
	}
	return out
}

func TestIterateSpecValidation(t *testing.T) {
	if _, err := DecodeSpec(pregelSpec(2, 5, 0)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(s *Spec)
	}{
		{"no supersteps", func(s *Spec) { s.Stages[1].Iterate.MaxSupersteps = 0 }},
		{"negative checkpoint interval", func(s *Spec) { s.Stages[1].Iterate.CheckpointEvery = -1 }},
		{"source input", func(s *Spec) { s.Stages[0].Iterate = &IterateSpec{MaxSupersteps: 3} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeSpec(pregelSpec(2, 5, 0))
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(s)
			if _, err := DecodeSpec(mustJSON(s)); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("err %v, want ErrBadSpec", err)
			}
		})
	}
}

// TestSuperstepsAdvance: each superstep starts when the previous one has
// committed everywhere, with its aggregates (in task order), summed counts,
// owners and message outputs; attempt numbers keep growing per task.
func TestSuperstepsAdvance(t *testing.T) {
	h, j := startIteration(t, 3, 10, 0)
	it := j.Iteration(1)
	if in, err := h.s.ShuffleInputs("j", 1); err != nil || len(in) != 3 || in[0].Stage != 0 || in[0].Side != 0 {
		t.Fatalf("superstep 0 inputs %+v, %v", in, err)
	}
	used := h.step("j", 1, func(task int) IterReport {
		return IterReport{Active: int64(task), Messages: 10, Aggregates: []byte{'a', byte('0' + task)}}
	})
	if it.Superstep != 1 || it.Restore || it.Final || it.Active != 3 || it.Messages != 30 || it.Reached != 0 {
		t.Fatalf("after superstep 0: %+v", it)
	}
	if !slices.EqualFunc(it.Aggregates, [][]byte{[]byte("a0"), []byte("a1"), []byte("a2")}, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("aggregates %q", it.Aggregates)
	}
	for p := range 3 {
		if it.Owner(p) != used[p] || j.Task(1, p).Committed != nil || j.Task(1, p).Attempts[0].State != AttemptSucceeded {
			t.Fatalf("task %d: owner %s, ran on %s, task %+v", p, it.Owner(p), used[p], j.Task(1, p))
		}
	}
	if j.CurrentStage() != 1 || j.Phase != JobRunning {
		t.Fatalf("current stage %d, phase %s", j.CurrentStage(), j.Phase)
	}
	// Superstep 1 reads the message outputs of superstep 0, in task order.
	in, err := h.s.ShuffleInputs("j", 1)
	if err != nil || len(in) != 3 {
		t.Fatalf("superstep 1 inputs %+v, %v", in, err)
	}
	for p, r := range in {
		if r.Stage != 1 || r.Task != p || r.Side != MessageSide || r.Attempt != 0 || r.Worker != used[p] ||
			r.Addr != "addr-"+string(used[p]) || r.File.Path != fmt.Sprintf("/work/j/pregel/ss0-%d-a0", p) {
			t.Fatalf("superstep 1 input %d: %+v", p, r)
		}
	}
	// A late report of superstep 0 is ignored; a report of the wrong
	// superstep is invalid.
	h.ignored(TaskSucceeded{AttemptID: attempt("j", 1, 0, 0), Worker: used[0],
		Report: iterReport(j, attempt("j", 1, 0, 0), IterReport{Superstep: 0})})
	a := h.assign("j", 1, 0, used[0])
	if a.Attempt != 1 || j.Task(1, 0).Attempts[1].Superstep != 1 {
		t.Fatalf("superstep 1 attempt %+v: %+v", a, j.Task(1, 0).Attempts)
	}
	h.apply(TaskSucceeded{AttemptID: a, Worker: used[0], Report: iterReport(j, a, IterReport{Superstep: 0})})
	if tk := j.Task(1, 0); tk.Committed != nil || tk.Failures != 1 || !strings.Contains(tk.Attempts[1].Error, "superstep 0 from an attempt of superstep 1") {
		t.Fatalf("wrong-superstep report: %+v", tk)
	}
	h.step("j", 1, func(task int) IterReport { return IterReport{Active: 1, Aggregates: []byte{'b', byte('0' + task)}} })
	if it.Superstep != 2 || it.Active != 3 || it.Messages != 0 || string(it.Aggregates[2]) != "b2" || it.Final {
		t.Fatalf("after superstep 1: %+v", it)
	}
	// A new superstep starts with a fresh failure count.
	if f := j.Task(1, 0).Failures; f != 0 {
		t.Fatalf("task 0 has %d failures in superstep 2", f)
	}
	if n := len(j.Task(1, 0).Attempts); n != 3 {
		t.Fatalf("task 0 has %d attempts, want 3", n)
	}
	checkInvariants(t, h.s)
}

// TestFinalAtMaxSupersteps: superstep MaxSupersteps is the final one; its
// tasks must emit, and their outputs are the stage's.
func TestFinalAtMaxSupersteps(t *testing.T) {
	h, j := startIteration(t, 2, 2, 0)
	it := j.Iteration(1)
	h.step("j", 1, halting(false))
	if it.Superstep != 1 || it.Final {
		t.Fatalf("after superstep 0: %+v", it)
	}
	h.step("j", 1, halting(false))
	if it.Superstep != 2 || !it.Final {
		t.Fatalf("after superstep 1 of 2: %+v", it)
	}
	// A final superstep's task that does not emit fails.
	a := h.assign("j", 1, 0, it.Owner(0))
	h.apply(TaskSucceeded{AttemptID: a, Worker: it.Owner(0), Report: iterReport(j, a, IterReport{Superstep: 2})})
	if tk := j.Task(1, 0); tk.Committed != nil || !strings.Contains(tk.Attempts[a.Attempt].Error, "did not emit") {
		t.Fatalf("non-final report of the final superstep: %+v", tk)
	}
	h.step("j", 1, func(int) IterReport { return IterReport{Final: true} })
	if !j.StageComplete(1) || it.Superstep != 2 || j.CurrentStage() != 2 {
		t.Fatalf("after the final superstep: current stage %d, %+v", j.CurrentStage(), it)
	}
	checkInvariants(t, h.s)
}

// TestFinalWhenEverythingHalted: a superstep after which no vertex is
// active and no message was sent is followed by the final one.
func TestFinalWhenEverythingHalted(t *testing.T) {
	h, j := startIteration(t, 2, 100, 0)
	it := j.Iteration(1)
	h.step("j", 1, halting(false))
	h.step("j", 1, func(task int) IterReport { return IterReport{Active: int64(task), Messages: 0} })
	if it.Final {
		t.Fatalf("final with an active vertex: %+v", it)
	}
	h.step("j", 1, func(task int) IterReport { return IterReport{Active: 0, Messages: int64(task)} })
	if it.Final {
		t.Fatalf("final with a message in flight: %+v", it)
	}
	h.step("j", 1, func(int) IterReport { return IterReport{} })
	if it.Superstep != 4 || !it.Final {
		t.Fatalf("after everything halted: %+v", it)
	}
	checkInvariants(t, h.s)
}

// TestMasterDrivenFinal: tasks that all report Final without being told
// (their master computation halted) end the iteration; the later stages
// read the final outputs, and the job commits.
func TestMasterDrivenFinal(t *testing.T) {
	h, j := startIteration(t, 2, 100, 0)
	it := j.Iteration(1)
	h.step("j", 1, halting(false))
	h.step("j", 1, func(int) IterReport { return IterReport{Final: true} })
	if !j.StageComplete(1) || it.Superstep != 1 || j.CurrentStage() != 2 {
		t.Fatalf("current stage %d, %+v", j.CurrentStage(), it)
	}
	in, err := h.s.ShuffleInputs("j", 2)
	if err != nil || len(in) != 2 {
		t.Fatalf("stage 2 inputs %+v, %v", in, err)
	}
	for p, r := range in {
		c := j.Task(1, p).Committed
		if r.Stage != 1 || r.Task != p || r.Side != 0 || r.Attempt != c.Attempt || r.File.Path != fmt.Sprintf("/work/j/1/%d-a%d", p, c.Attempt) {
			t.Fatalf("stage 2 input %d: %+v", p, r)
		}
	}
	h.runStage("j")
	if j.Phase != JobCommitting || len(h.s.CollectOutputs("j")[20]) != 2 {
		t.Fatalf("phase %s, collect outputs %+v", j.Phase, h.s.CollectOutputs("j"))
	}
	checkInvariants(t, h.s)
}

// TestTasksDisagreeOnFinal: some tasks ending the iteration while others
// do not is a bug of the engine; the job fails rather than guess.
func TestTasksDisagreeOnFinal(t *testing.T) {
	h, j := startIteration(t, 2, 100, 0)
	h.step("j", 1, halting(false))
	h.step("j", 1, func(task int) IterReport { return IterReport{Final: task == 0} })
	if j.Phase != JobFailed || !strings.Contains(j.Error, "superstep 1: 1 of 2 tasks ended the iteration") {
		t.Fatalf("phase %s, error %q", j.Phase, j.Error)
	}
	checkInvariants(t, h.s)
}

// TestSuperstepRunsWhereItsPartitionIs: past superstep 0, task p runs only
// on the worker that ran task p of the previous superstep, waiting for a
// slot there.
func TestSuperstepRunsWhereItsPartitionIs(t *testing.T) {
	h, j := startIteration(t, 4, 100, 0)
	it := j.Iteration(1)
	h.step("j", 1, halting(false))
	own := owners(it)
	if !slices.Contains(own, "w1") || !slices.Contains(own, "w2") {
		t.Fatalf("owners %v, want both workers", own)
	}
	// Only w1 has free slots: only its partitions are scheduled.
	as := Schedule(h.s, map[WorkerID]int{"w1": 2, "w2": 0})
	for _, a := range as {
		if a.Worker != "w1" || own[a.Task] != "w1" {
			t.Fatalf("assigned %+v; owners %v", a, own)
		}
	}
	if len(as) != 2 {
		t.Fatalf("assignments %+v, want w1's two partitions", as)
	}
	for p, o := range own {
		other := WorkerID("w1")
		if o == "w1" {
			other = "w2"
		}
		h.reject(AssignTask{AttemptID: attempt("j", 1, p, 1), Worker: other}, ErrNotAssignable)
	}
	for range 3 {
		used := h.step("j", 1, halting(false))
		for p, w := range used {
			if w != own[p] {
				t.Fatalf("task %d ran on %s, its partition is on %s", p, w, own[p])
			}
		}
	}
	checkInvariants(t, h.s)
}

// checkpointing reports a checkpoint at every superstep that is a multiple
// of every.
func checkpointing(h *harness, every int) func(task int) IterReport {
	return func(task int) IterReport {
		k := h.s.Job("j").Iteration(1).Superstep
		return IterReport{Active: 1, Messages: 1, Aggregates: []byte{byte(k), byte(task)}, Checkpoint: k%every == 0}
	}
}

// TestRollbackToCheckpointOnStateLost: a task that finds no resident
// partition rolls the stage back to the last checkpoint: the next superstep
// after it restores, anywhere, with the checkpoint's aggregates.
func TestRollbackToCheckpointOnStateLost(t *testing.T) {
	h, j := startIteration(t, 2, 100, 2)
	it := j.Iteration(1)
	for range 4 { // supersteps 0-3; checkpoints at 0 and 2
		h.step("j", 1, checkpointing(h, 2))
	}
	if c := it.Checkpoint; it.Superstep != 4 || c == nil || c.Superstep != 2 || c.Active != 2 || string(c.Aggregates[1]) != "\x02\x01" {
		t.Fatalf("after superstep 3: %+v, checkpoint %+v", it, it.Checkpoint)
	}
	// Task 0 commits superstep 4; task 1 finds its partition gone.
	a0 := h.assign("j", 1, 0, it.Owner(0))
	h.apply(TaskSucceeded{AttemptID: a0, Worker: it.Owner(0), Report: iterReport(j, a0, IterReport{Superstep: 4, Active: 1})})
	own1 := it.Owner(1)
	a1 := h.assign("j", 1, 1, own1)
	r := h.apply(TaskFailed{AttemptID: a1, Worker: own1, Error: "bsp: resident vertex partition lost", Lost: true, StateLost: true})
	if len(r.Uncommitted) != 1 || r.Uncommitted[0] != (TaskID{"j", 1, 0}) {
		t.Fatalf("uncommitted %v", r.Uncommitted)
	}
	if !it.Restore || it.Superstep != 3 || it.Final || it.Partitions != nil || it.Active != 2 || it.Messages != 2 ||
		string(it.Aggregates[0]) != "\x02\x00" || it.Rollbacks != 1 {
		t.Fatalf("after the rollback: %+v", it)
	}
	for p := range 2 {
		if tk := j.Task(1, p); tk.Committed != nil || tk.Running() || tk.Failures != 0 {
			t.Fatalf("task %d after the rollback: %+v", p, tk)
		}
	}
	if in, err := h.s.ShuffleInputs("j", 1); err != nil || len(in) != 0 {
		t.Fatalf("restoring superstep reads %+v, %v", in, err)
	}
	// A repeated report changes nothing.
	h.ignored(TaskFailed{AttemptID: a1, Worker: own1, Error: "again", StateLost: true})
	// The restore runs anywhere: with only w2 free, both tasks go there.
	as := Schedule(h.s, map[WorkerID]int{"w2": 2})
	if len(as) != 2 || as[0].Worker != "w2" || as[1].Worker != "w2" {
		t.Fatalf("restore assignments %+v", as)
	}
	used := h.step("j", 1, checkpointing(h, 2))
	if it.Superstep != 4 || it.Restore || !slices.Equal(owners(it), []WorkerID{used[0], used[1]}) || it.Reached != 3 {
		t.Fatalf("after the restored superstep: %+v", it)
	}
	h.step("j", 1, checkpointing(h, 2))
	if it.Superstep != 5 || it.Rollbacks != 0 || it.Reached != 4 || it.Checkpoint.Superstep != 4 {
		t.Fatalf("after progress: %+v", it)
	}
	checkInvariants(t, h.s)
}

// TestIncompleteCheckpointIsNotUsed: a superstep is a checkpoint only when
// every task wrote it.
func TestIncompleteCheckpointIsNotUsed(t *testing.T) {
	h, j := startIteration(t, 2, 100, 1)
	it := j.Iteration(1)
	h.step("j", 1, halting(true))
	h.step("j", 1, func(task int) IterReport { return IterReport{Active: 1, Checkpoint: task == 0} })
	if it.Checkpoint == nil || it.Checkpoint.Superstep != 0 {
		t.Fatalf("checkpoint %+v, want superstep 0", it.Checkpoint)
	}
}

// TestRollbackOnOwnerDeath: the death of a worker holding a partition the
// current superstep needs rolls the stage back to its checkpoint; the
// death of one that holds none does not.
func TestRollbackOnOwnerDeath(t *testing.T) {
	h, j := startIteration(t, 2, 100, 2)
	it := j.Iteration(1)
	for range 4 {
		h.step("j", 1, checkpointing(h, 2))
	}
	h.worker("w3", 2)
	h.apply(WorkerDead{Worker: "w3"})
	if it.Rollbacks != 0 || it.Superstep != 4 {
		t.Fatalf("a bystander's death rolled back: %+v", it)
	}
	own := it.Owner(0)
	as := Schedule(h.s, h.s.FreeSlots())
	for _, a := range as {
		h.apply(a.Command())
	}
	r := h.apply(WorkerDead{Worker: own, Reason: "killed"})
	if !it.Restore || it.Superstep != 3 || it.Rollbacks != 1 || j.Phase != JobRunning {
		t.Fatalf("after the owner died: %+v", it)
	}
	// With a checkpoint the stage never reads its input again: the dead
	// worker's stage-0 outputs are not recomputed.
	if j.CurrentStage() != 1 || slices.ContainsFunc(r.Uncommitted, func(id TaskID) bool { return id.Stage == 0 }) {
		t.Fatalf("current stage %d, uncommitted %v", j.CurrentStage(), r.Uncommitted)
	}
	checkInvariants(t, h.s)
	for it.Superstep < 6 {
		for _, w := range h.step("j", 1, checkpointing(h, 2)) {
			if w == own {
				t.Fatalf("task ran on the dead %s", own)
			}
		}
	}
	// The iteration ends; the dead worker's outputs of stage 0 are not
	// needed any more.
	h.step("j", 1, func(int) IterReport { return IterReport{Final: true} })
	if j.CurrentStage() != 2 {
		t.Fatalf("current stage %d", j.CurrentStage())
	}
	checkInvariants(t, h.s)
}

// TestRollbackToSuperstepZero: without a checkpoint the stage reruns from
// superstep 0, whose lost inputs are recomputed first.
func TestRollbackToSuperstepZero(t *testing.T) {
	h, j := startIteration(t, 2, 100, 0)
	it := j.Iteration(1)
	h.step("j", 1, halting(false))
	h.step("j", 1, halting(false))
	before := holders(j, 0)
	var victim WorkerID
	for _, o := range owners(it) {
		if before[o] > 0 {
			victim = o
		}
	}
	if victim == "" {
		t.Fatalf("no owner holds a stage-0 output: owners %v, holders %v", owners(it), before)
	}
	r := h.apply(WorkerDead{Worker: victim})
	if it.Superstep != 0 || it.Restore || it.Partitions != nil || it.Aggregates != nil || it.Rollbacks != 1 {
		t.Fatalf("after the rollback: %+v", it)
	}
	if j.CurrentStage() != 0 || len(r.Uncommitted) != before[victim] {
		t.Fatalf("current stage %d, uncommitted %v", j.CurrentStage(), r.Uncommitted)
	}
	h.runStage("j")
	if j.CurrentStage() != 1 {
		t.Fatalf("current stage %d after recomputing stage 0", j.CurrentStage())
	}
	if in, err := h.s.ShuffleInputs("j", 1); err != nil || len(in) != 2 || in[0].Stage != 0 {
		t.Fatalf("superstep 0 inputs %+v, %v", in, err)
	}
	h.step("j", 1, halting(false))
	if it.Superstep != 1 || it.Reached != 1 || it.Rollbacks != 1 {
		t.Fatalf("rerun superstep 0: %+v", it)
	}
	checkInvariants(t, h.s)
}

// TestWorkerDeathAtSuperstepZero: the partitions loaded on a dead worker
// are loaded again elsewhere; nothing rolls back.
func TestWorkerDeathAtSuperstepZero(t *testing.T) {
	h, j := startIteration(t, 4, 100, 0)
	it := j.Iteration(1)
	as := Schedule(h.s, h.s.FreeSlots())
	for _, a := range as {
		h.apply(a.Command())
	}
	var victim WorkerID
	for _, a := range as {
		if a.Stage == 1 && j.Task(1, a.Task).Committed == nil {
			victim = a.Worker
			h.apply(TaskSucceeded{AttemptID: a.AttemptID, Worker: a.Worker, Report: iterReport(j, a.AttemptID, IterReport{Active: 1})})
			break
		}
	}
	h.apply(WorkerDead{Worker: victim})
	if it.Rollbacks != 0 || it.Superstep != 0 {
		t.Fatalf("after the death: %+v", it)
	}
	for p := range 4 {
		if c := j.Task(1, p).Committed; c != nil && c.Worker == victim {
			t.Fatalf("task %d keeps its partition on the dead %s", p, victim)
		}
	}
	if j.CurrentStage() != 0 {
		t.Fatalf("current stage %d: the dead worker's stage-0 outputs are needed", j.CurrentStage())
	}
	// The attempts of superstep 0 still running on the other worker end,
	// stage 0 is recomputed, superstep 0 ends.
	for ti, tk := range j.Stages[1].Tasks {
		for ai, at := range tk.Attempts {
			if at.State == AttemptRunning {
				a := attempt("j", 1, ti, ai)
				h.apply(TaskSucceeded{AttemptID: a, Worker: at.Worker, Report: iterReport(j, a, IterReport{Active: 1})})
			}
		}
	}
	h.runStage("j")
	h.step("j", 1, halting(false))
	if it.Superstep != 1 || slices.Contains(owners(it), victim) {
		t.Fatalf("after superstep 0: %+v", it)
	}
	checkInvariants(t, h.s)
}

// TestLostMessageOutputRollsBack: a reader that cannot fetch a message
// output of the previous superstep rolls the stage back.
func TestLostMessageOutputRollsBack(t *testing.T) {
	h, j := startIteration(t, 2, 100, 1)
	it := j.Iteration(1)
	h.step("j", 1, halting(true))
	h.step("j", 1, halting(true))
	in, _ := h.s.ShuffleInputs("j", 1)
	own0 := it.Owner(0)
	a := h.assign("j", 1, 0, own0)
	// A report about an older attempt of the task changes nothing.
	h.ignored(MapOutputLost{AttemptID: attempt("j", 1, 1, in[1].Attempt-1), Reason: "old"})
	h.apply(MapOutputLost{AttemptID: attempt("j", 1, 1, in[1].Attempt), Reason: "checksum mismatch"})
	if !it.Restore || it.Superstep != 2 || it.Rollbacks != 1 {
		t.Fatalf("after the lost message output: %+v", it)
	}
	h.ignored(TaskFailed{AttemptID: a, Worker: own0, Error: "fetch failed", Lost: true})
	checkInvariants(t, h.s)
}

// TestLostFinalOutputReruns: a final output lost downstream is recomputed;
// its partition no longer being resident, the stage rolls back.
func TestLostFinalOutputReruns(t *testing.T) {
	h, j := startIteration(t, 2, 2, 1)
	it := j.Iteration(1)
	h.step("j", 1, halting(true))
	h.step("j", 1, halting(true))
	h.step("j", 1, func(int) IterReport { return IterReport{Final: true} })
	c := j.Task(1, 1).Committed
	h.apply(MapOutputLost{AttemptID: attempt("j", 1, 1, c.Attempt), Reason: "gone"})
	if j.CurrentStage() != 1 || it.Superstep != 2 || !it.Final || j.Task(1, 0).Committed == nil {
		t.Fatalf("current stage %d, %+v", j.CurrentStage(), it)
	}
	a := h.assign("j", 1, 1, it.Owner(1))
	h.apply(TaskFailed{AttemptID: a, Worker: it.Owner(1), Error: "partition gone", Lost: true, StateLost: true})
	if !it.Restore || it.Superstep != 2 || !it.Final || j.Task(1, 0).Committed != nil {
		t.Fatalf("after the rollback: %+v", it)
	}
	h.step("j", 1, func(int) IterReport { return IterReport{Final: true} })
	h.runStage("j")
	if j.Phase != JobCommitting {
		t.Fatalf("phase %s", j.Phase)
	}
	checkInvariants(t, h.s)
}

// TestRepeatedRollbacksFailJob: a stage that keeps rolling back without
// completing a new superstep fails the job; progress resets the count.
func TestRepeatedRollbacksFailJob(t *testing.T) {
	h, j := startIteration(t, 2, 100, 1)
	it := j.Iteration(1)
	h.step("j", 1, halting(true))
	h.step("j", 1, halting(true))
	lose := func() {
		t.Helper()
		w := it.Owner(0)
		if w == "" {
			w = "w1"
		}
		a := h.assign("j", 1, 0, w)
		h.apply(TaskFailed{AttemptID: a, Worker: w, Error: "partition missing", Lost: true, StateLost: true})
	}
	lose() // at superstep 2, which never completed
	if it.Rollbacks != 1 || !it.Restore || it.Superstep != 2 {
		t.Fatalf("after a rollback: %+v", it)
	}
	h.step("j", 1, halting(true)) // superstep 2 completes: progress
	if it.Rollbacks != 0 || it.Reached != 2 {
		t.Fatalf("after progress: %+v", it)
	}
	for i := 1; i <= DefaultMaxAttempts; i++ {
		if j.Phase != JobRunning {
			t.Fatalf("job ended after %d rollbacks: %s", i-1, j.Error)
		}
		lose()
	}
	if !errors.Is(j.Err(), ErrJobFailed) || !strings.Contains(j.Error, "stage 1 rolled back 3 times without progress") ||
		!strings.Contains(j.Error, "partition missing") {
		t.Fatalf("phase %s, error %q", j.Phase, j.Error)
	}
	checkInvariants(t, h.s)
}

// TestIterationSnapshot: the iteration state survives a snapshot and
// restore, and both copies go on the same way.
func TestIterationSnapshot(t *testing.T) {
	h, j := startIteration(t, 2, 100, 2)
	for range 3 {
		h.step("j", 1, checkpointing(h, 2))
	}
	a := h.assign("j", 1, 0, j.Iteration(1).Owner(0))
	c := h.s.Clone()
	if b, _ := c.Snapshot(); string(b) != h.snap() {
		t.Fatal("the restored state differs")
	}
	for _, s := range []*State{h.s, c} {
		r := s.Apply(TaskFailed{AttemptID: a, Worker: s.Job("j").Iteration(1).Owner(0), StateLost: true})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if it := s.Job("j").Iteration(1); !it.Restore || it.Superstep != 3 {
			t.Fatalf("after the rollback: %+v", it)
		}
	}
	if b, _ := c.Snapshot(); string(b) != h.snap() {
		t.Fatal("the two states diverged")
	}
	// A snapshot whose iteration state does not fit its plan is refused.
	c.Job("j").Stages[1].Iter.Partitions = []ResidentPartition{{Worker: "w1"}}
	b, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreState(b); !errors.Is(err, ErrBadSnapshot) || !errors.Is(err, ErrBadIteration) {
		t.Fatalf("restore of a bad iteration: %v", err)
	}
	c.Job("j").Stages[1].Iter = nil
	b, _ = c.Snapshot()
	if _, err := RestoreState(b); !errors.Is(err, ErrBadSnapshot) || !errors.Is(err, ErrBadIteration) {
		t.Fatalf("restore of a Pregel stage without its iteration: %v", err)
	}
}
