package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

const fp = "fp-1"

// twoStageSpec is source (maps tasks) → hash shuffle of node 10 (reduces
// partitions) → collect node 20.
func twoStageSpec(maps, reduces int) []byte {
	return mustJSON(Spec{Version: 1, Partitions: reduces, Stages: []StageSpec{
		{ID: 0, Input: SourceInput(1, maps), Tasks: maps,
			Output: OutputSpec{Kind: OutputShuffle, Node: 10, Partitions: reduces, Shuffle: "hash"}},
		{ID: 1, Input: InputSpec{Kind: InputShuffle, Node: 10, Sides: 1}, Tasks: reduces, Deps: []int{0},
			Output: OutputSpec{Kind: OutputCollect, Node: 20}},
	}})
}

// sortSpec is a range sort: sample stage 0 and map stage 1 over the same
// source, reduce stage 2 writing a sink.
func sortSpec(maps, reduces int) []byte {
	return mustJSON(Spec{Version: 1, Partitions: reduces, Stages: []StageSpec{
		{ID: 0, Input: SourceInput(1, maps), Tasks: maps,
			Output: OutputSpec{Kind: OutputSample, Node: 10, Partitions: reduces, Shuffle: "range"}},
		{ID: 1, Input: SourceInput(1, maps), Tasks: maps,
			Output: OutputSpec{Kind: OutputShuffle, Node: 10, Partitions: reduces, Shuffle: "range", BoundsFrom: []int{0}}},
		{ID: 2, Input: InputSpec{Kind: InputShuffle, Node: 10, Sides: 1}, Tasks: reduces, Deps: []int{1},
			Output: OutputSpec{Kind: OutputSink, Node: 30}},
	}, Sinks: []SinkSpec{{Node: 30, Dir: "/out", Ext: "txt", Stage: 2}}})
}

// threeStageSpec chains two shuffles: source → shuffle 10 → shuffle 11 →
// sink.
func threeStageSpec(n int) []byte {
	return mustJSON(Spec{Version: 1, Partitions: n, Stages: []StageSpec{
		{ID: 0, Input: SourceInput(1, n), Tasks: n,
			Output: OutputSpec{Kind: OutputShuffle, Node: 10, Partitions: n}},
		{ID: 1, Input: InputSpec{Kind: InputShuffle, Node: 10, Sides: 1}, Tasks: n,
			Output: OutputSpec{Kind: OutputShuffle, Node: 11, Partitions: n}},
		{ID: 2, Input: InputSpec{Kind: InputShuffle, Node: 11, Sides: 1}, Tasks: n,
			Output: OutputSpec{Kind: OutputSink, Node: 30}},
	}, Sinks: []SinkSpec{{Node: 30, Dir: "/out", Ext: "txt", Stage: 2}}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// harness applies commands to a state and fails the test on rejections.
type harness struct {
	t   testing.TB
	s   *State
	log []Command
}

func newHarness(t testing.TB) *harness { return &harness{t: t, s: NewState()} }

func (h *harness) apply(c Command) Result {
	h.t.Helper()
	r := h.s.Apply(c)
	if r.Err != nil {
		h.t.Fatalf("apply %s %+v: %v", c.Kind(), c, r.Err)
	}
	h.log = append(h.log, c)
	return r
}

func (h *harness) reject(c Command, want error) {
	h.t.Helper()
	before := h.snap()
	r := h.s.Apply(c)
	if !errors.Is(r.Err, want) {
		h.t.Fatalf("apply %s %+v: err %v, want %v", c.Kind(), c, r.Err, want)
	}
	if after := h.snap(); after != before {
		h.t.Fatalf("rejected %s changed the state", c.Kind())
	}
}

func (h *harness) ignored(c Command) {
	h.t.Helper()
	before := h.snap()
	r := h.apply(c)
	if !r.Ignored {
		h.t.Fatalf("apply %s %+v: not ignored: %+v", c.Kind(), c, r)
	}
	if after := h.snap(); after != before {
		h.t.Fatalf("ignored %s changed the state", c.Kind())
	}
}

func (h *harness) snap() string {
	h.t.Helper()
	b, err := h.s.Snapshot()
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *harness) worker(id WorkerID, slots int) {
	h.t.Helper()
	h.apply(RegisterWorker{Worker: id, Addr: "addr-" + string(id), Fingerprint: fp, Slots: slots})
}

func (h *harness) submit(id JobID, spec []byte) *Job {
	h.t.Helper()
	h.apply(SubmitJob{Job: id, Name: "job", Spec: spec, Fingerprint: fp})
	return h.s.Job(id)
}

func attempt(job JobID, stage, task, att int) AttemptID {
	return AttemptID{TaskID: TaskID{job, stage, task}, Attempt: att}
}

// assign assigns the next attempt of a task to w and returns its ID.
func (h *harness) assign(job JobID, stage, task int, w WorkerID) AttemptID {
	h.t.Helper()
	a := attempt(job, stage, task, len(h.s.Job(job).Task(stage, task).Attempts))
	h.apply(AssignTask{AttemptID: a, Worker: w})
	return a
}

// report builds a valid report for an attempt of a task of j: map outputs
// put (task+1)*(part+1) bytes in each partition.
func report(j *Job, a AttemptID) TaskReport {
	st := j.Plan().Stages[a.Stage]
	r := TaskReport{Counters: Counters{RecordsIn: 1, RecordsOut: 1}}
	switch st.Output.Kind {
	case OutputShuffle, OutputCollect:
		n := st.Output.Partitions
		if st.Output.Kind == OutputCollect {
			n = 1
		}
		sizes := make([]int64, n)
		for p := range sizes {
			sizes[p] = int64((a.Task + 1) * (p + 1))
		}
		r.MapOutput = &MapOutputFile{Path: fmt.Sprintf("/work/%s/%d/%d-a%d", a.Job, a.Stage, a.Task, a.Attempt), Sizes: sizes}
	case OutputSink:
		r.SinkFile = &SinkFile{Node: st.Output.Node, Part: a.Task, Path: fmt.Sprintf("/out/_attempts/%d-a%d", a.Task, a.Attempt)}
	case OutputSample:
		r.Samples = [][]byte{[]byte(fmt.Sprintf("k%03d", a.Task*7%10)), []byte(fmt.Sprintf("k%03d", a.Task*3%10))}
	}
	return r
}

func (h *harness) succeed(a AttemptID, w WorkerID) Result {
	h.t.Helper()
	return h.apply(TaskSucceeded{AttemptID: a, Worker: w, Report: report(h.s.Job(a.Job), a)})
}

// runStage assigns and completes every pending task of the job's current
// stage through Schedule, and returns the workers used per task.
func (h *harness) runStage(job JobID) map[int]WorkerID {
	h.t.Helper()
	used := map[int]WorkerID{}
	stage := h.s.Job(job).CurrentStage()
	for range 1000 {
		as := Schedule(h.s, h.s.FreeSlots())
		if len(as) == 0 {
			break
		}
		for _, a := range as {
			h.apply(a.Command())
		}
		for _, a := range as {
			if a.Stage == stage {
				used[a.Task] = a.Worker
			}
			h.succeed(a.AttemptID, a.Worker)
		}
		if h.s.Job(job).CurrentStage() != stage {
			break
		}
	}
	return used
}

// checkInvariants checks the consistency of the state: running counts,
// commit references, the phase of each job.
func checkInvariants(t testing.TB, s *State) {
	t.Helper()
	running := map[WorkerID]int{}
	for _, j := range s.Jobs {
		for si, st := range j.Stages {
			for ti, tk := range st.Tasks {
				nrun := 0
				for _, a := range tk.Attempts {
					if a.State == AttemptRunning {
						nrun++
						running[a.Worker]++
						if !j.Active() {
							t.Fatalf("job %s is %s with a running attempt", j.ID, j.Phase)
						}
						if w := s.Worker(a.Worker); w == nil || w.Dead {
							t.Fatalf("running attempt on dead worker %s", a.Worker)
						}
					}
				}
				if nrun > 2 || nrun == 2 && !slices.ContainsFunc(tk.Attempts, func(a Attempt) bool { return a.Speculative }) {
					t.Fatalf("%s has %d running attempts", TaskID{j.ID, si, ti}, nrun)
				}
				if c := tk.Committed; c != nil && tk.Attempts[c.Attempt].State != AttemptSucceeded {
					t.Fatalf("%s committed attempt %d is %s", TaskID{j.ID, si, ti}, c.Attempt, tk.Attempts[c.Attempt].State)
				}
			}
		}
		if j.Phase == JobRunning && j.CurrentStage() == len(j.Stages) {
			t.Fatalf("job %s running with every task committed", j.ID)
		}
		if j.Phase == JobCommitting && j.CurrentStage() != len(j.Stages) {
			t.Fatalf("job %s committing at stage %d", j.ID, j.CurrentStage())
		}
	}
	for _, w := range s.Workers {
		if w.Running != running[w.ID] {
			t.Fatalf("worker %s: Running %d, counted %d", w.ID, w.Running, running[w.ID])
		}
		if w.Running > w.Slots {
			t.Fatalf("worker %s: %d running in %d slots", w.ID, w.Running, w.Slots)
		}
	}
}
