package coordinator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// CommandVersion is the version of the encoded command envelope.
// DecodeCommand rejects any other version.
const CommandVersion = 1

// maxCommandSize bounds the bytes DecodeCommand accepts.
const maxCommandSize = 64 << 20

// Command is one entry of the replicated log: an event that State.Apply
// turns into a change of state. The concrete types are the structs of this
// file; the set is closed. Every command is idempotent: applying it twice
// (a retried RPC, a duplicate proposal) changes nothing the second time.
type Command interface {
	// Kind is the command's name in the encoded envelope.
	Kind() string
	validate() error
	stamp() int64
}

// Stamp is the time a command was proposed, in Unix milliseconds, which
// the proposer (the leader's Step, or the server for a client's request)
// sets from its clock. It travels in the log, so that the times the state
// records (Job.SubmittedMs, StartedMs, EndedMs; the retention of ended
// jobs) are the same on every replica and after every restart. Zero means
// unknown.
type Stamp struct {
	Time int64 `json:"time,omitempty"`
}

func (s Stamp) stamp() int64 { return s.Time }

// SubmitJob creates a job. Submitting the same job again (same ID and
// contents) is a no-op; the same ID with different contents is
// ErrJobConflict. A job whose plan is malformed is not created (ErrBadSpec);
// a job that no live worker can run is created already failed (ErrNoWorker).
type SubmitJob struct {
	Stamp
	Job  JobID  `json:"job"`
	Name string `json:"name"` // registered job name
	Args []byte `json:"args,omitempty"`
	// Spec is the encoded bsp.Spec.
	Spec []byte `json:"spec"`
	// Fingerprint is the submitting binary's job-registry fingerprint; only
	// workers with the same one run the job's tasks.
	Fingerprint string `json:"fingerprint"`
	// MaxAttempts is how many attempts of a task may fail in user code
	// before the job fails; 0 means DefaultMaxAttempts.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Owner names the principal (a submit token's holder) that submitted
	// the job, if any; such a principal reaches only its own jobs. It is
	// replicated so that every leader applies the same rule.
	Owner string `json:"owner,omitempty"`
}

// DefaultMaxAttempts is the attempt limit of a job submitted without one.
const DefaultMaxAttempts = 3

// CancelJob cancels a running job: its running attempts are marked lost and
// its files are to be removed. Cancelling an ended job is a no-op.
type CancelJob struct {
	Stamp
	Job    JobID  `json:"job"`
	Reason string `json:"reason,omitempty"`
}

// RegisterWorker adds a worker, or updates the address, slots and memory of
// one already registered under the same ID and fingerprint.
type RegisterWorker struct {
	Stamp
	Worker      WorkerID `json:"worker"`
	Addr        string   `json:"addr"`
	Fingerprint string   `json:"fingerprint"`
	// Jobs, when not empty, lists the registered job names of the worker's
	// binary; the worker is then given only tasks of those jobs.
	Jobs   []string `json:"jobs,omitempty"`
	Slots  int      `json:"slots"`
	Memory int64    `json:"memory,omitempty"`
	// Cert is the identity of the certificate the worker registered with
	// (empty without TLS): the ID stays bound to it, on every leader.
	Cert string `json:"cert,omitempty"`
}

// WorkerDead declares a worker dead (the leader proposes it when the
// FailureDetector says so, or when a worker deregisters). Its running
// attempts are lost and rerun elsewhere; the committed map and collect
// outputs it held that are still needed are un-committed and recomputed; a
// Pregel stage whose current superstep needs a vertex partition or message
// output it held rolls back to its last checkpoint. A job that no live
// worker can run any more fails.
type WorkerDead struct {
	Stamp
	Worker WorkerID `json:"worker"`
	Reason string   `json:"reason,omitempty"`
}

// AssignTask starts an attempt of a task on a worker. The attempt number
// must be the task's next one (its number of attempts so far); assigning an
// existing attempt to the same worker again is a no-op. A task of a Pregel
// stage past superstep 0 (not restoring) may only be assigned to the worker
// holding its vertex partition; the attempt runs the stage's current
// superstep.
//
// A Speculative assignment is a copy of a straggler (see Speculate): it is
// accepted only while the task has exactly one running attempt, on another
// worker, no earlier copy and no commit, outside Pregel stages. The first
// of the two to succeed commits; the other is ended as lost and named in
// Result.Superseded, so that the leader cancels it.
type AssignTask struct {
	Stamp
	AttemptID
	Worker WorkerID `json:"worker"`
	// Term is the raft term of the proposing leader (fencing): an
	// assignment from a term older than the newest the state has seen is
	// rejected (ErrStaleTerm). Zero skips the check.
	Term uint64 `json:"term,omitempty"`
	// Speculative marks a copy of a running straggler (see Speculate).
	Speculative bool `json:"speculative,omitempty"`
}

// TaskSucceeded reports a successful attempt. The first success of a task
// is committed; a report for a task already committed, for an attempt that
// is not running (lost, failed) or for a job that ended is ignored.
type TaskSucceeded struct {
	Stamp
	AttemptID
	Worker WorkerID   `json:"worker"`
	Report TaskReport `json:"report"`
}

// TaskFailed reports a failed attempt. Lost means the failure is not the
// task's fault (its worker is going away, a map output could not be
// fetched): lost attempts do not count against the job's attempt limit.
// Otherwise Error is the user's error text, with the stack of a panic; once
// a task has failed MaxAttempts times the job fails with it. StateLost
// means a task of a Pregel stage found no resident vertex partition
// (bsp.ErrStateLost): the stage rolls back to its last checkpoint.
type TaskFailed struct {
	Stamp
	AttemptID
	Worker    WorkerID `json:"worker"`
	Error     string   `json:"error"`
	Lost      bool     `json:"lost,omitempty"`
	StateLost bool     `json:"state_lost,omitempty"`
	// ErrorKind is the failure's kind; empty means KindLost when Lost is
	// set and KindUser otherwise (commands of older leaders). A permanent
	// failure fails the job at once; a cancelled one counts as lost.
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
	// At is, for a permanent input error, the file and line.
	At Location `json:"at,omitzero"`
	// Timeout says the leader ended the attempt because it ran past its
	// timeout (Overdue): the attempt is lost, the task's Timeouts and its
	// worker's Failures count it, and MaxAttempts timeouts fail the job.
	// A timed-out superstep of a pinned Pregel stage rolls the stage back,
	// so that its partition moves off the worker.
	Timeout bool `json:"timeout,omitempty"`
}

// kind is the failure's effective kind.
func (c TaskFailed) kind() ErrorKind {
	switch {
	case c.Lost || c.StateLost:
		return KindLost
	case c.ErrorKind == "" || c.ErrorKind == KindNoWorker:
		return KindUser
	}
	return c.ErrorKind
}

// MapOutputLost reports that the committed output of a map (or collect)
// task could not be read: attempt Attempt of the named task, the one that
// was committed. That output is un-committed so that the task runs again.
// When it names the message output of a Pregel stage's task that the
// current superstep reads, the stage rolls back to its last checkpoint. A
// report about an attempt that is no longer the committed one is ignored.
type MapOutputLost struct {
	Stamp
	AttemptID
	Reason string `json:"reason,omitempty"`
}

// FinishJob ends a job whose tasks have all committed (phase
// JobCommitting): the leader proposes it after committing the sinks and
// reading the collected outputs. Error, when set, fails the job instead.
type FinishJob struct {
	Stamp
	Job   JobID  `json:"job"`
	Error string `json:"error,omitempty"`
	// Term is the proposing leader's raft term, as in AssignTask.
	Term uint64 `json:"term,omitempty"`
}

// JobCleaned records that the files of an ended job were removed from its
// workers, so that the leader stops asking.
type JobCleaned struct {
	Stamp
	Job JobID `json:"job"`
}

// JobFilesDeleted records that a worker acknowledged deleting every file of
// an ended job, so that the leader stops asking it (Job.Deleted).
type JobFilesDeleted struct {
	Stamp
	Job    JobID    `json:"job"`
	Worker WorkerID `json:"worker"`
}

// ForgetJob removes an ended, cleaned job from the state once its retention
// period passed (LeaderConfig.RetainJobs), so that snapshots stop growing.
type ForgetJob struct {
	Stamp
	Job JobID `json:"job"`
}

// Kind implements Command.
func (JobFilesDeleted) Kind() string { return "job_files_deleted" }

// Kind implements Command.
func (ForgetJob) Kind() string { return "forget_job" }

func (c JobFilesDeleted) validate() error {
	if c.Job == "" || c.Worker == "" {
		return badf("job_files_deleted: empty job or worker ID")
	}
	return nil
}

func (c ForgetJob) validate() error {
	if c.Job == "" {
		return badf("forget_job: empty job ID")
	}
	return nil
}

// Kind implements Command.
func (SubmitJob) Kind() string { return "submit_job" }

// Kind implements Command.
func (CancelJob) Kind() string { return "cancel_job" }

// Kind implements Command.
func (RegisterWorker) Kind() string { return "register_worker" }

// Kind implements Command.
func (WorkerDead) Kind() string { return "worker_dead" }

// Kind implements Command.
func (AssignTask) Kind() string { return "assign_task" }

// Kind implements Command.
func (TaskSucceeded) Kind() string { return "task_succeeded" }

// Kind implements Command.
func (TaskFailed) Kind() string { return "task_failed" }

// Kind implements Command.
func (MapOutputLost) Kind() string { return "map_output_lost" }

// Kind implements Command.
func (FinishJob) Kind() string { return "finish_job" }

// Kind implements Command.
func (JobCleaned) Kind() string { return "job_cleaned" }

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadCommand, fmt.Sprintf(format, args...))
}

func (c SubmitJob) validate() error {
	switch {
	case c.Job == "":
		return badf("submit_job: empty job ID")
	case c.Name == "":
		return badf("submit_job: empty job name")
	case c.Fingerprint == "":
		return badf("submit_job: empty fingerprint")
	case c.MaxAttempts < 0:
		return badf("submit_job: max attempts %d", c.MaxAttempts)
	}
	return nil
}

func (c CancelJob) validate() error {
	if c.Job == "" {
		return badf("cancel_job: empty job ID")
	}
	return nil
}

func (c RegisterWorker) validate() error {
	switch {
	case c.Worker == "":
		return badf("register_worker: empty worker ID")
	case c.Fingerprint == "":
		return badf("register_worker: empty fingerprint")
	case c.Slots < 1:
		return badf("register_worker: %d slots", c.Slots)
	case c.Memory < 0:
		return badf("register_worker: memory %d", c.Memory)
	}
	return nil
}

func (c WorkerDead) validate() error {
	if c.Worker == "" {
		return badf("worker_dead: empty worker ID")
	}
	return nil
}

func (a AttemptID) validate(kind string) error {
	if a.Job == "" || a.Stage < 0 || a.Task < 0 || a.Attempt < 0 {
		return badf("%s: bad attempt %q/%d/%d/%d", kind, a.Job, a.Stage, a.Task, a.Attempt)
	}
	return nil
}

func (c AssignTask) validate() error {
	if c.Worker == "" {
		return badf("assign_task: empty worker ID")
	}
	return c.AttemptID.validate(c.Kind())
}

func (c TaskSucceeded) validate() error {
	if c.Worker == "" {
		return badf("task_succeeded: empty worker ID")
	}
	return c.AttemptID.validate(c.Kind())
}

func (c TaskFailed) validate() error {
	if c.Worker == "" {
		return badf("task_failed: empty worker ID")
	}
	if !c.ErrorKind.Valid() || c.At.Line < 0 {
		return badf("task_failed: error kind %q line %d", c.ErrorKind, c.At.Line)
	}
	return c.AttemptID.validate(c.Kind())
}

func (c MapOutputLost) validate() error { return c.AttemptID.validate(c.Kind()) }

func (c FinishJob) validate() error {
	if c.Job == "" {
		return badf("finish_job: empty job ID")
	}
	return nil
}

func (c JobCleaned) validate() error {
	if c.Job == "" {
		return badf("job_cleaned: empty job ID")
	}
	return nil
}

// envelope is the encoded form of a command.
type envelope struct {
	Version int             `json:"v"`
	Kind    string          `json:"kind"`
	Body    json.RawMessage `json:"body"`
}

// EncodeCommand serializes a command: a versioned JSON envelope naming the
// command's kind around its fields. It fails only for an invalid command.
func EncodeCommand(c Command) ([]byte, error) {
	if c == nil {
		return nil, badf("nil command")
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	return json.Marshal(envelope{Version: CommandVersion, Kind: c.Kind(), Body: body})
}

// DecodeCommand parses an encoded command. It never panics on any input;
// every error matches ErrBadCommand. Unknown fields, unknown kinds, other
// versions and invalid field values are errors.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) > maxCommandSize {
		return nil, badf("%d bytes", len(b))
	}
	var env envelope
	if err := strictUnmarshal(b, &env); err != nil {
		return nil, err
	}
	if env.Version != CommandVersion {
		return nil, badf("version %d, this coordinator reads version %d", env.Version, CommandVersion)
	}
	var c Command
	var err error
	switch env.Kind {
	case SubmitJob{}.Kind():
		c, err = decodeAs[SubmitJob](env.Body)
	case CancelJob{}.Kind():
		c, err = decodeAs[CancelJob](env.Body)
	case RegisterWorker{}.Kind():
		c, err = decodeAs[RegisterWorker](env.Body)
	case WorkerDead{}.Kind():
		c, err = decodeAs[WorkerDead](env.Body)
	case AssignTask{}.Kind():
		c, err = decodeAs[AssignTask](env.Body)
	case TaskSucceeded{}.Kind():
		c, err = decodeAs[TaskSucceeded](env.Body)
	case TaskFailed{}.Kind():
		c, err = decodeAs[TaskFailed](env.Body)
	case MapOutputLost{}.Kind():
		c, err = decodeAs[MapOutputLost](env.Body)
	case FinishJob{}.Kind():
		c, err = decodeAs[FinishJob](env.Body)
	case JobCleaned{}.Kind():
		c, err = decodeAs[JobCleaned](env.Body)
	case JobFilesDeleted{}.Kind():
		c, err = decodeAs[JobFilesDeleted](env.Body)
	case ForgetJob{}.Kind():
		c, err = decodeAs[ForgetJob](env.Body)
	case ExcludeWorker{}.Kind():
		c, err = decodeAs[ExcludeWorker](env.Body)
	default:
		return nil, badf("unknown command kind %q", env.Kind)
	}
	if err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeAs[T Command](body []byte) (Command, error) {
	var c T
	if err := strictUnmarshal(body, &c); err != nil {
		return nil, err
	}
	return c, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badf("trailing data")
	}
	return nil
}
