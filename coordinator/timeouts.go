package coordinator

import (
	"errors"
	"fmt"
	"time"
)

// TimeoutConfig says when a running attempt has run too long and is
// retried elsewhere (see Overdue). Flags: --task-timeout-floor,
// --task-timeout-multiplier.
type TimeoutConfig struct {
	// Floor is the shortest timeout of any attempt; zero disables task
	// timeouts.
	Floor time.Duration
	// Multiplier: an attempt of a stage with committed attempts times out
	// after Multiplier x their median duration, when that is longer than
	// Floor.
	Multiplier float64
}

// DefaultTimeoutConfig is a 5 minute floor and 4 x the stage's median.
// The floor is long because a stage's first attempts (and every Pregel
// superstep) have no median to compare with: only the floor bounds them.
func DefaultTimeoutConfig() TimeoutConfig {
	return TimeoutConfig{Floor: 5 * time.Minute, Multiplier: 4}
}

// ErrBadTimeoutConfig is matched by TimeoutConfig.Validate's errors.
var ErrBadTimeoutConfig = errors.New("coordinator: bad task timeout config")

// Validate checks the ranges: Floor >= 0, Multiplier >= 1.
func (c TimeoutConfig) Validate() error {
	switch {
	case c.Floor < 0:
		return fmt.Errorf("%w: --task-timeout-floor %v is negative", ErrBadTimeoutConfig, c.Floor)
	case !(c.Multiplier >= 1):
		return fmt.Errorf("%w: --task-timeout-multiplier %v is below 1", ErrBadTimeoutConfig, c.Multiplier)
	}
	return nil
}

// Late is a running attempt past its timeout (see Overdue).
type Late struct {
	AttemptID
	Worker  WorkerID
	Age     time.Duration // how long it has run, as far as the leader knows
	Timeout time.Duration // the timeout it passed
}

// Overdue returns the running attempts of running jobs that are past their
// timeout now, in job, stage, task and attempt order. It is a pure
// function of the state, the clock's times, the start times adopted from
// an earlier leader and now.
//
// An attempt's timeout is the larger of cfg.Floor and cfg.Multiplier x the
// median duration of its stage's committed attempts (the same median as
// Speculate's), doubled for every earlier attempt of the task that timed
// out, so that a task that is slow everywhere gets longer each time and
// ends after the job's MaxAttempts timeouts rather than looping. A stage
// with no measured commit yet (its first attempts) and every Pregel stage
// (its supersteps differ in length, and a pinned superstep has no other
// worker to compare with) get the floor only.
//
// An attempt's start is when this leader sent it (Times.Start); for an
// attempt an earlier leader assigned, it is when this leader took over
// (adopted), so a failover gives every running attempt a full timeout.
func Overdue(s *State, cfg TimeoutConfig, t Times, adopted map[AttemptID]time.Time, now time.Time) []Late {
	if cfg.Floor <= 0 {
		return nil
	}
	var out []Late
	for _, j := range s.Jobs {
		if j.Phase != JobRunning {
			continue
		}
		stage := j.CurrentStage()
		if stage >= len(j.Stages) {
			continue
		}
		bar := cfg.Floor
		if j.Iteration(stage) == nil {
			if median, n := stageMedian(j, stage, t); n > 0 {
				bar = max(bar, time.Duration(cfg.Multiplier*float64(median)))
			}
		}
		for ti, task := range j.Stages[stage].Tasks {
			timeout := bar << min(task.Timeouts, 16)
			for ai, a := range task.Attempts {
				if a.State != AttemptRunning {
					continue
				}
				id := AttemptID{TaskID{j.ID, stage, ti}, ai}
				start, ok := t.Start[id]
				if !ok {
					if start, ok = adopted[id]; !ok {
						continue
					}
				}
				if age := now.Sub(start); age > timeout {
					out = append(out, Late{AttemptID: id, Worker: a.Worker, Age: age, Timeout: timeout})
				}
			}
		}
	}
	return out
}

// stageMedian returns the median duration of the committed attempts of a
// stage whose duration the clock measured, and how many there were (0: no
// median).
func stageMedian(j *Job, stage int, t Times) (time.Duration, int) {
	var took []time.Duration
	for ti, task := range j.Stages[stage].Tasks {
		if c := task.Committed; c != nil {
			if d, ok := t.Took[AttemptID{TaskID{j.ID, stage, ti}, c.Attempt}]; ok {
				took = append(took, d)
			}
		}
	}
	if len(took) == 0 {
		return 0, 0
	}
	return medianOf(took), len(took)
}

// timeouts proposes the end of every attempt past its timeout (Overdue):
// it is lost, not failed in user code (TaskFailed.Timeout), so it reruns
// on another worker, and its worker is told to cancel it. Attempts this
// Ready already ends are skipped.
func (l *Leader) timeouts(s *State, o Observations, stamp Stamp, dead map[WorkerID]bool, r *Ready) {
	if l.cfg.Timeouts.Floor <= 0 {
		return
	}
	ending := endingIn(r)
	var late []Late
	l.clock.Read(func(t Times) { late = Overdue(s, l.cfg.Timeouts, t, l.adopted, o.Now) })
	for _, a := range late {
		if ending[a.AttemptID] || dead[a.Worker] {
			continue
		}
		r.Propose = append(r.Propose, TaskFailed{Stamp: stamp, AttemptID: a.AttemptID, Worker: a.Worker,
			Error:     fmt.Sprintf("timed out: running for %s, longer than its timeout of %s", a.Age.Round(time.Millisecond), a.Timeout),
			ErrorKind: KindLost, Timeout: true})
		r.Send = append(r.Send, Message{Kind: SendCancel, Worker: a.Worker, Term: l.term, Attempt: a.AttemptID})
	}
	for a := range l.adopted {
		if t := attemptOf(s, a); t == nil || t.State != AttemptRunning {
			delete(l.adopted, a)
		}
	}
}

// endingIn returns the attempts whose end r proposes.
func endingIn(r *Ready) map[AttemptID]bool {
	ending := map[AttemptID]bool{}
	for _, c := range r.Propose {
		switch c := c.(type) {
		case TaskSucceeded:
			ending[c.AttemptID] = true
		case TaskFailed:
			ending[c.AttemptID] = true
		}
	}
	return ending
}

// timedOut applies a TaskFailed with Timeout: the attempt is lost and
// marked, the task's timeouts and the worker's failures count it; a pinned
// Pregel superstep rolls back (its partition lives on the slow worker,
// where a retry would have to run); a task that timed out MaxAttempts
// times, with no other attempt running, fails the job.
func (s *State) timedOut(j *Job, t *Task, c TaskFailed) Result {
	t.Attempts[c.Attempt].TimedOut = true
	s.countFailure(c.Worker)
	s.finishAttempt(j, c.Stage, c.Task, c.Attempt, AttemptLost, c.Error)
	t.Timeouts++
	if it := j.Iteration(c.Stage); it != nil && it.Pinned() {
		return s.rollback(j, c.Stage, fmt.Sprintf("task %d on worker %s: %s", c.Task, c.Worker, c.Error))
	}
	if t.Timeouts < j.MaxAttempts || t.Committed != nil || t.Running() {
		return Result{}
	}
	text := fmt.Sprintf("job %s: stage %d task %d timed out %d times: %s", j.ID, c.Stage, c.Task, t.Timeouts, c.Error)
	return Result{Phases: []PhaseChange{s.endJob(j, JobFailed, KindUser, text)}}
}
