package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator"
)

// The in-process control plane. A driver is a one-node cluster in this
// process: it owns a coordinator.State, applies commands to it directly (a
// local log: the same State.Apply the raft FSM calls), and asks
// coordinator.Leader.Step — the cluster leader's own decisions — what to do,
// with the observations of one in-process worker (worker.go) that has
// Config.Slots slots. It carries out each Ready as the cluster's server
// loop does (coordinator/server/loop.go): proposals in order, then
// messages to the worker (assign, cancel, delete), commits and cleanups off
// the loop. Scheduling, the barrier, retries, the Pregel iteration
// (supersteps, checkpoints, rollback), the final-superstep rule and the
// commit are therefore the coordinator's, not this package's.
//
// The loop is event driven: it steps again after every change it applied
// and otherwise sleeps until an observation (a result, an acknowledgement,
// a commit's outcome) wakes it; there is no ticker. The in-process worker
// never misses a heartbeat: every step carries one, with the complete list
// of its running attempts, so that Step's reconcile cancels attempts the
// state ended.

// workerID is the in-process worker's ID, and term the one leader term.
const (
	workerID coordinator.WorkerID = "in-process"
	term     uint64               = 1
)

// observations are what the worker and the commit and cleanup goroutines
// reported since the last step. Guarded by driver.mu.
type observations struct {
	results   []coordinator.Command
	acks      []coordinator.DeleteAck
	committed []coordinator.CommitOutcome
	cleaned   []coordinator.JobID
}

// driver runs one program (one Execute call).
type driver struct {
	cfg  Config
	prog *bsp.Program
	id   coordinator.JobID
	w    *worker

	// Only the loop's goroutine touches these.
	st     *coordinator.State
	leader *coordinator.Leader
	events *coordinator.EventDeriver
	index  uint64
	stages []bsp.StageStats
	starts map[int]time.Time
	cause  error // the task's (or commit's) own error that ended the job

	wake chan struct{}

	mu        sync.Mutex // guards obs, the worker's maps, and the fields below
	obs       observations
	collected map[int][][]byte // read by the commit, before the job's files go
	commitErr error
	deleteErr error
}

func newDriver(cfg Config, prog *bsp.Program, workDir string) *driver {
	d := &driver{cfg: cfg, prog: prog, id: coordinator.JobID(prog.Spec.JobID), st: coordinator.NewState(),
		leader: coordinator.NewLeader(leaderConfig()), events: coordinator.NewEventDeriver(),
		starts: map[int]time.Time{}, wake: make(chan struct{}, 1)}
	d.w = newWorker(d, workDir)
	for i, st := range prog.Spec.Stages {
		d.stages = append(d.stages, bsp.StageStats{Stage: i, Tasks: st.Tasks})
	}
	return d
}

// leaderConfig is the cluster's decisions without speculation (one worker)
// and with ended jobs kept (the state lives for one Execute).
func leaderConfig() coordinator.LeaderConfig {
	c := coordinator.DefaultLeaderConfig()
	c.RetainJobs = 0
	return c
}

func (d *driver) wakeUp() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// observe records an observation and wakes the loop.
func (d *driver) observe(f func(o *observations)) {
	d.mu.Lock()
	f(&d.obs)
	d.mu.Unlock()
	d.wakeUp()
}

func stamp() coordinator.Stamp { return coordinator.Stamp{Time: time.Now().UnixMilli()} }

// run submits the program as the cluster client would and drives it until
// the job ended and its files are gone.
func (d *driver) run(ctx context.Context) (*bsp.Result, error) {
	start := time.Now()
	defer d.w.files.closeAll()
	spec, err := d.prog.Spec.Encode()
	if err != nil {
		return nil, err
	}
	args, err := json.Marshal(d.prog.Spec.Args)
	if err != nil {
		return nil, err
	}
	name := d.prog.Spec.Job
	if name == "" {
		name = "in-process" // a plan built in code, not a registered job
	}
	// The worker runs this very program: no registry to compare (and no
	// hashing of the executable, which bsp.Fingerprint does).
	fp := "in-process"
	d.apply(coordinator.RegisterWorker{Stamp: stamp(), Worker: workerID, Addr: "in-process", Fingerprint: fp,
		Slots: d.cfg.Slots, Memory: d.cfg.Memory})
	if r := d.apply(coordinator.SubmitJob{Stamp: stamp(), Job: d.id, Name: name, Args: args, Spec: spec,
		Fingerprint: fp, MaxAttempts: d.cfg.MaxAttempts}); r.Err != nil && d.st.Job(d.id) == nil {
		return nil, r.Err
	}
	done, cancelled := ctx.Done(), false
	for {
		for d.step() {
		}
		if j := d.st.Job(d.id); j.Phase.Ended() && j.Cleaned {
			break
		}
		select {
		case <-d.wake:
		case <-done:
			done, cancelled = nil, true
			d.apply(coordinator.CancelJob{Stamp: stamp(), Job: d.id, Reason: ctx.Err().Error()})
		}
	}
	d.w.wg.Wait()
	j := d.st.Job(d.id)
	if cancelled && j.Phase != coordinator.JobSucceeded {
		return nil, ctx.Err()
	}
	if err := j.Err(); err != nil {
		var je *coordinator.JobError
		errors.As(err, &je)
		return nil, &JobError{Job: je, Cause: d.cause}
	}
	if d.deleteErr != nil {
		return nil, d.deleteErr
	}
	return d.result(j, start), nil
}

// step gathers the observations, lets the leader decide and carries out
// the Ready. It reports whether it changed the state, so that the loop
// steps again at once (a new assignment is sent in the step after it was
// applied).
func (d *driver) step() bool {
	d.mu.Lock()
	o := d.obs
	d.obs = observations{}
	running := d.w.runningList()
	d.mu.Unlock()
	rd := d.leader.Step(d.st, coordinator.Observations{Now: time.Now(), Term: term,
		Connected:  []coordinator.WorkerID{workerID},
		Heartbeats: []coordinator.Heartbeat{{Worker: workerID, Running: running, Complete: true}},
		Results:    o.results, DeleteAcks: o.acks, Committed: o.committed, Cleaned: o.cleaned})
	changed := false
	for _, c := range rd.Propose {
		if r := d.apply(c); r.Err == nil && !r.Ignored {
			changed = true
		}
	}
	for _, m := range rd.Send {
		switch m.Kind {
		case coordinator.SendAssign:
			if d.assign(m.Attempt) {
				changed = true
			}
		case coordinator.SendCancel:
			d.w.cancel(m.Attempt)
		case coordinator.SendDelete:
			d.w.deleteJob(m.Job)
		}
	}
	for _, id := range rd.Commit {
		d.commit(id)
	}
	for _, id := range rd.Cleanup {
		d.cleanup(id)
	}
	return changed
}

// apply appends one command to the local log: State.Apply, then the job
// events it derives (progress and statistics) and, when it ended the job,
// the Go error of the attempt (or commit) that ended it.
func (d *driver) apply(c coordinator.Command) coordinator.Result {
	r := d.st.Apply(c)
	d.index++
	for _, e := range d.events.Derive(d.st, c, r, d.index, time.Now().UnixMilli()) {
		d.event(e)
	}
	for _, p := range r.Phases {
		if p.Job != d.id || p.Phase != coordinator.JobFailed || d.cause != nil {
			continue
		}
		switch c := c.(type) {
		case coordinator.TaskFailed:
			d.mu.Lock()
			d.cause = d.w.errs[c.AttemptID]
			d.mu.Unlock()
		case coordinator.FinishJob:
			d.mu.Lock()
			d.cause = d.commitErr
			d.mu.Unlock()
		}
	}
	return r
}

// event turns a job event into statistics and a progress event.
func (d *driver) event(e coordinator.Event) {
	if e.Stage < 0 || e.Stage >= len(d.stages) {
		return
	}
	st := &d.prog.Spec.Stages[e.Stage]
	switch e.Kind {
	case coordinator.EventStageStarted:
		d.starts[e.Stage] = time.Now()
		d.progress(Event{Stage: e.Stage, Tasks: st.Tasks, Task: -1, Ops: st.Ops})
	case coordinator.EventTaskCommitted:
		a := coordinator.AttemptID{TaskID: coordinator.TaskID{Job: d.id, Stage: e.Stage, Task: e.Task}, Attempt: e.Attempt}
		d.mu.Lock()
		rep := d.w.reports[a]
		d.mu.Unlock()
		d.progress(Event{Stage: e.Stage, Tasks: st.Tasks, Task: e.Task, Report: rep})
	case coordinator.EventStageFinished:
		s := &d.stages[e.Stage]
		s.RecordsIn, s.RecordsOut, s.ShuffleBytes, s.ShuffleRaw, s.Spills =
			e.Counters.RecordsIn, e.Counters.RecordsOut, e.Counters.ShuffleBytes, e.Counters.ShuffleRaw, int(e.Counters.Spills)
		if t, ok := d.starts[e.Stage]; ok {
			s.Wall = time.Since(t)
		}
		d.progress(Event{Stage: e.Stage, Tasks: st.Tasks, Task: -1, Done: true, Ops: st.Ops})
	}
}

var progressMu sync.Mutex

func (d *driver) progress(ev Event) {
	if d.cfg.Progress == nil {
		return
	}
	progressMu.Lock()
	defer progressMu.Unlock()
	d.cfg.Progress(ev)
}

// assign carries out an assignment: it builds the attempt's task from the
// state (as the server builds a TaskAssignment) and starts it on the
// worker. An attempt that ended before it was sent is skipped; one whose
// inputs cannot be located is lost (proposed at once, as the server does).
func (d *driver) assign(a coordinator.AttemptID) bool {
	ts, in, why := d.task(a)
	if ts == nil {
		if why == "" {
			return false
		}
		r := d.apply(coordinator.TaskFailed{Stamp: stamp(), AttemptID: a, Worker: workerID,
			Error: "could not build the assignment: " + why, ErrorKind: coordinator.KindLost})
		return r.Err == nil && !r.Ignored
	}
	d.w.start(a, *ts, in)
	return false
}

// task is the bsp form of attempt a, as the state defines it: its bounds,
// its superstep and, for a stage that reads a shuffle, the committed map
// outputs by input side (or the previous superstep's message outputs).
func (d *driver) task(a coordinator.AttemptID) (*bsp.TaskSpec, *inputs, string) {
	j := d.st.Job(a.Job)
	if j == nil {
		return nil, nil, ""
	}
	t := j.Task(a.Stage, a.Task)
	if t == nil || a.Attempt >= len(t.Attempts) || t.Attempts[a.Attempt].State != coordinator.AttemptRunning {
		return nil, nil, ""
	}
	ts := &bsp.TaskSpec{Stage: a.Stage, Partition: a.Task, Attempt: a.Attempt, Bounds: j.Bounds(a.Stage)}
	it := j.Iteration(a.Stage)
	if it != nil {
		ts.Superstep, ts.Restore, ts.Final, ts.Aggregates = it.Superstep, it.Restore, it.Final, it.Aggregates
	}
	stage := j.Plan().Stages[a.Stage]
	in := &inputs{w: d.w, sides: map[[2]int][]coordinator.OutputRef{}}
	if stage.Input.Kind != coordinator.InputShuffle {
		return ts, in, ""
	}
	refs, err := d.st.ShuffleInputs(a.Job, a.Stage)
	if err != nil {
		return nil, nil, err.Error()
	}
	if it != nil && it.Superstep > 0 {
		if it.Pinned() {
			in.sides[[2]int{stage.Input.Node, coordinator.MessageSide}] = refs
		}
		return ts, in, ""
	}
	for side := range max(stage.Input.Sides, 1) {
		in.sides[[2]int{stage.Input.Node, side}] = []coordinator.OutputRef{}
	}
	for _, r := range refs {
		k := [2]int{stage.Input.Node, r.Side}
		if _, ok := in.sides[k]; !ok {
			return nil, nil, fmt.Sprintf("map output of stage %d on side %d of a %d-sided input", r.Stage, r.Side, len(in.sides))
		}
		in.sides[k] = append(in.sides[k], r)
	}
	return ts, in, ""
}

// commit commits a committing job off the loop, as the leader does: every
// committed sink part and then the sinks (bsp.CommitSinkParts), the
// collected outputs read back for the submitter, the checkpoints removed;
// the outcome comes back as an observation.
func (d *driver) commit(id coordinator.JobID) {
	var parts []bsp.SinkFile
	for _, sc := range d.st.SinkCommits(id) {
		if sf := sc.Commit.Report.SinkFile; sf != nil {
			parts = append(parts, bsp.SinkFile{Node: sf.Node, Part: sf.Part, Path: sf.Path, Size: sf.Size})
		}
	}
	collect := d.st.CollectOutputs(id)
	d.w.wg.Go(func() {
		err := bsp.CommitSinkParts(context.Background(), d.prog.Spec, parts)
		var blocks map[int][][]byte
		if err == nil {
			blocks, err = d.readCollected(collect)
		}
		if err == nil {
			err = bsp.RemoveCheckpoints(d.prog.Spec)
		}
		out := coordinator.CommitOutcome{Job: id}
		d.mu.Lock()
		if err != nil {
			out.Err = "committing the output: " + err.Error()
			d.commitErr = err
		}
		d.collected = blocks
		d.obs.committed = append(d.obs.committed, out)
		d.mu.Unlock()
		d.wakeUp()
	})
}

// readCollected reads every block of the committed collect outputs.
func (d *driver) readCollected(collect map[int][]coordinator.OutputRef) (map[int][][]byte, error) {
	out := map[int][][]byte{}
	for node, refs := range collect {
		var blocks [][]byte
		for _, r := range refs {
			f, err := d.w.files.get(r.File)
			if err != nil {
				return nil, fmt.Errorf("reading collected output %s: %w", r.File.Path, err)
			}
			if len(f.ix.Runs) != 1 {
				return nil, fmt.Errorf("collected output %s has %d partitions, want 1", r.File.Path, len(f.ix.Runs))
			}
			for _, run := range f.ix.Runs[0] {
				for _, h := range run.Blocks {
					b, err := f.fr.ReadBlock(h, nil)
					if err != nil {
						return nil, fmt.Errorf("reading collected output %s: %w", r.File.Path, err)
					}
					blocks = append(blocks, b)
				}
			}
		}
		out[node] = blocks
	}
	return out, nil
}

// cleanup removes the job's files that are not the worker's, off the loop:
// a job that did not succeed has its temporary sink output aborted; the
// checkpoints go either way.
func (d *driver) cleanup(id coordinator.JobID) {
	failed := d.st.Job(id).Phase != coordinator.JobSucceeded
	d.w.wg.Go(func() {
		if failed {
			_ = bsp.AbortSinks(context.Background(), d.prog.Spec)
		}
		_ = bsp.RemoveCheckpoints(d.prog.Spec)
		d.observe(func(o *observations) { o.cleaned = append(o.cleaned, id) })
	})
}

// result is a succeeded job's bsp.Result: the collected blocks, and per
// stage the totals of its commits (every vertex superstep of a Pregel
// stage) with the attempts the state counted.
func (d *driver) result(j *coordinator.Job, start time.Time) *bsp.Result {
	d.mu.Lock()
	res := &bsp.Result{Collected: d.collected}
	d.mu.Unlock()
	if res.Collected == nil {
		res.Collected = map[int][][]byte{}
	}
	for i := range d.stages {
		s := d.stages[i]
		for _, t := range j.Stages[i].Tasks {
			s.Attempts += len(t.Attempts)
		}
		if it := j.Iteration(i); it != nil {
			s.Supersteps = it.Superstep + 1
		}
		s.Retries = max(0, s.Attempts-s.Tasks*max(1, s.Supersteps))
		res.Stages = append(res.Stages, s)
	}
	res.Wall = time.Since(start)
	return res
}

// JobError is the error of a program that failed in process: its text is
// the coordinator's account of the failure (which task, how many attempts,
// and the task's error), and it unwraps both to the coordinator's error
// (matching coordinator.ErrJobFailed, ErrPermanent, …) and to the Go error
// of the attempt or commit that ended the job, so that errors.As finds a
// *bsp.TaskError or *bsp.InputError and errors.Is a bsp sentinel.
type JobError struct {
	Job   *coordinator.JobError
	Cause error // nil when no one error ended the job
}

func (e *JobError) Error() string { return e.Job.Error() }

// Unwrap returns the coordinator's job error and the cause.
func (e *JobError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Job}
	}
	return []error{e.Job, e.Cause}
}

// removeJobDir removes what is left of the job's work directory.
func removeJobDir(workDir string, prog *bsp.Program) error {
	err := os.RemoveAll(filepath.Join(workDir, prog.Spec.JobID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
