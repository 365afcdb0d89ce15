package bsp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/superstep/superstep/internal/planspec"
)

// Executor runs a compiled program: the stages in order, each stage's tasks
// through Program.RunTask, with a barrier between stages. Implementations:
// bsp/local (goroutines in this process) and the cluster runtime.
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
	Wall         time.Duration
}

// Add folds one committed task's report into the stage totals.
func (s *StageStats) Add(r *TaskReport) {
	s.RecordsIn += r.RecordsIn
	s.RecordsOut += r.RecordsOut
	s.ShuffleBytes += r.ShuffleBytes
	s.ShuffleRaw += r.ShuffleRaw
	s.Spills += r.Spills
}

// RangeBounds computes the bounds a range shuffle's map stage needs from the
// samples its sample stages reported.
func (p *Program) RangeBounds(stage int, samples [][]byte) [][]byte {
	return planspec.RangeBounds(samples, p.Spec.Stages[stage].Output.Partitions)
}

// CommitTask makes a sink task's attempt the committed one: its part file
// moves from the attempt directory into the job's temporary output
// directory, replacing any earlier committed attempt. Executors call it for
// exactly one attempt per task.
func (p *Program) CommitTask(rep *TaskReport) error {
	if rep.SinkFile == nil {
		return nil
	}
	return CommitSinkFile(p.Spec, *rep.SinkFile)
}

// CommitSinkFile is CommitTask for executors that hold only the Spec (a
// coordinator has no user code).
func CommitSinkFile(spec *Spec, sf SinkFile) error {
	for _, sk := range spec.Sinks {
		if sk.Node != sf.Node {
			continue
		}
		dst := filepath.Join(SinkTempDir(sk.Dir, spec.JobID), sk.FileName(sf.Part))
		if err := os.Rename(sf.Path, dst); err != nil {
			return fmt.Errorf("commit %s: %w", dst, err)
		}
		return nil
	}
	return fmt.Errorf("%w: no sink for node %d", ErrBadSpec, sf.Node)
}

// CommitJob moves every sink's output into place once all tasks committed:
// the attempt directories are removed, a _SUCCESS marker written, and the
// temporary directory renamed to the output directory (an existing one is
// replaced only when the sink allows overwriting).
func (p *Program) CommitJob() error { return CommitSinks(p.Spec) }

// CommitSinks is CommitJob for executors that hold only the Spec.
func CommitSinks(spec *Spec) error {
	done := map[string]bool{} // sinks may share a directory
	for _, sk := range spec.Sinks {
		if done[filepath.Clean(sk.Dir)] {
			continue
		}
		done[filepath.Clean(sk.Dir)] = true
		tmp := SinkTempDir(sk.Dir, spec.JobID)
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(tmp, "_attempts")); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "_SUCCESS"), nil, 0o644); err != nil {
			return err
		}
		if _, err := os.Stat(sk.Dir); err == nil {
			if !sk.Overwrite {
				return fmt.Errorf("output %s appeared while the job ran; result left in %s", sk.Dir, tmp)
			}
			old := tmp + ".old"
			if err := os.Rename(sk.Dir, old); err != nil {
				return err
			}
			if err := os.Rename(tmp, sk.Dir); err != nil {
				return err
			}
			if err := os.RemoveAll(old); err != nil {
				return err
			}
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Rename(tmp, sk.Dir); err != nil {
			return err
		}
	}
	return nil
}

// AbortJob removes every sink's temporary directory; the output directories
// are left as they were.
func (p *Program) AbortJob() error { return AbortSinks(p.Spec) }

// AbortSinks is AbortJob for executors that hold only the Spec.
func AbortSinks(spec *Spec) error {
	var errs []error
	for _, sk := range spec.Sinks {
		errs = append(errs, os.RemoveAll(SinkTempDir(sk.Dir, spec.JobID)))
	}
	return errors.Join(errs...)
}
