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
	// ErrMapOutputLost is returned by State.ShuffleInputs when a map output
	// the stage reads is not committed (it was lost and is being recomputed).
	ErrMapOutputLost = errors.New("coordinator: map output lost")
)

// JobError is the error of a job that did not succeed: its text is the
// job's Error string (for a task failure, the user's error and stack) and it
// matches ErrJobFailed, ErrNoWorker or ErrJobCancelled.
type JobError struct {
	Kind error  // ErrJobFailed, ErrNoWorker or ErrJobCancelled
	Msg  string // the text shown to the user
}

func (e *JobError) Error() string { return e.Msg }

// Unwrap returns e.Kind.
func (e *JobError) Unwrap() error { return e.Kind }
