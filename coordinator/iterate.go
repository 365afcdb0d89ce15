package coordinator

import (
	"fmt"
	"slices"
)

// A Pregel stage (StageSpec.Iterate) runs its tasks superstep after
// superstep, as bsp.IterateSpec describes. The state keeps one Iteration per
// such stage; the tasks' Committed field holds the commits of the current
// superstep only:
//
//   - When every task of superstep k has committed without Final, the
//     stage ends the superstep (endSuperstep): the commits become the
//     Iteration's Partitions (where each vertex partition stays resident,
//     and the message outputs superstep k+1 reads), their aggregates and
//     counts are kept, and the tasks lose their commits so that superstep
//     k+1 runs with fresh attempts (appended to Task.Attempts, so that
//     attempt numbers stay unique per task).
//   - When every task of superstep k has committed with Final, the stage is
//     complete like any other: its commits are its outputs.
//   - Task p of superstep k > 0 runs only on the worker that holds partition
//     p (Iteration.Owner), unless the stage restores from a checkpoint.
//   - When a partition or a message output that the current superstep needs
//     is lost (a task reports its partition gone, its worker dies, a reader
//     reports the output unreadable), the stage rolls back (rollback) to its
//     last complete checkpoint c, running superstep c+1 with Restore on any
//     worker, or to superstep 0 without one.
//
// Every change of superstep ends the stage's running attempts, so a running
// attempt always belongs to the current superstep.

// Iteration is the state of a Pregel stage's iteration.
type Iteration struct {
	// Superstep is the superstep the stage's tasks run now.
	Superstep int `json:"superstep"`
	// Restore is set when the tasks of Superstep reload their partitions
	// from the checkpoint of Superstep-1 (the stage rolled back to it).
	Restore bool `json:"restore,omitempty"`
	// Final is set when Superstep is the last one: its tasks emit the
	// vertices (bsp.TaskSpec.Final). Tasks may also end the iteration
	// without it (a master computation decides to halt).
	Final bool `json:"final,omitempty"`
	// Aggregates are the aggregator partials of every task of Superstep-1,
	// in task order, and Active and Messages their summed counts; empty at
	// superstep 0.
	Aggregates [][]byte `json:"aggregates,omitempty"`
	Active     int64    `json:"active,omitempty"`
	Messages   int64    `json:"messages,omitempty"`
	// Partitions are, in task order, the commits of superstep Superstep-1:
	// the worker that holds each vertex partition and its message output.
	// Empty at superstep 0 and when restoring.
	Partitions []ResidentPartition `json:"partitions,omitempty"`
	// Checkpoint is the newest superstep whose tasks all wrote a
	// checkpoint; nil before the first.
	Checkpoint *IterCheckpoint `json:"checkpoint,omitempty"`
	// Reached is the highest superstep the stage has completed; -1 before
	// the first.
	Reached int `json:"reached"`
	// Rollbacks counts the rollbacks since the stage last completed a
	// superstep beyond Reached; the job fails when it reaches the job's
	// MaxAttempts.
	Rollbacks int `json:"rollbacks,omitempty"`
	// TotalRollbacks counts every rollback of the stage.
	TotalRollbacks int `json:"total_rollbacks,omitempty"`
}

// ResidentPartition is where task p of a superstep succeeded.
type ResidentPartition struct {
	// Worker holds the vertex partition in memory.
	Worker WorkerID `json:"worker"`
	// Attempt is the attempt that succeeded.
	Attempt int `json:"attempt"`
	// Messages is its message output (side MessageSide of the stage's
	// input node); nil when it wrote none.
	Messages *MapOutputFile `json:"messages,omitempty"`
}

// IterCheckpoint is a superstep whose tasks all wrote a checkpoint, with
// what they reported: a rolled-back stage restarts from it.
type IterCheckpoint struct {
	Superstep  int      `json:"superstep"`
	Aggregates [][]byte `json:"aggregates,omitempty"`
	Active     int64    `json:"active,omitempty"`
	Messages   int64    `json:"messages,omitempty"`
}

// newIteration is the state of an iteration before its first superstep.
func newIteration() *Iteration { return &Iteration{Reached: -1} }

// Pinned reports whether the tasks of the current superstep must run where
// their partitions are resident: past superstep 0, unless restoring.
func (it *Iteration) Pinned() bool { return it.Superstep > 0 && !it.Restore }

// Owner returns the worker that must run task p of the current superstep,
// or "" when any worker may.
func (it *Iteration) Owner(p int) WorkerID {
	if !it.Pinned() || p < 0 || p >= len(it.Partitions) {
		return ""
	}
	return it.Partitions[p].Worker
}

// owner is Owner for a possibly nil iteration (a stage that does not
// iterate).
func (it *Iteration) owner(p int) WorkerID {
	if it == nil {
		return ""
	}
	return it.Owner(p)
}

// Iteration returns the iteration state of a Pregel stage, nil for any
// other stage. The caller must not modify it.
func (j *Job) Iteration(stage int) *Iteration {
	if stage < 0 || stage >= len(j.Stages) {
		return nil
	}
	return j.Stages[stage].Iter
}

// endSuperstep acts on a Pregel stage all of whose tasks have committed the
// current superstep: the iteration ends when they all report Final,
// otherwise the next superstep starts.
func (s *State) endSuperstep(j *Job, stage int) Result {
	it := j.Stages[stage].Iter
	tasks := j.Stages[stage].Tasks
	final := 0
	for _, t := range tasks {
		if t.Committed.Report.Iter.Final {
			final++
		}
	}
	switch {
	case final == len(tasks):
		it.Final = true
		return Result{}
	case final > 0:
		text := fmt.Sprintf("job %s: stage %d superstep %d: %d of %d tasks ended the iteration", j.ID, stage, it.Superstep, final, len(tasks))
		return Result{Phases: []PhaseChange{s.endJob(j, JobFailed, KindPermanent, text)}}
	}
	k := it.Superstep
	aggs := make([][]byte, len(tasks))
	parts := make([]ResidentPartition, len(tasks))
	var active, msgs int64
	checkpoint := true
	for ti, t := range tasks {
		c := t.Committed
		rep := c.Report.Iter
		aggs[ti] = rep.Aggregates
		active += rep.Active
		msgs += rep.Messages
		checkpoint = checkpoint && rep.Checkpoint
		parts[ti] = ResidentPartition{Worker: c.Worker, Attempt: c.Attempt, Messages: c.Report.MapOutput}
		t.Committed = nil
		t.Failures = 0
	}
	if checkpoint {
		it.Checkpoint = &IterCheckpoint{Superstep: k, Aggregates: cloneAll(aggs), Active: active, Messages: msgs}
	}
	if k > it.Reached {
		it.Reached, it.Rollbacks = k, 0
	}
	it.Superstep, it.Restore, it.Partitions = k+1, false, parts
	it.Aggregates, it.Active, it.Messages = aggs, active, msgs
	it.Final = j.plan.Stages[stage].Iterate.Final(it.Superstep, active, msgs)
	return Result{}
}

func cloneAll(bs [][]byte) [][]byte {
	out := make([][]byte, len(bs))
	for i, b := range bs {
		out[i] = slices.Clone(b)
	}
	return out
}

// rollback restarts a Pregel stage from its last complete checkpoint, or
// from superstep 0 without one: its running attempts are lost, its commits
// dropped. The job fails when the stage has rolled back MaxAttempts times
// without completing a new superstep.
func (s *State) rollback(j *Job, stage int, msg string) Result {
	it := j.Stages[stage].Iter
	var r Result
	for ti, t := range j.Stages[stage].Tasks {
		for ai := range t.Attempts {
			if t.Attempts[ai].State == AttemptRunning {
				s.finishAttempt(j, stage, ti, ai, AttemptLost, "rolled back: "+msg)
			}
		}
		if t.Committed != nil {
			s.uncommit(j, stage, ti, "rolled back: "+msg)
			r.Uncommitted = append(r.Uncommitted, TaskID{j.ID, stage, ti})
		}
		t.Failures = 0
	}
	from := it.Superstep
	it.Partitions, it.Restore = nil, false
	if c := it.Checkpoint; c != nil {
		it.Superstep, it.Restore = c.Superstep+1, true
		it.Aggregates, it.Active, it.Messages = cloneAll(c.Aggregates), c.Active, c.Messages
		it.Final = j.plan.Stages[stage].Iterate.Final(it.Superstep, c.Active, c.Messages)
	} else {
		it.Superstep, it.Aggregates, it.Active, it.Messages, it.Final = 0, nil, 0, 0, false
	}
	it.Rollbacks++
	it.TotalRollbacks++
	if it.Rollbacks >= j.MaxAttempts {
		text := fmt.Sprintf("job %s: stage %d rolled back %d times without progress (last at superstep %d: %s)",
			j.ID, stage, it.Rollbacks, from, msg)
		r.Phases = append(r.Phases, s.endJob(j, JobFailed, KindLost, text))
		return r
	}
	return s.reopen(j, r)
}

// iterWorkerDead repairs the job's Pregel stages after worker w died (its
// running attempts already lost, its needed outputs already un-committed):
// a stage whose current superstep needs a partition or a message output
// that w held rolls back; at superstep 0 or when restoring, the tasks that
// committed on w run again, since the next superstep needs their
// partitions.
func (s *State) iterWorkerDead(j *Job, w WorkerID, msg string) Result {
	var r Result
	for si, st := range j.Stages {
		it := st.Iter
		if it == nil || j.StageComplete(si) || !j.Active() {
			continue
		}
		if it.Pinned() {
			for _, p := range it.Partitions {
				if p.Worker == w || s.workers[p.Worker] == nil || s.workers[p.Worker].Dead {
					rr := s.rollback(j, si, msg)
					r.Phases = append(r.Phases, rr.Phases...)
					r.Uncommitted = append(r.Uncommitted, rr.Uncommitted...)
					break
				}
			}
			continue
		}
		if it.Final {
			continue // final outputs: lost as any stage's (uncommitLost)
		}
		for ti, t := range st.Tasks {
			if t.Committed != nil && t.Committed.Worker == w {
				s.uncommit(j, si, ti, msg)
				r.Uncommitted = append(r.Uncommitted, TaskID{j.ID, si, ti})
			}
		}
	}
	return r
}

// messageOutputLost handles a MapOutputLost naming the message output of a
// Pregel stage's task: when the current superstep reads it, the stage rolls
// back. It reports false when c names no such output.
func (s *State) messageOutputLost(j *Job, c MapOutputLost, msg string) (Result, bool) {
	it := j.Iteration(c.Stage)
	if it == nil || !it.Pinned() || !j.Active() || j.StageComplete(c.Stage) || c.Task >= len(it.Partitions) {
		return Result{}, false
	}
	if p := it.Partitions[c.Task]; p.Attempt != c.Attempt || p.Messages == nil {
		return Result{}, false
	}
	return s.rollback(j, c.Stage, msg), true
}

// messageInputs returns the message outputs the tasks of a Pregel stage's
// current superstep read, in task order (tasks that sent none are left
// out): none at superstep 0 and when restoring.
func (s *State) messageInputs(j *Job, stage int) []OutputRef {
	it := j.Stages[stage].Iter
	if !it.Pinned() {
		return nil
	}
	var out []OutputRef
	for p, rp := range it.Partitions {
		if rp.Messages == nil {
			continue
		}
		r := OutputRef{Stage: stage, Task: p, Side: MessageSide, Attempt: rp.Attempt, Worker: rp.Worker, File: *rp.Messages}
		if w := s.workers[rp.Worker]; w != nil {
			r.Addr = w.Addr
		}
		out = append(out, r)
	}
	return out
}

// check checks a Pregel stage's iteration state against its plan
// (for RestoreState).
func (it *Iteration) check(st *StageSpec) error {
	switch {
	case it.Superstep < 0 || (it.Superstep == 0 && it.Restore):
		return fmt.Errorf("%w: superstep %d restore %v", ErrBadIteration, it.Superstep, it.Restore)
	case it.Pinned() && len(it.Partitions) != st.Tasks:
		return fmt.Errorf("%w: superstep %d with %d resident partitions for %d tasks", ErrBadIteration, it.Superstep, len(it.Partitions), st.Tasks)
	case !it.Pinned() && len(it.Partitions) != 0:
		return fmt.Errorf("%w: superstep %d (restore %v) with resident partitions", ErrBadIteration, it.Superstep, it.Restore)
	case it.Checkpoint != nil && it.Checkpoint.Superstep >= it.Superstep:
		return fmt.Errorf("%w: checkpoint of superstep %d at superstep %d", ErrBadIteration, it.Checkpoint.Superstep, it.Superstep)
	}
	return nil
}
