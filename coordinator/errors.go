package coordinator

import (
	"errors"

	"github.com/superstep/superstep/internal/planspec"
)

// Errors returned by State.Apply (in Result.Err) and by DecodeCommand. A
// rejected command leaves the state unchanged.
var (
	// ErrBadCommand matches every error of DecodeCommand and every command
	// whose fields are malformed (negative indexes, empty IDs, …).
	ErrBadCommand = errors.New("coordinator: malformed command")
	// ErrBadSpec means a submitted job's plan could not be decoded or is
	// inconsistent; the job is not created. It is planspec.ErrBadSpec, the
	// one error of the one plan validator (bsp.ErrBadSpec too).
	ErrBadSpec = planspec.ErrBadSpec
	// ErrUnknownJob means a command names a job the state does not hold.
	ErrUnknownJob = errors.New("coordinator: unknown job")
	// ErrUnknownWorker means a command names a worker that never registered.
	ErrUnknownWorker = errors.New("coordinator: unknown worker")
	// ErrWorkerDead means a command names a worker that was declared dead. A
	// restarted worker registers under a new ID.
	ErrWorkerDead = errors.New("coordinator: worker was declared dead")
	// ErrJobConflict means a job ID was submitted again with different
	// contents.
	ErrJobConflict = errors.New("coordinator: job ID already used by a different job")
	// ErrWorkerConflict means a worker ID registered again with a different
	// fingerprint.
	ErrWorkerConflict = errors.New("coordinator: worker ID already registered with a different fingerprint")
	// ErrWorkerCert means a worker ID registered again with the
	// certificate of another identity than the one it is bound to.
	ErrWorkerCert = errors.New("coordinator: worker ID bound to another certificate")
	// ErrNotAssignable means an AssignTask names a task that cannot run now:
	// the job is not running, an earlier stage is incomplete, the task is
	// committed or already running, the attempt number is not the next one,
	// or the worker cannot run the job.
	ErrNotAssignable = errors.New("coordinator: task not assignable")
	// ErrNoWorker means no live worker can run a job: none has the job's
	// registry fingerprint. The job fails with this error.
	ErrNoWorker = errors.New("coordinator: no live worker can run the job")
	// ErrJobFailed is matched by Result.Err of the command that failed a job
	// (a task out of attempts) and by Job.Err of a failed job.
	ErrJobFailed = errors.New("coordinator: job failed")
)

// More errors of State.Apply.
var (
	// ErrJobCancelled is matched by Job.Err of a cancelled job.
	ErrJobCancelled = errors.New("coordinator: job cancelled")
	// ErrJobPhase means a command needs the job in another phase (FinishJob
	// of a running job, JobCleaned of a running job).
	ErrJobPhase = errors.New("coordinator: job is not in the phase the command needs")
	// ErrStaleTerm means an AssignTask or FinishJob carries the raft term
	// of a leader older than the newest the state has seen: a deposed
	// leader may neither assign nor commit.
	ErrStaleTerm = errors.New("coordinator: command from a deposed leader's term")
	// ErrMapOutputLost is returned by State.ShuffleInputs when a map output
	// the stage reads is not committed (it was lost and is being recomputed).
	ErrMapOutputLost = errors.New("coordinator: map output lost")
)

// Errors of RestoreState.
var (
	// ErrBadSnapshot matches every error of RestoreState: the bytes are not
	// a snapshot this coordinator wrote, or the state in it is inconsistent.
	ErrBadSnapshot = errors.New("coordinator: restore snapshot")
	// ErrBadIteration is matched, besides ErrBadSnapshot, when a Pregel
	// stage's iteration state does not fit its plan (a missing iteration,
	// resident partitions that do not match the superstep or the tasks, a
	// checkpoint from the future).
	ErrBadIteration = errors.New("coordinator: iteration state does not fit the plan")
)

// ErrPermanent is matched, besides ErrJobFailed, by the error of a job
// that a permanent task error failed at once (KindPermanent).
var ErrPermanent = errors.New("coordinator: permanent task error")

// ErrorKind says what kind of failure ended a task attempt or a job, and so
// whether a retry can help: lost and user errors are retried, the others
// are not. It is the state's form of the protocol's ErrorKind.
type ErrorKind string

// Error kinds.
const (
	// KindUser is a failure of the user's code (an error or a panic): the
	// task is retried up to the job's MaxAttempts, then the job fails.
	KindUser ErrorKind = "user"
	// KindLost is a failure that is not the task's fault (its worker went
	// away, an input could not be fetched): the task reruns, and the
	// attempt does not count against the limit.
	KindLost ErrorKind = "lost"
	// KindPermanent is a failure no retry can heal (a malformed input
	// record, a plan mismatch): the job fails after this one attempt.
	KindPermanent ErrorKind = "permanent"
	// KindCancelled ends an attempt or a job that was cancelled.
	KindCancelled ErrorKind = "cancelled"
	// KindNoWorker ends a job that no live worker can run.
	KindNoWorker ErrorKind = "no_worker"
)

// Valid reports whether k is one of the kinds above, or empty.
func (k ErrorKind) Valid() bool {
	switch k {
	case "", KindUser, KindLost, KindPermanent, KindCancelled, KindNoWorker:
		return true
	}
	return false
}

// sentinels are the errors a job error of kind k matches.
func (k ErrorKind) sentinels() []error {
	switch k {
	case KindNoWorker:
		return []error{ErrNoWorker}
	case KindCancelled:
		return []error{ErrJobCancelled}
	case KindPermanent:
		return []error{ErrJobFailed, ErrPermanent}
	}
	return []error{ErrJobFailed}
}

// Sentinels returns the errors a job that ended with an error of kind k
// matches: ErrJobFailed (and ErrPermanent for a permanent error),
// ErrNoWorker or ErrJobCancelled. Clients that receive a job's kind over
// the wire (cluster.JobError) unwrap to these.
func (k ErrorKind) Sentinels() []error { return k.sentinels() }

// Location is where in a job's input an error is: a file and a 1-based
// line (0 when unknown).
type Location struct {
	Path string `json:"path,omitempty"`
	Line int64  `json:"line,omitempty"`
}

// JobError is the error of a job that did not succeed: its text is the
// job's Error string (for a task failure, the user's error and stack) and it
// matches the sentinels of its Kind (ErrorKind.Sentinels).
type JobError struct {
	Kind ErrorKind
	Msg  string   // the text shown to the user
	At   Location // for a permanent input error: its file and line
}

func (e *JobError) Error() string { return e.Msg }

// Unwrap returns the sentinels of e.Kind.
func (e *JobError) Unwrap() []error { return e.Kind.sentinels() }
