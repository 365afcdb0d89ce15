package coordinator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// JobPhase is where a job is in its life.
type JobPhase string

// Job phases. A job starts running; once every task of every stage has
// committed it is committing (the leader commits its sinks and reads its
// collected outputs, then proposes FinishJob); it ends succeeded, failed or
// cancelled. Losing a needed output while committing moves it back to
// running.
const (
	JobRunning    JobPhase = "running"
	JobCommitting JobPhase = "committing"
	JobSucceeded  JobPhase = "succeeded"
	JobFailed     JobPhase = "failed"
	JobCancelled  JobPhase = "cancelled"
)

// Ended reports whether p is a final phase.
func (p JobPhase) Ended() bool {
	return p == JobSucceeded || p == JobFailed || p == JobCancelled
}

// AttemptState is the state of one task attempt.
type AttemptState string

// Attempt states. Lost attempts failed through no fault of the task (their
// worker died, their input was lost, their job ended) and do not count
// against the attempt limit; failed ones do.
const (
	AttemptRunning   AttemptState = "running"
	AttemptSucceeded AttemptState = "succeeded"
	AttemptFailed    AttemptState = "failed"
	AttemptLost      AttemptState = "lost"
)

// Attempt is one run of a task on a worker. Its number is its index in
// Task.Attempts.
type Attempt struct {
	Worker WorkerID     `json:"worker"`
	State  AttemptState `json:"state"`
	Error  string       `json:"error,omitempty"`
	// Superstep is the superstep the attempt ran, for a Pregel stage.
	Superstep int `json:"superstep,omitempty"`
	// Speculative marks a copy of a straggling attempt.
	Speculative bool `json:"speculative,omitempty"`
	// TimedOut marks a lost attempt that ran past its timeout (Overdue).
	TimedOut bool `json:"timed_out,omitempty"`
}

// Commit is the one committed attempt of a task and its report.
type Commit struct {
	Attempt int        `json:"attempt"`
	Worker  WorkerID   `json:"worker"`
	Report  TaskReport `json:"report"`
}

// Task is the state of one partition of one stage.
type Task struct {
	Attempts []Attempt `json:"attempts,omitempty"`
	// Failures counts the attempts that failed in user code.
	Failures int `json:"failures,omitempty"`
	// Losses counts the times readers reported the task's committed output
	// unreadable (MapOutputLost); a worker's death does not count.
	Losses int `json:"losses,omitempty"`
	// Timeouts counts the attempts that ran past their timeout; each one
	// doubles the next attempt's, and MaxAttempts of them fail the job.
	Timeouts int `json:"timeouts,omitempty"`
	// Committed is the committed attempt, nil while the task has none.
	Committed *Commit `json:"committed,omitempty"`
}

// Running reports whether the task has a running attempt.
func (t *Task) Running() bool {
	for _, a := range t.Attempts {
		if a.State == AttemptRunning {
			return true
		}
	}
	return false
}

// Stage is the state of the tasks of one stage.
type Stage struct {
	Tasks []*Task `json:"tasks"`
	// Iter is the state of a Pregel stage's iteration (see Iteration); nil
	// for other stages.
	Iter *Iteration `json:"iter,omitempty"`
}

// Job is the state of one submitted job.
type Job struct {
	ID          JobID  `json:"id"`
	Name        string `json:"name"`
	Args        []byte `json:"args,omitempty"`
	Spec        []byte `json:"spec"`
	Fingerprint string `json:"fingerprint"`
	MaxAttempts int    `json:"max_attempts"`
	// Owner is the principal that submitted the job (SubmitJob.Owner).
	Owner string   `json:"owner,omitempty"`
	Phase JobPhase `json:"phase"`
	// Error is why a failed or cancelled job ended.
	Error string `json:"error,omitempty"`
	// ErrorKind is the kind of Error when it is set.
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
	// ErrorAt is, for a job failed by a permanent input error, the file and
	// line.
	ErrorAt Location `json:"error_at,omitzero"`
	// SubmittedMs, StartedMs and EndedMs are when the job was submitted, its
	// first attempt was assigned and it ended (Unix ms, 0 while unknown),
	// as the leader stamped the commands (Command times), so that every
	// replica and every restarted leader agrees on them.
	SubmittedMs int64 `json:"submitted_ms,omitempty"`
	StartedMs   int64 `json:"started_ms,omitempty"`
	EndedMs     int64 `json:"ended_ms,omitempty"`
	// Cleaned is set once the job's files were removed from its workers.
	Cleaned bool `json:"cleaned,omitempty"`
	// Deleted lists, sorted, the workers that acknowledged deleting the
	// ended job's files (JobFilesDeleted).
	Deleted []WorkerID `json:"deleted,omitempty"`
	Stages  []*Stage   `json:"stages"`

	plan *Spec // decoded Spec
}

// Plan returns the job's decoded plan. The caller must not modify it.
func (j *Job) Plan() *Spec { return j.plan }

// Active reports whether the job is running or committing.
func (j *Job) Active() bool { return j.Phase == JobRunning || j.Phase == JobCommitting }

// Err returns the job's error: nil unless it failed or was cancelled.
func (j *Job) Err() error {
	if j.Phase != JobFailed && j.Phase != JobCancelled {
		return nil
	}
	return &JobError{Kind: j.ErrorKind, Msg: j.Error, At: j.ErrorAt}
}

// Task returns the task of stage stage, partition task, or nil.
func (j *Job) Task(stage, task int) *Task {
	if stage < 0 || stage >= len(j.Stages) || task < 0 || task >= len(j.Stages[stage].Tasks) {
		return nil
	}
	return j.Stages[stage].Tasks[task]
}

// Worker is a registered worker. Liveness timestamps are not part of the
// replicated state (see FailureDetector); Dead is set by WorkerDead.
type Worker struct {
	ID          WorkerID `json:"id"`
	Addr        string   `json:"addr"`
	Fingerprint string   `json:"fingerprint"`
	Jobs        []string `json:"jobs,omitempty"`
	Slots       int      `json:"slots"`
	Memory      int64    `json:"memory,omitempty"`
	// Cert is the identity of the certificate the ID is bound to: the
	// first that registered it (empty without TLS). A registration with
	// another is refused (ErrWorkerCert).
	Cert string `json:"cert,omitempty"`
	// Running counts the running attempts on the worker.
	Running    int    `json:"running,omitempty"`
	Dead       bool   `json:"dead,omitempty"`
	DeadReason string `json:"dead_reason,omitempty"`
	// Failures counts the attempts that failed on the worker in a row (in
	// user code, or by timing out) since its last success or exclusion.
	Failures int `json:"failures,omitempty"`
	// ExcludedUntilMs, when after the time, is until when the worker gets
	// no new task (ExcludeWorker), and ExcludedReason why.
	ExcludedUntilMs int64  `json:"excluded_until_ms,omitempty"`
	ExcludedReason  string `json:"excluded_reason,omitempty"`
}

// CanRun reports whether the worker is alive and can run tasks of j: same
// registry fingerprint and, when it lists its jobs, j's name among them.
func (w *Worker) CanRun(j *Job) bool {
	if w.Dead || w.Fingerprint != j.Fingerprint {
		return false
	}
	return len(w.Jobs) == 0 || slices.Contains(w.Jobs, j.Name)
}

// State is the replicated coordinator state. It is changed only by Apply,
// which is deterministic; the exported fields are for reading (callers must
// not modify them). A State is not safe for concurrent use; raftnode.Node
// serializes access.
type State struct {
	// Jobs in submission order.
	Jobs []*Job `json:"jobs"`
	// Workers sorted by ID.
	Workers []*Worker `json:"workers"`
	// Term is the newest leader term of an applied AssignTask or FinishJob
	// (fencing).
	Term uint64 `json:"term,omitempty"`

	jobs    map[JobID]*Job
	workers map[WorkerID]*Worker
	// now is the time stamp (Unix ms) of the command being applied (see
	// Stamp), so that the times the state records are part of the log.
	now int64
}

// NewState returns an empty state.
func NewState() *State {
	return &State{jobs: map[JobID]*Job{}, workers: map[WorkerID]*Worker{}}
}

// Job returns the job with the given ID, or nil.
func (s *State) Job(id JobID) *Job { return s.jobs[id] }

// Worker returns the worker with the given ID, or nil.
func (s *State) Worker(id WorkerID) *Worker { return s.workers[id] }

// PhaseChange says that a command moved a job to a new phase.
type PhaseChange struct {
	Job   JobID
	Phase JobPhase
}

// Result is what applying one command did.
type Result struct {
	// Err is why the command was rejected, the state being unchanged; for a
	// SubmitJob that created the job already failed (no live worker can run
	// it), it is the job's error.
	Err error
	// Ignored is set when a valid command had no effect: a duplicate, a late
	// report, a report about an attempt that is no longer running.
	Ignored bool
	// Phases lists the jobs whose phase the command changed, in order.
	Phases []PhaseChange
	// Uncommitted lists the tasks whose committed output was dropped to be
	// recomputed.
	Uncommitted []TaskID
	// Superseded lists the running attempts that lost to another attempt of
	// their task (speculation): the leader cancels them on their workers.
	Superseded []Assignment
}

func rejected(err error) Result { return Result{Err: err} }

var ignored = Result{Ignored: true}

// Apply applies one command. It is deterministic: the same state and
// command give the same new state and result, on every replica. A command
// that Apply rejects (Result.Err) leaves the state unchanged.
func (s *State) Apply(c Command) Result {
	if c == nil {
		return rejected(badf("nil command"))
	}
	if err := c.validate(); err != nil {
		return rejected(err)
	}
	s.now = c.stamp()
	if err := s.fence(c); err != nil {
		return rejected(err)
	}
	switch c := c.(type) {
	case SubmitJob:
		return s.submit(c)
	case CancelJob:
		return s.cancel(c)
	case RegisterWorker:
		return s.register(c)
	case WorkerDead:
		return s.workerDead(c)
	case AssignTask:
		return s.assign(c)
	case TaskSucceeded:
		return s.succeeded(c)
	case TaskFailed:
		return s.failed(c)
	case MapOutputLost:
		return s.mapOutputLost(c)
	case FinishJob:
		return s.finish(c)
	case JobCleaned:
		return s.cleaned(c)
	case JobFilesDeleted:
		return s.filesDeleted(c)
	case ForgetJob:
		return s.forget(c)
	case ExcludeWorker:
		return s.exclude(c)
	}
	return rejected(badf("unknown command %T", c))
}

func (s *State) submit(c SubmitJob) Result {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if j := s.jobs[c.Job]; j != nil {
		if j.Name != c.Name || !bytes.Equal(j.Args, c.Args) || !bytes.Equal(j.Spec, c.Spec) ||
			j.Fingerprint != c.Fingerprint || j.MaxAttempts != c.MaxAttempts || j.Owner != c.Owner {
			// Another principal's submit of the same job is no retry:
			// two racing past the server's owner check meet here.
			return rejected(fmt.Errorf("%w: %s", ErrJobConflict, c.Job))
		}
		r := ignored
		r.Err = j.Err()
		return r
	}
	plan, err := DecodeSpec(c.Spec)
	if err != nil {
		return rejected(err)
	}
	if plan.JobID != "" && JobID(plan.JobID) != c.Job {
		return rejected(fmt.Errorf("%w: spec of job %q submitted as %q", ErrBadSpec, plan.JobID, c.Job))
	}
	if plan.Job != "" && plan.Job != c.Name {
		return rejected(fmt.Errorf("%w: spec of job name %q submitted as %q", ErrBadSpec, plan.Job, c.Name))
	}
	j := &Job{
		ID: c.Job, Name: c.Name, Args: slices.Clone(c.Args), Spec: slices.Clone(c.Spec),
		Fingerprint: c.Fingerprint, MaxAttempts: c.MaxAttempts, Owner: c.Owner, Phase: JobRunning, plan: plan,
		SubmittedMs: s.now,
	}
	for _, st := range plan.Stages {
		stage := &Stage{Tasks: make([]*Task, st.Tasks)}
		for i := range stage.Tasks {
			stage.Tasks[i] = &Task{}
		}
		if st.Iterate != nil {
			stage.Iter = newIteration()
		}
		j.Stages = append(j.Stages, stage)
	}
	s.Jobs = append(s.Jobs, j)
	s.jobs[j.ID] = j
	var r Result
	if !s.runnable(j) {
		r.Phases = append(r.Phases, s.endJob(j, JobFailed, KindNoWorker, noWorkerMessage(j)))
		r.Err = j.Err()
		return r
	}
	// A plan whose stages all have zero tasks is complete at once.
	if j.CurrentStage() == len(j.Stages) {
		j.Phase = JobCommitting
		r.Phases = append(r.Phases, PhaseChange{j.ID, JobCommitting})
	}
	return r
}

func noWorkerMessage(j *Job) string {
	return fmt.Sprintf("no live worker can run job %q (fingerprint %s); start workers from the same binary", j.Name, j.Fingerprint)
}

// runnable reports whether some live worker can run j.
func (s *State) runnable(j *Job) bool {
	for _, w := range s.Workers {
		if w.CanRun(j) {
			return true
		}
	}
	return false
}

// endJob moves j to a final phase, at the time of the command being
// applied; its running attempts are lost.
func (s *State) endJob(j *Job, phase JobPhase, kind ErrorKind, msg string) PhaseChange {
	j.Phase, j.ErrorKind, j.Error = phase, kind, msg
	if j.EndedMs == 0 {
		j.EndedMs = s.now
	}
	for si, st := range j.Stages {
		for ti, t := range st.Tasks {
			for ai := range t.Attempts {
				if t.Attempts[ai].State == AttemptRunning {
					s.finishAttempt(j, si, ti, ai, AttemptLost, "job "+string(phase))
				}
			}
		}
	}
	return PhaseChange{j.ID, phase}
}

// finishAttempt moves a running attempt to a final state.
func (s *State) finishAttempt(j *Job, stage, task, attempt int, st AttemptState, msg string) {
	a := &j.Stages[stage].Tasks[task].Attempts[attempt]
	if a.State == AttemptRunning {
		if w := s.workers[a.Worker]; w != nil && w.Running > 0 {
			w.Running--
		}
	}
	a.State, a.Error = st, msg
}

func (s *State) cancel(c CancelJob) Result {
	j := s.jobs[c.Job]
	if j == nil {
		return rejected(fmt.Errorf("%w: %s", ErrUnknownJob, c.Job))
	}
	if !j.Active() {
		return ignored
	}
	msg := fmt.Sprintf("job %s cancelled", j.ID)
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	return Result{Phases: []PhaseChange{s.endJob(j, JobCancelled, KindCancelled, msg)}}
}

func (s *State) register(c RegisterWorker) Result {
	if w := s.workers[c.Worker]; w != nil {
		switch {
		case w.Cert != "" && c.Cert != w.Cert:
			return rejected(fmt.Errorf("%w: %s is bound to %s, not %q", ErrWorkerCert, c.Worker, w.Cert, c.Cert))
		case w.Dead:
			return rejected(fmt.Errorf("%w: %s", ErrWorkerDead, c.Worker))
		case w.Fingerprint != c.Fingerprint:
			return rejected(fmt.Errorf("%w: %s", ErrWorkerConflict, c.Worker))
		case w.Addr == c.Addr && slices.Equal(w.Jobs, c.Jobs) && w.Slots == c.Slots && w.Memory == c.Memory && w.Cert == c.Cert:
			return ignored
		}
		w.Addr, w.Jobs, w.Slots, w.Memory, w.Cert = c.Addr, slices.Clone(c.Jobs), c.Slots, c.Memory, c.Cert
		return Result{}
	}
	w := &Worker{ID: c.Worker, Addr: c.Addr, Fingerprint: c.Fingerprint, Jobs: slices.Clone(c.Jobs),
		Slots: c.Slots, Memory: c.Memory, Cert: c.Cert}
	i := sort.Search(len(s.Workers), func(i int) bool { return s.Workers[i].ID >= w.ID })
	s.Workers = slices.Insert(s.Workers, i, w)
	s.workers[w.ID] = w
	return Result{}
}

func (s *State) workerDead(c WorkerDead) Result {
	w := s.workers[c.Worker]
	if w == nil {
		return rejected(fmt.Errorf("%w: %s", ErrUnknownWorker, c.Worker))
	}
	if w.Dead {
		return ignored
	}
	msg := fmt.Sprintf("worker %s died", w.ID)
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	var r Result
	for _, j := range s.Jobs {
		if !j.Active() {
			continue
		}
		for si, st := range j.Stages {
			for ti, t := range st.Tasks {
				for ai, a := range t.Attempts {
					if a.State == AttemptRunning && a.Worker == w.ID {
						s.finishAttempt(j, si, ti, ai, AttemptLost, msg)
					}
				}
			}
		}
		lost := s.uncommitLost(j, w.ID, msg)
		r.Uncommitted = append(r.Uncommitted, lost...)
		if j.Phase == JobCommitting && len(lost) > 0 {
			j.Phase = JobRunning
			r.Phases = append(r.Phases, PhaseChange{j.ID, JobRunning})
		}
		ir := s.iterWorkerDead(j, w.ID, msg)
		r.Uncommitted = append(r.Uncommitted, ir.Uncommitted...)
		r.Phases = append(r.Phases, ir.Phases...)
	}
	w.Dead, w.DeadReason, w.Running = true, c.Reason, 0
	for _, j := range s.Jobs {
		if j.Phase == JobRunning && !s.runnable(j) {
			r.Phases = append(r.Phases, s.endJob(j, JobFailed, KindNoWorker, noWorkerMessage(j)))
		}
	}
	return r
}

// uncommitLost drops the committed outputs of j that lived on worker w and
// are still needed: collect outputs (read when the job commits) and shuffle
// outputs that a stage with an uncommitted task reads. Stages are visited
// last to first, so that dropping a stage's outputs makes its own inputs
// needed again.
func (s *State) uncommitLost(j *Job, w WorkerID, msg string) []TaskID {
	var out []TaskID
	for si := len(j.Stages) - 1; si >= 0; si-- {
		kind := j.plan.Stages[si].Output.Kind
		if kind != OutputCollect && (kind != OutputShuffle || !j.outputNeeded(si)) {
			continue
		}
		for ti, t := range j.Stages[si].Tasks {
			if t.Committed != nil && t.Committed.Worker == w {
				s.uncommit(j, si, ti, msg)
				out = append(out, TaskID{j.ID, si, ti})
			}
		}
	}
	return out
}

// uncommit drops the committed output of a task; its attempt is marked lost.
func (s *State) uncommit(j *Job, stage, task int, msg string) {
	t := j.Stages[stage].Tasks[task]
	t.Attempts[t.Committed.Attempt].State = AttemptLost
	t.Attempts[t.Committed.Attempt].Error = msg
	t.Committed = nil
}

// outputNeeded reports whether some stage that reads stage's shuffle output
// has a task without a committed output. A Pregel stage that has a complete
// checkpoint never reads its input again (it rolls back no further than the
// checkpoint).
func (j *Job) outputNeeded(stage int) bool {
	for _, c := range j.plan.Consumers(stage) {
		if it := j.Iteration(c); it != nil && it.Checkpoint != nil {
			continue
		}
		if !j.StageComplete(c) {
			return true
		}
	}
	return false
}

// lookup finds the attempt a report names. It returns a rejection or
// ignoring result when the command should go no further.
func (s *State) lookup(a AttemptID, w WorkerID) (*Job, *Task, *Result) {
	j := s.jobs[a.Job]
	if j == nil {
		r := rejected(fmt.Errorf("%w: %s", ErrUnknownJob, a.Job))
		return nil, nil, &r
	}
	t := j.Task(a.Stage, a.Task)
	if t == nil {
		r := rejected(badf("%s: no such task", a))
		return nil, nil, &r
	}
	if !j.Active() || a.Attempt >= len(t.Attempts) || t.Attempts[a.Attempt].Worker != w ||
		t.Attempts[a.Attempt].State != AttemptRunning {
		r := ignored
		return nil, nil, &r
	}
	return j, t, nil
}

func (s *State) assign(c AssignTask) Result {
	j := s.jobs[c.Job]
	if j == nil {
		return rejected(fmt.Errorf("%w: %s", ErrUnknownJob, c.Job))
	}
	t := j.Task(c.Stage, c.Task)
	if t == nil {
		return rejected(badf("%s: no such task", c.AttemptID))
	}
	if c.Attempt < len(t.Attempts) && t.Attempts[c.Attempt].Worker == c.Worker {
		return ignored
	}
	w := s.workers[c.Worker]
	switch {
	case w == nil:
		return rejected(fmt.Errorf("%w: %s", ErrUnknownWorker, c.Worker))
	case j.Phase != JobRunning:
		return rejected(fmt.Errorf("%w: %s: job is %s", ErrNotAssignable, c.AttemptID, j.Phase))
	case c.Stage != j.CurrentStage():
		return rejected(fmt.Errorf("%w: %s: current stage is %d", ErrNotAssignable, c.AttemptID, j.CurrentStage()))
	case t.Committed != nil:
		return rejected(fmt.Errorf("%w: %s: task committed", ErrNotAssignable, c.AttemptID))
	case t.Running() && !c.Speculative:
		return rejected(fmt.Errorf("%w: %s: task has a running attempt", ErrNotAssignable, c.AttemptID))
	case c.Attempt != len(t.Attempts):
		return rejected(fmt.Errorf("%w: %s: next attempt is %d", ErrNotAssignable, c.AttemptID, len(t.Attempts)))
	case w.Dead:
		return rejected(fmt.Errorf("%w: %s", ErrWorkerDead, c.Worker))
	case !w.CanRun(j):
		return rejected(fmt.Errorf("%w: %s: worker %s cannot run job %q", ErrNotAssignable, c.AttemptID, w.ID, j.Name))
	case w.Running >= w.Slots:
		return rejected(fmt.Errorf("%w: %s: worker %s has no free slot", ErrNotAssignable, c.AttemptID, w.ID))
	}
	if c.Speculative {
		if why := t.notSpeculable(j, c); why != "" {
			return rejected(fmt.Errorf("%w: %s: no speculative copy: %s", ErrNotAssignable, c.AttemptID, why))
		}
	}
	a := Attempt{Worker: w.ID, State: AttemptRunning, Speculative: c.Speculative}
	if it := j.Iteration(c.Stage); it != nil {
		if o := it.Owner(c.Task); o != "" && o != w.ID {
			return rejected(fmt.Errorf("%w: %s: superstep %d runs where partition %d is held, on worker %s",
				ErrNotAssignable, c.AttemptID, it.Superstep, c.Task, o))
		}
		a.Superstep = it.Superstep
	}
	t.Attempts = append(t.Attempts, a)
	w.Running++
	if j.StartedMs == 0 {
		j.StartedMs = s.now
	}
	return Result{}
}

func (s *State) succeeded(c TaskSucceeded) Result {
	j, t, r := s.lookup(c.AttemptID, c.Worker)
	if r != nil {
		return *r
	}
	var err error
	if it := j.Iteration(c.Stage); it != nil {
		err = c.Report.checkIter(&j.plan.Stages[c.Stage], it, t.Attempts[c.Attempt].Superstep)
	} else {
		err = c.Report.check(&j.plan.Stages[c.Stage])
	}
	if err != nil {
		return s.fail(j, t, c.AttemptID, "invalid task report: "+err.Error(), KindUser, Location{})
	}
	s.finishAttempt(j, c.Stage, c.Task, c.Attempt, AttemptSucceeded, "")
	if w := s.workers[c.Worker]; w != nil {
		w.Failures = 0
	}
	if t.Committed != nil {
		return ignored
	}
	t.Committed = &Commit{Attempt: c.Attempt, Worker: c.Worker, Report: cloneReport(c.Report)}
	var res Result
	for ai, a := range t.Attempts {
		if a.State == AttemptRunning {
			// A speculative race: this attempt won.
			s.finishAttempt(j, c.Stage, c.Task, ai, AttemptLost, fmt.Sprintf("attempt %d committed first", c.Attempt))
			res.Superseded = append(res.Superseded, Assignment{AttemptID: AttemptID{c.TaskID, ai}, Worker: a.Worker})
		}
	}
	if j.Iteration(c.Stage) != nil && j.StageComplete(c.Stage) {
		if res = s.endSuperstep(j, c.Stage); !j.Active() {
			return res
		}
	}
	if j.Phase == JobRunning && j.CurrentStage() == len(j.Stages) {
		j.Phase = JobCommitting
		res.Phases = append(res.Phases, PhaseChange{j.ID, JobCommitting})
	}
	return res
}

func cloneReport(r TaskReport) TaskReport {
	if r.MapOutput != nil {
		mo := *r.MapOutput
		mo.Sizes = slices.Clone(mo.Sizes)
		mo.Index = slices.Clone(mo.Index)
		r.MapOutput = &mo
	}
	if r.SinkFile != nil {
		sf := *r.SinkFile
		r.SinkFile = &sf
	}
	if r.Samples != nil {
		samples := make([][]byte, len(r.Samples))
		for i, k := range r.Samples {
			samples[i] = slices.Clone(k)
		}
		r.Samples = samples
	}
	if r.Iter != nil {
		it := *r.Iter
		it.Aggregates = slices.Clone(it.Aggregates)
		r.Iter = &it
	}
	return r
}

func (s *State) failed(c TaskFailed) Result {
	j, t, r := s.lookup(c.AttemptID, c.Worker)
	if r != nil {
		return *r
	}
	if c.StateLost && j.Iteration(c.Stage) != nil {
		s.finishAttempt(j, c.Stage, c.Task, c.Attempt, AttemptLost, c.Error)
		msg := fmt.Sprintf("task %d lost its vertex partition", c.Task)
		if c.Error != "" {
			msg += ": " + c.Error
		}
		return s.rollback(j, c.Stage, msg)
	}
	if c.Timeout {
		return s.timedOut(j, t, c)
	}
	return s.fail(j, t, c.AttemptID, c.Error, c.kind(), c.At)
}

// fail ends a running attempt: a lost (or cancelled) one does not count, a
// permanent one fails the job at once, a user one fails the job when the
// task is out of attempts.
func (s *State) fail(j *Job, t *Task, a AttemptID, msg string, kind ErrorKind, at Location) Result {
	switch kind {
	case KindLost, KindCancelled:
		s.finishAttempt(j, a.Stage, a.Task, a.Attempt, AttemptLost, msg)
		return Result{}
	case KindPermanent:
		s.finishAttempt(j, a.Stage, a.Task, a.Attempt, AttemptFailed, msg)
		t.Failures++
		text := fmt.Sprintf("job %s: stage %d task %d failed permanently: %s", j.ID, a.Stage, a.Task, msg)
		pc := s.endJob(j, JobFailed, KindPermanent, text)
		j.ErrorAt = at
		return Result{Phases: []PhaseChange{pc}}
	}
	s.countFailure(t.Attempts[a.Attempt].Worker)
	s.finishAttempt(j, a.Stage, a.Task, a.Attempt, AttemptFailed, msg)
	t.Failures++
	if t.Committed != nil || t.Failures < j.MaxAttempts {
		return Result{}
	}
	text := fmt.Sprintf("job %s: stage %d task %d failed %d times: %s", j.ID, a.Stage, a.Task, t.Failures, msg)
	return Result{Phases: []PhaseChange{s.endJob(j, JobFailed, KindUser, text)}}
}

func (s *State) mapOutputLost(c MapOutputLost) Result {
	j := s.jobs[c.Job]
	if j == nil {
		return rejected(fmt.Errorf("%w: %s", ErrUnknownJob, c.Job))
	}
	t := j.Task(c.Stage, c.Task)
	if t == nil {
		return rejected(badf("%s: no such task", c.AttemptID))
	}
	msg := "map output lost"
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	if r, ok := s.messageOutputLost(j, c, msg); ok {
		return r
	}
	kind := j.plan.Stages[c.Stage].Output.Kind
	if !j.Active() || t.Committed == nil || t.Committed.Attempt != c.Attempt ||
		(kind != OutputShuffle && kind != OutputCollect) ||
		(t.Committed.Report.Iter != nil && !t.Committed.Report.Iter.Final) {
		return ignored
	}
	s.uncommit(j, c.Stage, c.Task, msg)
	r := Result{Uncommitted: []TaskID{c.TaskID}}
	// An output that is unreadable every time it is recomputed (a bug, a
	// disk that corrupts what it stores) must not loop forever.
	t.Losses++
	if t.Losses >= j.MaxAttempts {
		text := fmt.Sprintf("job %s: stage %d task %d: its output was unreadable %d times: %s", j.ID, c.Stage, c.Task, t.Losses, msg)
		r.Phases = append(r.Phases, s.endJob(j, JobFailed, KindLost, text))
		return r
	}
	return s.reopen(j, r)
}

// reopen moves a committing job back to running, once an output it needs
// was lost, and records the phase change in r.
func (s *State) reopen(j *Job, r Result) Result {
	if j.Phase == JobCommitting {
		j.Phase = JobRunning
		r.Phases = append(r.Phases, PhaseChange{j.ID, JobRunning})
	}
	return r
}

func (s *State) finish(c FinishJob) Result {
	j := s.jobs[c.Job]
	if j == nil {
		return rejected(fmt.Errorf("%w: %s", ErrUnknownJob, c.Job))
	}
	switch j.Phase {
	case JobCommitting:
	case JobRunning:
		return rejected(fmt.Errorf("%w: finish of running job %s", ErrJobPhase, j.ID))
	default:
		return ignored
	}
	if c.Error != "" {
		return Result{Phases: []PhaseChange{s.endJob(j, JobFailed, KindPermanent, c.Error)}}
	}
	j.Phase = JobSucceeded
	if j.EndedMs == 0 {
		j.EndedMs = s.now
	}
	return Result{Phases: []PhaseChange{{j.ID, JobSucceeded}}}
}

func (s *State) cleaned(c JobCleaned) Result {
	j := s.jobs[c.Job]
	switch {
	case j == nil:
		return rejected(fmt.Errorf("%w: %s", ErrUnknownJob, c.Job))
	case !j.Phase.Ended():
		return rejected(fmt.Errorf("%w: clean of %s job %s", ErrJobPhase, j.Phase, j.ID))
	case j.Cleaned:
		return ignored
	}
	j.Cleaned = true
	return Result{}
}

// fence rejects an AssignTask or FinishJob from an older term than the
// newest applied, and records a newer one. The term is recorded even when
// the command is then rejected for another reason: the proposer leads.
func (s *State) fence(c Command) error {
	var term uint64
	switch c := c.(type) {
	case AssignTask:
		term = c.Term
	case FinishJob:
		term = c.Term
	}
	if term == 0 {
		return nil
	}
	if term < s.Term {
		return fmt.Errorf("%w: %s of term %d, the state has seen term %d", ErrStaleTerm, c.Kind(), term, s.Term)
	}
	s.Term = term
	return nil
}

func (s *State) filesDeleted(c JobFilesDeleted) Result {
	j := s.jobs[c.Job]
	switch {
	case j == nil:
		return rejected(fmt.Errorf("%w: %s", ErrUnknownJob, c.Job))
	case !j.Phase.Ended():
		return rejected(fmt.Errorf("%w: files of %s job %s deleted", ErrJobPhase, j.Phase, j.ID))
	}
	i, found := slices.BinarySearch(j.Deleted, c.Worker)
	if found || j.Cleaned {
		return ignored
	}
	j.Deleted = slices.Insert(j.Deleted, i, c.Worker)
	return Result{}
}

func (s *State) forget(c ForgetJob) Result {
	j := s.jobs[c.Job]
	switch {
	case j == nil:
		return ignored
	case !j.Phase.Ended() || !j.Cleaned:
		return rejected(fmt.Errorf("%w: forget of %s job %s (cleaned %v)", ErrJobPhase, j.Phase, j.ID, j.Cleaned))
	}
	delete(s.jobs, j.ID)
	s.Jobs = slices.DeleteFunc(s.Jobs, func(x *Job) bool { return x == j })
	return Result{}
}

// Snapshot serializes the whole state. Equal states give equal bytes.
func (s *State) Snapshot() ([]byte, error) {
	return json.Marshal(snapshot{Version: snapshotVersion, State: s})
}

const snapshotVersion = 1

type snapshot struct {
	Version int    `json:"v"`
	State   *State `json:"state"`
}

// RestoreState decodes a state written by Snapshot. It checks the state's
// consistency and never panics on malformed input.
func RestoreState(b []byte) (*State, error) {
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	if snap.Version != snapshotVersion || snap.State == nil {
		return nil, fmt.Errorf("%w: version %d", ErrBadSnapshot, snap.Version)
	}
	s := snap.State
	s.jobs, s.workers = map[JobID]*Job{}, map[WorkerID]*Worker{}
	for i, w := range s.Workers {
		if w == nil || s.workers[w.ID] != nil || (i > 0 && s.Workers[i-1].ID >= w.ID) {
			return nil, fmt.Errorf("%w: workers not sorted and unique", ErrBadSnapshot)
		}
		s.workers[w.ID] = w
	}
	for _, j := range s.Jobs {
		if j == nil || s.jobs[j.ID] != nil {
			return nil, fmt.Errorf("%w: duplicate job", ErrBadSnapshot)
		}
		plan, err := DecodeSpec(j.Spec)
		if err != nil {
			return nil, fmt.Errorf("%w: job %s: %w", ErrBadSnapshot, j.ID, err)
		}
		if len(j.Stages) != len(plan.Stages) {
			return nil, fmt.Errorf("%w: job %s has %d stages, its plan %d", ErrBadSnapshot, j.ID, len(j.Stages), len(plan.Stages))
		}
		for si, st := range j.Stages {
			if st == nil || len(st.Tasks) != plan.Stages[si].Tasks {
				return nil, fmt.Errorf("%w: job %s stage %d tasks", ErrBadSnapshot, j.ID, si)
			}
			for _, t := range st.Tasks {
				if t == nil || (t.Committed != nil && (t.Committed.Attempt < 0 || t.Committed.Attempt >= len(t.Attempts))) {
					return nil, fmt.Errorf("%w: job %s stage %d: bad task", ErrBadSnapshot, j.ID, si)
				}
			}
			switch ps := &plan.Stages[si]; {
			case (ps.Iterate != nil) != (st.Iter != nil):
				return nil, fmt.Errorf("%w: job %s stage %d: %w", ErrBadSnapshot, j.ID, si, ErrBadIteration)
			case st.Iter != nil:
				if err := st.Iter.check(ps); err != nil {
					return nil, fmt.Errorf("%w: job %s stage %d: %w", ErrBadSnapshot, j.ID, si, err)
				}
			}
		}
		if j.ErrorKind == "failed" { // written before error kinds existed
			j.ErrorKind = KindUser
		}
		if !j.ErrorKind.Valid() {
			return nil, fmt.Errorf("%w: job %s: error kind %q", ErrBadSnapshot, j.ID, j.ErrorKind)
		}
		j.plan = plan
		s.jobs[j.ID] = j
	}
	return s, nil
}

// Clone returns a deep copy of the state.
func (s *State) Clone() *State {
	b, err := s.Snapshot()
	if err != nil {
		panic(fmt.Sprintf("coordinator: snapshot of a valid state: %v", err))
	}
	c, err := RestoreState(b)
	if err != nil {
		panic(fmt.Sprintf("coordinator: restore of a fresh snapshot: %v", err))
	}
	return c
}

// notSpeculable says why a speculative copy c of the task may not start
// ("" when it may): the task must have exactly one running attempt, on
// another worker, and no earlier copy, outside Pregel stages.
func (t *Task) notSpeculable(j *Job, c AssignTask) string {
	if j.Iteration(c.Stage) != nil {
		return "a Pregel stage"
	}
	running := 0
	for _, a := range t.Attempts {
		if a.Speculative {
			return "the task was copied already"
		}
		if a.State == AttemptRunning {
			running++
			if a.Worker == c.Worker {
				return "the running attempt is on the same worker"
			}
		}
	}
	if running != 1 {
		return fmt.Sprintf("%d running attempts, want 1", running)
	}
	return ""
}
