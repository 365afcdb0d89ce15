package bsp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/superstep/superstep/storage"
)

// Executor runs a compiled program. Both implementations, bsp/local (a
// one-node cluster in this process) and the cluster runtime, leave the
// decisions (the stages in order with a barrier between them, retries, the
// Pregel iteration, the commit) to package coordinator; what they need of
// this package is to run one task (Program.RunTask) and to open and commit
// one output (CommitSinkParts, AbortSinks).
type Executor interface {
	// Execute runs prog to completion, committing its sinks on success and
	// removing every temporary file (shuffle, attempts) either way.
	Execute(ctx context.Context, prog *Program) (*Result, error)
}

// Result is what a finished job returns to its submitter.
type Result struct {
	// Collected holds, per Collect node, the encoded shuffle blocks of the
	// collected records in partition order (see ReadCollected).
	Collected map[int][][]byte
	Stages    []StageStats
	Wall      time.Duration
}

// StageStats are the totals of one stage's committed tasks.
type StageStats struct {
	Stage        int
	Tasks        int
	Attempts     int
	RecordsIn    int64
	RecordsOut   int64
	ShuffleBytes int64
	ShuffleRaw   int64
	Spills       int
	SpillBytes   int64
	Wall         time.Duration
	// Supersteps is the vertex supersteps a Pregel stage ran (0 for other
	// stages); Retries the attempts beyond one per task (per vertex
	// superstep): retries, recomputations and speculative copies.
	Supersteps int
	Retries    int
}

// Add folds one committed task's report into the stage totals.
func (s *StageStats) Add(r *TaskReport) {
	s.RecordsIn += r.RecordsIn
	s.RecordsOut += r.RecordsOut
	s.ShuffleBytes += r.ShuffleBytes
	s.ShuffleRaw += r.ShuffleRaw
	s.Spills += r.Spills
	s.SpillBytes += r.SpillBytes
}

// sinkOutput is the commit contract's view of sink sk's directory.
func sinkOutput(spec *Spec, sk SinkSpec) storage.Output {
	return storage.Output{Dir: sk.Dir, Temp: SinkTempDir(sk.Dir, spec.JobID), Overwrite: sk.Overwrite}
}

// CommitSinkFile makes one sink task's committed attempt the job's part: its
// file moves from the attempt directory into the job's temporary output
// directory, replacing any earlier one, and is verified there (see
// storage.CommitPart). Executors hold only the Spec (a coordinator has no
// user code). The file's path came from a worker; it must lie in the job's
// attempt directory.
func CommitSinkFile(ctx context.Context, spec *Spec, sf SinkFile) error {
	for _, sk := range spec.Sinks {
		if sk.Node != sf.Node {
			continue
		}
		fsys, err := storage.For(sk.Dir)
		if err != nil {
			return err
		}
		p := storage.Part{Src: sf.Path, Name: sk.FileName(sf.Part), Size: sf.Size}
		if err := storage.CommitPart(ctx, fsys, sinkOutput(spec, sk), p); err != nil {
			return fmt.Errorf("commit %s: %w", storage.Join(sk.Dir, p.Name), err)
		}
		return nil
	}
	return fmt.Errorf("%w: no sink for node %d", ErrBadSpec, sf.Node)
}

// CommitSinks publishes every sink's output once all tasks committed: parts
// are the committed tasks' sink files. Every sink task of the spec must have
// committed one; each output directory is published by storage.Commit
// (every part verified, the attempts removed, _SUCCESS written last) and
// replaces an existing one only when the sink allows overwriting.
func CommitSinks(ctx context.Context, spec *Spec, parts []SinkFile) error {
	size := map[[2]int]int64{}
	for _, sf := range parts {
		size[[2]int{sf.Node, sf.Part}] = sf.Size
	}
	byDir := map[string][]storage.Part{} // sinks may share a directory
	var dirs []SinkSpec
	for _, sk := range spec.Sinks {
		dir := storage.Clean(sk.Dir)
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, sk)
			byDir[dir] = []storage.Part{}
		}
		if sk.Stage < 0 || sk.Stage >= len(spec.Stages) {
			return fmt.Errorf("%w: sink of node %d in stage %d", ErrBadSpec, sk.Node, sk.Stage)
		}
		for part := range spec.Stages[sk.Stage].Tasks {
			name := sk.FileName(part)
			n, ok := size[[2]int{sk.Node, part}]
			if !ok {
				return fmt.Errorf("commit %s: %w", storage.Join(sk.Dir, name),
					&storage.PartError{Name: storage.Join(SinkTempDir(sk.Dir, spec.JobID), name), Got: -1, Err: storage.ErrPartMissing})
			}
			byDir[dir] = append(byDir[dir], storage.Part{Name: name, Size: n})
		}
	}
	for _, sk := range dirs {
		fsys, err := storage.For(sk.Dir)
		if err != nil {
			return err
		}
		if err := storage.Commit(ctx, fsys, sinkOutput(spec, sk), byDir[storage.Clean(sk.Dir)]); err != nil {
			return fmt.Errorf("commit %s: %w", sk.Dir, err)
		}
	}
	return nil
}

// CommitSinkParts is the whole output commit of a job whose tasks have all
// committed, for executors that hold only the Spec (the coordinator's
// leader, the in-process executor): every committed task's part is moved
// into place (CommitSinkFile) and then every sink is published
// (CommitSinks). Repeating it after a crash is safe: work already done is
// recognised by what is found at the destination.
func CommitSinkParts(ctx context.Context, spec *Spec, parts []SinkFile) error {
	for _, sf := range parts {
		if err := CommitSinkFile(ctx, spec, sf); err != nil {
			return err
		}
	}
	return CommitSinks(ctx, spec, parts)
}

// AbortSinks removes every sink's temporary directory; the output
// directories are left as they were.
func AbortSinks(ctx context.Context, spec *Spec) error {
	var errs []error
	for _, sk := range spec.Sinks {
		fsys, err := storage.For(sk.Dir)
		if err == nil {
			err = storage.Abort(ctx, fsys, sinkOutput(spec, sk))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Permanent reports whether a task error is one that no retry can heal, so
// that executors fail the job after this one attempt instead of retrying
// it: a malformed input record (an InputError that is not about the file
// being missing or unreadable, which may differ between processes), a plan
// that this process rebuilds differently (ErrPlanMismatch), a plan that does
// not build or decode (ErrPlan, ErrBadSpec), or a job this binary does not
// have (ErrUnknownJob). Cancellation and lost state or inputs are not
// permanent.
func Permanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrStateLost) || errors.Is(err, ErrMapOutputLost) {
		return false
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return !errors.Is(ie.Err, fs.ErrNotExist) && !errors.Is(ie.Err, fs.ErrPermission)
	}
	return errors.Is(err, ErrPlanMismatch) || errors.Is(err, ErrPlan) || errors.Is(err, ErrBadSpec) ||
		errors.Is(err, ErrUnknownJob)
}

// FailureKind is what a failed attempt's error means to the scheduler that
// reruns it.
type FailureKind int

const (
	// FailUser is the user's code failing (an error or a panic), or anything
	// not known to heal: the attempt counts against the task's attempts.
	FailUser FailureKind = iota
	// FailStateLost is a Pregel task that found no resident vertex partition
	// (ErrStateLost): the attempt is lost and the stage rolls back.
	FailStateLost
	// FailCancelled is an attempt cancelled under it: lost, not counted.
	FailCancelled
	// FailPermanent is an error no retry can heal (Permanent): the job fails.
	FailPermanent
)

// Classify is the kind of a failed attempt's error, the one rule both
// executors (bsp/local and the cluster worker) report by; cancelled says the
// attempt's context was cancelled. For a permanent error about an input
// record, the InputError (its file and line) is returned too. An error
// naming the map output it could not read is the executor's own to report
// (it knows which attempt wrote it) and is checked before Classify.
func Classify(err error, cancelled bool) (FailureKind, *InputError) {
	switch {
	case errors.Is(err, ErrStateLost):
		return FailStateLost, nil
	case cancelled:
		return FailCancelled, nil
	case Permanent(err):
		var ie *InputError
		errors.As(err, &ie)
		return FailPermanent, ie
	}
	return FailUser, nil
}
