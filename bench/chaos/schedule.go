package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// kind is a fault the harness injects.
type kind int

const (
	killWorker       kind = iota // SIGKILL a worker; start it again after For
	pauseWorker                  // SIGSTOP a worker for For, then SIGCONT
	killCoordinator              // SIGKILL the coordinator; start it again (same data dir) after For
	pauseCoordinator             // SIGSTOP the coordinator for For
	corruptShuffle               // overwrite 16 bytes of one of the job's shuffle files
	truncateShuffle              // truncate one of the job's shuffle files
	fullDisk                     // fill the tmpfs worker's data dir for For
	slowTask                     // delay one task (every stage's task Task) on a worker by For
	numKinds
)

var kindNames = [...]string{"kill-worker", "pause-worker", "kill-coordinator", "pause-coordinator",
	"corrupt-shuffle", "truncate-shuffle", "full-disk", "slow-task"}

func (k kind) String() string { return kindNames[k] }

// fault is one planned fault of a run. Every field is drawn from the run's
// seeded generator, so a seed replays the same schedule.
type fault struct {
	Kind   kind
	AtFrac float64       // when, as a fraction of the job's clean run time
	At     time.Duration // after the job was submitted: AtFrac x the job's window
	For    time.Duration
	Target int     // worker index (worker faults)
	Task   int     // slow-task: the partition
	Pick   uint64  // shuffle faults: which file (modulo the files found)
	Frac   float64 // shuffle faults: where in the file
}

func (f fault) String() string {
	s := fmt.Sprintf("%s at +%s (%.2f)", f.Kind, f.At.Round(time.Millisecond), f.AtFrac)
	switch f.Kind {
	case killWorker, pauseWorker:
		s += fmt.Sprintf(" worker-%d for %s", f.Target, f.For.Round(time.Millisecond))
	case killCoordinator, pauseCoordinator, fullDisk:
		s += fmt.Sprintf(" for %s", f.For.Round(time.Millisecond))
	case slowTask:
		s += fmt.Sprintf(" worker-%d task %d by %s", f.Target, f.Task, f.For.Round(time.Millisecond))
	case corruptShuffle, truncateShuffle:
		s += fmt.Sprintf(" file #%d at %.2f", f.Pick, f.Frac)
	}
	return s
}

// run is one job with its planned faults.
type run struct {
	N      int
	Job    string
	Faults []fault
}

func (r run) String() string {
	fs := make([]string, len(r.Faults))
	for i, f := range r.Faults {
		fs[i] = f.String()
	}
	if len(fs) == 0 {
		fs = []string{"no faults"}
	}
	return fmt.Sprintf("run %d %s: %s", r.N, r.Job, strings.Join(fs, "; "))
}

// planner draws runs from a seed. Run n depends only on the seed, n, the
// job list and the options, never on what happened before it: `--seed S
// --from n --runs 1` replays exactly run n's schedule. Fault times are
// drawn as fractions of a job's window (its clean run's time on this
// cluster, measured at the start), so they land inside the job on a fast
// machine and on a slow one alike.
type planner struct {
	seed    uint64
	jobs    []string
	workers int
	kinds   []kind // the faults that can be drawn
	window  map[string]time.Duration
	parts   int
}

func (p planner) plan(n int) run {
	rng := rand.New(rand.NewPCG(p.seed, uint64(n)))
	r := run{N: n, Job: p.jobs[rng.IntN(len(p.jobs))]}
	if len(p.kinds) == 0 {
		return r
	}
	nf := rng.IntN(3) + 1 // one to three faults a job
	for range nf {
		f := fault{Kind: p.kinds[rng.IntN(len(p.kinds))], AtFrac: rng.Float64(),
			Target: rng.IntN(p.workers), Task: rng.IntN(p.parts), Pick: rng.Uint64(), Frac: rng.Float64()}
		f.At = time.Duration(f.AtFrac * float64(p.window[r.Job]))
		switch f.Kind {
		case killWorker:
			f.For = between(rng, 200*time.Millisecond, 5*time.Second)
		case pauseWorker:
			// Either side of the coordinator's 2 s worker timeout.
			f.For = between(rng, 300*time.Millisecond, 6*time.Second)
		case killCoordinator:
			f.For = between(rng, 100*time.Millisecond, 3*time.Second)
		case pauseCoordinator:
			f.For = between(rng, 200*time.Millisecond, 4*time.Second)
		case fullDisk:
			f.For = between(rng, time.Second, 8*time.Second)
		case slowTask:
			f.For = between(rng, 2*time.Second, 12*time.Second)
		}
		r.Faults = append(r.Faults, f)
	}
	return r
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
