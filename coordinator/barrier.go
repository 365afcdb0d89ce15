package coordinator

import (
	"fmt"
	"sort"

	"github.com/superstep/superstep/internal/planspec"
)

// The barrier: a job's current stage is the first stage with a task that has
// no committed output. Only the current stage's tasks are assignable, so a
// stage starts only when every earlier stage has committed every task. When
// committed outputs are lost (WorkerDead, MapOutputLost) the producing tasks
// lose their commit and the current stage moves back to them.

// StageComplete reports whether every task of the stage has a committed
// output. A stage with no tasks is complete.
func (j *Job) StageComplete(stage int) bool {
	for _, t := range j.Stages[stage].Tasks {
		if t.Committed == nil {
			return false
		}
	}
	return true
}

// CurrentStage returns the first stage that has a task without a committed
// output, or len(j.Stages) when every task has committed.
func (j *Job) CurrentStage() int {
	for i := range j.Stages {
		if !j.StageComplete(i) {
			return i
		}
	}
	return len(j.Stages)
}

// Bounds returns the range partitioner bounds of a stage whose output is a
// range shuffle: planspec.RangeBounds over the samples committed by the stages its
// Output.BoundsFrom names. It is nil for any other stage. Call it only for
// an assignable stage (the sample stages are then complete).
func (j *Job) Bounds(stage int) [][]byte {
	if stage < 0 || stage >= len(j.plan.Stages) || len(j.plan.Stages[stage].Output.BoundsFrom) == 0 {
		return nil
	}
	var samples [][]byte
	for _, from := range j.plan.Stages[stage].Output.BoundsFrom {
		for _, t := range j.Stages[from].Tasks {
			if t.Committed != nil {
				samples = append(samples, t.Committed.Report.Samples...)
			}
		}
	}
	return planspec.RangeBounds(samples, j.plan.Stages[stage].Output.Partitions)
}

// OutputRef locates the committed output of one task.
type OutputRef struct {
	Stage   int
	Task    int
	Side    int // the shuffle side the stage writes
	Attempt int
	Worker  WorkerID
	Addr    string
	File    MapOutputFile
}

// ShuffleInputs returns the committed map outputs that the tasks of stage
// read, ordered by producer stage (by side) and then by map task, the order
// in which a reduce task merges them. It returns nil for a stage that reads
// a source, and an error matching ErrMapOutputLost when an output is not
// committed. For a Pregel stage past superstep 0 it returns the message
// outputs of the previous superstep instead (Side MessageSide, in task
// order), and nil when the stage restores from a checkpoint.
func (s *State) ShuffleInputs(job JobID, stage int) ([]OutputRef, error) {
	j := s.jobs[job]
	if j == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownJob, job)
	}
	if stage < 0 || stage >= len(j.Stages) {
		return nil, fmt.Errorf("%w: job %s has no stage %d", ErrBadCommand, job, stage)
	}
	if it := j.Iteration(stage); it != nil && it.Superstep > 0 {
		return s.messageInputs(j, stage), nil
	}
	var out []OutputRef
	for _, p := range j.plan.Producers(stage) {
		for ti, t := range j.Stages[p].Tasks {
			if t.Committed == nil {
				return nil, fmt.Errorf("%w: %s", ErrMapOutputLost, TaskID{job, p, ti})
			}
			out = append(out, s.ref(j, p, ti))
		}
	}
	return out, nil
}

func (s *State) ref(j *Job, stage, task int) OutputRef {
	c := j.Stages[stage].Tasks[task].Committed
	r := OutputRef{Stage: stage, Task: task, Side: j.plan.Stages[stage].Output.Side, Attempt: c.Attempt, Worker: c.Worker}
	if w := s.workers[c.Worker]; w != nil {
		r.Addr = w.Addr
	}
	if c.Report.MapOutput != nil {
		r.File = *c.Report.MapOutput
	}
	return r
}

// CollectOutputs returns the committed outputs of the job's collect stages
// by collect node, each in task order: what the leader reads back for the
// submitter when the job is committing.
func (s *State) CollectOutputs(job JobID) map[int][]OutputRef {
	j := s.jobs[job]
	if j == nil {
		return nil
	}
	out := map[int][]OutputRef{}
	for si, st := range j.plan.Stages {
		if st.Output.Kind != OutputCollect {
			continue
		}
		for ti, t := range j.Stages[si].Tasks {
			if t.Committed != nil {
				out[st.Output.Node] = append(out[st.Output.Node], s.ref(j, si, ti))
			}
		}
	}
	return out
}

// SinkCommit is the committed report of one sink task.
type SinkCommit struct {
	Stage, Task int
	Commit      Commit
}

// SinkCommits returns the committed reports of the job's sink stages in
// stage and task order: the leader commits each and then
// the sinks (bsp.CommitSinkParts) while the job is committing.
func (s *State) SinkCommits(job JobID) []SinkCommit {
	j := s.jobs[job]
	if j == nil {
		return nil
	}
	var out []SinkCommit
	for si, st := range j.plan.Stages {
		if st.Output.Kind != OutputSink {
			continue
		}
		for ti, t := range j.Stages[si].Tasks {
			if t.Committed != nil {
				out = append(out, SinkCommit{Stage: si, Task: ti, Commit: *t.Committed})
			}
		}
	}
	return out
}

// FileHolders returns the live workers that ran an attempt of the job and so
// may hold its files (shuffle outputs, attempt directories), sorted by ID:
// when the job ends the leader tells each to remove them, then proposes
// JobCleaned.
func (s *State) FileHolders(job JobID) []WorkerID {
	j := s.jobs[job]
	if j == nil {
		return nil
	}
	seen := map[WorkerID]bool{}
	for _, st := range j.Stages {
		for _, t := range st.Tasks {
			for _, a := range t.Attempts {
				if w := s.workers[a.Worker]; w != nil && !w.Dead {
					seen[a.Worker] = true
				}
			}
		}
	}
	out := make([]WorkerID, 0, len(seen))
	for w := range seen {
		out = append(out, w)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// FreeSlots returns, for every live worker, its slots not taken by running
// attempts.
func (s *State) FreeSlots() map[WorkerID]int {
	free := map[WorkerID]int{}
	for _, w := range s.Workers {
		if !w.Dead {
			free[w.ID] = max(w.Slots-w.Running, 0)
		}
	}
	return free
}

// StageCounters sums the counters of the committed tasks of a stage.
func (j *Job) StageCounters(stage int) Counters {
	var c Counters
	for _, t := range j.Stages[stage].Tasks {
		if t.Committed != nil {
			c.Add(t.Committed.Report.Counters)
		}
	}
	return c
}
