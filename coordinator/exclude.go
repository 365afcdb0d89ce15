package coordinator

import (
	"errors"
	"fmt"
	"time"
)

// Exclusion on failure, in the manner of Spark's excludeOnFailure: a
// worker on which several attempts in a row fail (in user code, or by
// timing out), with no success in between and whatever their jobs, is
// most likely broken itself (a read-only or full data dir, a bad disk, a
// wedged process) rather than the tasks. The leader excludes it for a
// while: it gets no new task, and the Pregel partitions it holds move.
//
// The count (Worker.Failures) and the exclusion (Worker.ExcludedUntilMs,
// set by the ExcludeWorker command) are replicated state, so that a new
// leader keeps them; the exclusion ends by itself once the time (the
// leader's clock) passes its end.

// ExclusionConfig says when a failing worker is excluded. Flags:
// --exclude-after, --exclude-for.
type ExclusionConfig struct {
	// Failures is how many attempts in a row must fail on a worker for it
	// to be excluded; zero never excludes.
	Failures int
	// For is how long an exclusion lasts.
	For time.Duration
}

// DefaultExclusionConfig excludes a worker for 10 minutes after 3 attempts
// in a row failed on it. Three is the default MaxAttempts: a task that
// fails because of its own bug fails on three workers (a retry goes to
// another worker) and adds one failure to each.
func DefaultExclusionConfig() ExclusionConfig {
	return ExclusionConfig{Failures: 3, For: 10 * time.Minute}
}

// ErrBadExclusionConfig is matched by ExclusionConfig.Validate's errors.
var ErrBadExclusionConfig = errors.New("coordinator: bad exclusion config")

// Validate checks the ranges: Failures >= 0 and, when excluding, For > 0.
func (c ExclusionConfig) Validate() error {
	switch {
	case c.Failures < 0:
		return fmt.Errorf("%w: --exclude-after %d is negative", ErrBadExclusionConfig, c.Failures)
	case c.Failures > 0 && c.For <= 0:
		return fmt.Errorf("%w: --exclude-for %v is not positive", ErrBadExclusionConfig, c.For)
	}
	return nil
}

// ExcludeWorker excludes a live worker from scheduling until UntilMs (Unix
// ms): it gets no new attempt (its running ones go on, its outputs stay
// readable), except that no Pregel stage may depend on it: its attempts of
// Pregel stages are lost, every Pregel stage whose current superstep needs
// a vertex partition it holds rolls back to its last checkpoint, and the
// tasks of a superstep 0 (or a restore) that committed on it run again
// elsewhere, so that the partitions move to other workers. Its failure count starts again from
// zero. Excluding a dead worker, or one excluded at the command's time, is
// a no-op.
type ExcludeWorker struct {
	Stamp
	Worker  WorkerID `json:"worker"`
	UntilMs int64    `json:"until_ms"`
	Reason  string   `json:"reason,omitempty"`
}

// Kind implements Command.
func (ExcludeWorker) Kind() string { return "exclude_worker" }

func (c ExcludeWorker) validate() error {
	switch {
	case c.Worker == "":
		return badf("exclude_worker: empty worker ID")
	case c.UntilMs <= 0:
		return badf("exclude_worker: until %d", c.UntilMs)
	}
	return nil
}

// Excluded reports whether the worker is excluded at nowMs (Unix ms).
func (w *Worker) Excluded(nowMs int64) bool { return !w.Dead && w.ExcludedUntilMs > nowMs }

// countFailure counts one more failed attempt on worker id.
func (s *State) countFailure(id WorkerID) {
	if w := s.workers[id]; w != nil {
		w.Failures++
	}
}

func (s *State) exclude(c ExcludeWorker) Result {
	w := s.workers[c.Worker]
	switch {
	case w == nil:
		return rejected(fmt.Errorf("%w: %s", ErrUnknownWorker, c.Worker))
	case w.Dead || w.Excluded(s.now) || c.UntilMs <= s.now:
		return ignored
	}
	w.ExcludedUntilMs, w.ExcludedReason, w.Failures = c.UntilMs, c.Reason, 0
	var r Result
	msg := fmt.Sprintf("worker %s excluded: %s", w.ID, c.Reason)
	for _, j := range s.Jobs {
		if !j.Active() {
			continue
		}
		// No Pregel stage may come to depend on w: its running attempts of
		// those stages are lost, and the partitions it holds move (the
		// repair of a dead worker's).
		for si, st := range j.Stages {
			if st.Iter == nil {
				continue
			}
			for ti, t := range st.Tasks {
				for ai, a := range t.Attempts {
					if a.State == AttemptRunning && a.Worker == w.ID {
						s.finishAttempt(j, si, ti, ai, AttemptLost, msg)
					}
				}
			}
		}
		ir := s.iterWorkerDead(j, w.ID, msg)
		r.Uncommitted = append(r.Uncommitted, ir.Uncommitted...)
		r.Phases = append(r.Phases, ir.Phases...)
	}
	return r
}

// exclude proposes the exclusion of every live worker whose failures
// reached the threshold, unless that would leave a job it can run with no
// other live worker that is not excluded: a broken job (which fails
// everywhere) must not take every worker out, and a job only this worker
// can run is better tried there than never.
func (l *Leader) exclude(s *State, o Observations, stamp Stamp, dead map[WorkerID]bool, r *Ready) {
	c := l.cfg.Exclusion
	if c.Failures <= 0 {
		return
	}
	now := o.Now.UnixMilli()
	out := map[WorkerID]bool{}
	for _, w := range s.Workers {
		if w.Dead || dead[w.ID] || w.Excluded(now) {
			out[w.ID] = true
		}
	}
	for _, w := range s.Workers {
		if out[w.ID] || w.Failures < c.Failures || !l.othersCanRun(s, w, out) {
			continue
		}
		out[w.ID] = true
		r.Propose = append(r.Propose, ExcludeWorker{Stamp: stamp, Worker: w.ID, UntilMs: now + c.For.Milliseconds(),
			Reason: fmt.Sprintf("%d attempts in a row failed on it", w.Failures)})
	}
}

// othersCanRun reports whether every active job that w can run, and the
// registry of w if there is none, has another worker not in out that can
// run it.
func (l *Leader) othersCanRun(s *State, w *Worker, out map[WorkerID]bool) bool {
	other := func(ok func(*Worker) bool) bool {
		for _, x := range s.Workers {
			if x.ID != w.ID && !out[x.ID] && ok(x) {
				return true
			}
		}
		return false
	}
	if !other(func(x *Worker) bool { return x.Fingerprint == w.Fingerprint }) {
		return false
	}
	for _, j := range s.Jobs {
		if j.Active() && w.CanRun(j) && !other(func(x *Worker) bool { return x.CanRun(j) }) {
			return false
		}
	}
	return true
}

// excludingIn returns the workers whose exclusion r proposes: they get no
// assignment in the same Ready.
func excludingIn(r *Ready) map[WorkerID]bool {
	var m map[WorkerID]bool
	for _, c := range r.Propose {
		if c, ok := c.(ExcludeWorker); ok {
			if m == nil {
				m = map[WorkerID]bool{}
			}
			m[c.Worker] = true
		}
	}
	return m
}
