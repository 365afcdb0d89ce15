package coordinator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// SpeculationConfig says when a straggling attempt gets a speculative copy.
// Flags: --speculation, --speculation-quantile, --speculation-multiplier,
// --speculation-min.
type SpeculationConfig struct {
	Enabled bool
	// Quantile is the fraction of a stage's tasks that must have committed
	// before any of its attempts is speculated.
	Quantile float64
	// Multiplier: a running attempt older than Multiplier x the median
	// duration of the stage's committed attempts is a straggler...
	Multiplier float64
	// MinRuntime: ... when it is also older than MinRuntime.
	MinRuntime time.Duration
}

// DefaultSpeculationConfig is Spark 4's choice (0.9 and 3, after years of
// trouble with 0.75 and 1.5) with a 1 s floor.
func DefaultSpeculationConfig() SpeculationConfig {
	return SpeculationConfig{Enabled: true, Quantile: 0.9, Multiplier: 3, MinRuntime: time.Second}
}

// ErrBadSpeculationConfig is matched by Validate's errors.
var ErrBadSpeculationConfig = errors.New("coordinator: bad speculation config")

// Validate checks the ranges: Quantile in (0, 1], Multiplier >= 1,
// MinRuntime >= 0.
func (c SpeculationConfig) Validate() error {
	switch {
	case !(c.Quantile > 0 && c.Quantile <= 1):
		return fmt.Errorf("%w: --speculation-quantile %v is not in (0, 1]", ErrBadSpeculationConfig, c.Quantile)
	case !(c.Multiplier >= 1):
		return fmt.Errorf("%w: --speculation-multiplier %v is below 1", ErrBadSpeculationConfig, c.Multiplier)
	case c.MinRuntime < 0:
		return fmt.Errorf("%w: --speculation-min %v is negative", ErrBadSpeculationConfig, c.MinRuntime)
	}
	return nil
}

// AttemptClock records when the leader saw attempts start and end. Time is
// not part of the replicated state, so, like FailureDetector, the clock is
// the leader's own observation: it reads no clock itself, the leader passes
// the time. A new leader starts with an empty clock, so attempts it did not
// see start are never speculated (their age is unknown) until they are
// retried; that errs on the side of not speculating. It is safe for
// concurrent use.
type AttemptClock struct {
	mu     sync.Mutex // guards the fields below
	start  map[AttemptID]time.Time
	took   map[AttemptID]time.Duration
	copied map[TaskID]bool
}

// NewAttemptClock returns an empty clock.
func NewAttemptClock() *AttemptClock {
	return &AttemptClock{start: map[AttemptID]time.Time{}, took: map[AttemptID]time.Duration{}, copied: map[TaskID]bool{}}
}

// Copied records that task got a speculative copy: it gets no other.
func (c *AttemptClock) Copied(task TaskID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.copied[task] = true
}

// Started records that attempt a was assigned at now. A repeated call keeps
// the first time.
func (c *AttemptClock) Started(a AttemptID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.start[a]; !ok {
		c.start[a] = now
	}
}

// Ended records that attempt a reported at now; attempts whose start was
// not seen are ignored.
func (c *AttemptClock) Ended(a AttemptID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.start[a]; ok {
		if _, done := c.took[a]; !done {
			c.took[a] = now.Sub(t)
		}
	}
}

// Shift moves the start of every attempt still running by d: time in which
// the leader did not run (LeaderConfig.StepGap) does not count toward an
// attempt's age.
func (c *AttemptClock) Shift(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, t := range c.start {
		if _, done := c.took[a]; !done {
			c.start[a] = t.Add(d)
		}
	}
}

// ForgetJob drops the records of a job that ended.
func (c *AttemptClock) ForgetJob(j JobID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a := range c.start {
		if a.Job == j {
			delete(c.start, a)
			delete(c.took, a)
		}
	}
	for t := range c.copied {
		if t.Job == j {
			delete(c.copied, t)
		}
	}
}

// Times is a read of the clock: the start of running attempts, the
// duration of ended ones and the tasks that got a copy.
type Times struct {
	Start  map[AttemptID]time.Time
	Took   map[AttemptID]time.Duration
	Copied map[TaskID]bool
}

// Read calls fn with the clock's times, under its lock: fn must not keep
// or modify them, nor call the clock.
func (c *AttemptClock) Read(fn func(Times)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(Times{Start: c.start, Took: c.took, Copied: c.copied})
}

// Snapshot copies the clock for a pure decision.
func (c *AttemptClock) Snapshot() Times {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := Times{Start: make(map[AttemptID]time.Time, len(c.start)), Took: make(map[AttemptID]time.Duration, len(c.took)),
		Copied: make(map[TaskID]bool, len(c.copied))}
	for k := range c.copied {
		t.Copied[k] = true
	}
	for a, s := range c.start {
		t.Start[a] = s
	}
	for a, d := range c.took {
		t.Took[a] = d
	}
	return t
}

// Straggler is an attempt that Speculate picked for a copy.
type Straggler struct {
	AttemptID               // the running attempt
	Worker    WorkerID      // where it runs: the copy must go elsewhere
	Age       time.Duration // how long it has run
	Median    time.Duration // the median duration of the stage's committed attempts
}

// Speculate returns the running attempts that should get one speculative
// copy now, in job, stage and task order. It is a pure function of the
// state, the clock's times and now.
//
// For each running job's current stage: once at least Quantile of its
// tasks (rounded down, at least one) have committed, a task that has exactly one attempt running, no
// commit and no earlier copy (Times.Copied: a task is copied at most once
// per leader), whose running attempt is older than MinRuntime and than
// Multiplier x the median duration of the stage's committed attempts, is a
// straggler. Only committed attempts whose duration the clock measured
// count towards the median; with none, nothing is speculated.
//
// Pregel stages are never speculated: a superstep past 0 runs where its
// vertex partition is resident, and a copy elsewhere would first have to
// restore the partition from a checkpoint, which this decision leaves to
// the recovery path. Stages of jobs that are not running are skipped.
func Speculate(s *State, cfg SpeculationConfig, t Times, now time.Time) []Straggler {
	if !cfg.Enabled {
		return nil
	}
	var out []Straggler
	for _, j := range s.Jobs {
		if j.Phase != JobRunning {
			continue
		}
		stage := j.CurrentStage()
		if stage >= len(j.Stages) || j.Iteration(stage) != nil {
			continue
		}
		tasks := j.Stages[stage].Tasks
		committed := 0
		for _, task := range tasks {
			if task.Committed != nil {
				committed++
			}
		}
		if committed == len(tasks) || committed < max(int(math.Floor(cfg.Quantile*float64(len(tasks)))), 1) {
			continue
		}
		median, n := stageMedian(j, stage, t)
		if n == 0 {
			continue
		}
		bar := max(time.Duration(cfg.Multiplier*float64(median)), cfg.MinRuntime)
		for ti, task := range tasks {
			if task.Committed != nil || t.Copied[TaskID{j.ID, stage, ti}] {
				continue
			}
			running := -1
			for ai, a := range task.Attempts {
				if a.State == AttemptRunning {
					if running >= 0 {
						running = -2 // two running: already copied
						break
					}
					running = ai
				}
			}
			if running < 0 {
				continue
			}
			id := AttemptID{TaskID{j.ID, stage, ti}, running}
			start, ok := t.Start[id]
			if !ok {
				continue
			}
			if age := now.Sub(start); age > bar {
				out = append(out, Straggler{AttemptID: id, Worker: task.Attempts[running].Worker, Age: age, Median: median})
			}
		}
	}
	return out
}

// medianOf returns the median of d (the mean of the two middle values for
// an even count); d is reordered.
func medianOf(d []time.Duration) time.Duration {
	slices.Sort(d)
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

// SpeculationTarget picks the worker for a straggler's copy: of the workers
// with a free slot in free that can run the job, not the straggler's own,
// the one with the most free slots (ties to the smaller ID). It returns ""
// when there is none. free is not modified.
func SpeculationTarget(s *State, st Straggler, free map[WorkerID]int) WorkerID {
	j := s.Job(st.Job)
	if j == nil {
		return ""
	}
	var best WorkerID
	for _, w := range s.Workers { // sorted by ID
		if w.ID == st.Worker || !w.CanRun(j) || free[w.ID] <= 0 {
			continue
		}
		if best == "" || free[w.ID] > free[best] {
			best = w.ID
		}
	}
	return best
}
