package bsp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/shuffle"
)

// TaskSpec identifies one task: one partition of one stage, in one attempt.
type TaskSpec struct {
	Stage     int
	Partition int
	Attempt   int
	// Bounds are the range partitioner's bounds for a stage whose output is a
	// range shuffle (computed by the executor from the sample stages).
	Bounds [][]byte

	// Pregel stages (StageSpec.Iterate) only; see IterateSpec.
	Superstep  int      // the superstep this task runs
	Restore    bool     // reload the partition from the checkpoint of Superstep-1
	Final      bool     // the iteration ended: emit the vertices
	Aggregates [][]byte // every task's aggregator partials of Superstep-1, in task order
}

func (t TaskSpec) String() string {
	return fmt.Sprintf("stage %d task %d attempt %d", t.Stage, t.Partition, t.Attempt)
}

// RunOpener opens one sorted run of map output for reading.
type RunOpener func(ctx context.Context) (shuffle.RecordIterator, error)

// ShuffleInputs locates the committed map outputs a reduce task reads. The
// executor implements it: locally by opening files, on a cluster by fetching
// blocks from the workers that hold them.
type ShuffleInputs interface {
	// Runs returns an opener for every run of reduce partition part written by
	// side `side` of wide node `node`, ordered by map task and then by run, so
	// that merging them is deterministic. Errors that mean map output is gone
	// wrap ErrMapOutputLost.
	Runs(ctx context.Context, node, side, part int) ([]RunOpener, error)
}

// ErrMapOutputLost means a reduce task could not read a map output (its
// worker is gone or the block is corrupt); the executor recomputes it.
var ErrMapOutputLost = errors.New("bsp: map output lost")

// TaskEnv is what the executor gives a task: memory, scratch space and
// shuffle access.
type TaskEnv struct {
	Mem          memory.Allocator // every Arrow buffer of the task
	MemoryBudget int64            // bytes the task may buffer before it spills
	WorkDir      string           // map outputs and spill files go under it
	Compression  shuffle.Compression
	Inputs       ShuffleInputs
	Resident     ResidentStore // Pregel partitions; nil: none survive a task
}

// MapOutput is a committed-candidate map output file.
type MapOutput struct {
	Node, Side, Part int
	Path             string
	Index            *shuffle.Index
}

// SinkFile is an attempt-scoped part file waiting for its task commit.
type SinkFile struct {
	Node, Part int
	Path       string
	Size       int64 // bytes written, checked at every step of the commit
}

// TaskReport is what a successful task returns to its executor.
type TaskReport struct {
	RecordsIn    int64
	RecordsOut   int64
	ShuffleBytes int64 // compressed bytes written to shuffle
	ShuffleRaw   int64 // uncompressed Arrow bytes written to shuffle
	Spills       int   // runs and files written early because the memory budget was used up
	SpillBytes   int64 // bytes of those runs and files, on disk
	MapOutput    *MapOutput
	SinkFile     *SinkFile
	Samples      [][]byte
	Iter         *IterReport // Pregel stages only
}

// IterReport is what a task of a Pregel stage tells the executor about the
// superstep it ran.
type IterReport struct {
	Superstep  int
	Active     int64  // vertices that did not vote to halt
	Messages   int64  // messages sent, before combining
	Aggregates []byte // this task's aggregator partials
	Final      bool   // the task emitted its vertices: the iteration is over
	Checkpoint bool   // the task wrote the checkpoint of this superstep
}

// ErrStateLost means a Pregel task found no resident vertex partition for
// the previous superstep (its process restarted, or the task was scheduled
// elsewhere): the executor rolls back to the last checkpoint.
var ErrStateLost = errors.New("bsp: resident vertex partition lost")

// ResidentStore keeps Pregel vertex partitions between the supersteps of a
// job in one process. Executors give every task of a process the same store
// and drop a job's entries when it ends.
type ResidentStore interface {
	Get(key string) (any, bool)
	Put(key string, v any)
	Delete(key string)
}

// TaskError is a failure of user code or of the task itself; Stack is set
// when the task panicked.
type TaskError struct {
	Task  TaskSpec
	Err   error
	Stack string
}

func (e *TaskError) Error() string {
	if e.Stack != "" {
		return fmt.Sprintf("%s: %v\n%s", e.Task, e.Err, e.Stack)
	}
	return fmt.Sprintf("%s: %v", e.Task, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

// taskCtx is the state of one running task, shared by the operators of its
// pipeline. Only the task's goroutine touches it.
type taskCtx struct {
	ctx     context.Context
	env     *TaskEnv
	spec    TaskSpec
	stage   *StageSpec
	prog    *Program
	err     error
	closers []func()
	report  TaskReport
}

// fail records the first error; sources stop reading once err is set.
func (tc *taskCtx) fail(err error) {
	if tc.err == nil && err != nil {
		tc.err = err
	}
}

// onClose registers a cleanup that runs when the task ends, in reverse order.
func (tc *taskCtx) onClose(f func()) { tc.closers = append(tc.closers, f) }

func (tc *taskCtx) close() {
	for i := len(tc.closers) - 1; i >= 0; i-- {
		tc.closers[i]()
	}
	tc.closers = nil
}

// stopped reports whether the task should stop feeding records.
func (tc *taskCtx) stopped() bool {
	if tc.err != nil {
		return true
	}
	if err := tc.ctx.Err(); err != nil {
		tc.fail(err)
		return true
	}
	return false
}

// RunTask runs one task of the program: it builds the stage's pipeline from
// the typed operators, feeds it the task's input, and writes its output to an
// attempt-scoped file named in the report. It is the only code path that runs
// user operators, whatever the executor. A panic in user code is returned as
// a *TaskError with the stack.
func (p *Program) RunTask(ctx context.Context, spec TaskSpec, env *TaskEnv) (rep *TaskReport, err error) {
	if spec.Stage < 0 || spec.Stage >= len(p.Spec.Stages) {
		return nil, fmt.Errorf("%w: no stage %d", ErrBadSpec, spec.Stage)
	}
	st := &p.Spec.Stages[spec.Stage]
	if spec.Partition < 0 || spec.Partition >= st.Tasks {
		return nil, fmt.Errorf("%w: stage %d has no task %d", ErrBadSpec, spec.Stage, spec.Partition)
	}
	tc := &taskCtx{ctx: ctx, env: env, spec: spec, stage: st, prog: p}
	defer func() {
		if r := recover(); r != nil {
			err = &TaskError{Task: spec, Err: fmt.Errorf("panic: %v", r), Stack: string(debug.Stack())}
			rep = nil
		}
		tc.close()
	}()
	if err := p.runTask(tc); err != nil {
		var te *TaskError
		if errors.As(err, &te) || errors.Is(err, ErrMapOutputLost) || errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, &TaskError{Task: spec, Err: err}
	}
	return &tc.report, nil
}

func (p *Program) runTask(tc *taskCtx) error {
	st := tc.stage
	nodes := p.plan.nodes
	in := nodes[st.Input.Node]
	var (
		flushes []func()
		finish  func() error
	)
	open := func() (any, error) {
		down, fin, fl, err := p.openPipeline(tc)
		finish, flushes = fin, fl
		return down, err
	}
	var err error
	switch {
	case st.Iterate != nil:
		if in.wide == nil || in.wide.iter == nil {
			return fmt.Errorf("%w: stage %d iterates over node %d, which is not a Pregel node", ErrBadSpec, st.ID, in.id)
		}
		err = in.wide.iter(tc, tc.spec.Partition, open)
	default:
		var down any
		if down, err = open(); err != nil {
			return err
		}
		if st.Input.Kind == InputSource {
			err = in.src.read(tc, st.Input.Splits[tc.spec.Partition], down)
		} else {
			err = in.wide.read(tc, tc.spec.Partition, down)
		}
	}
	tc.fail(err)
	for _, f := range flushes {
		if f != nil && tc.err == nil {
			f()
		}
	}
	if tc.err != nil {
		return tc.err
	}
	if finish != nil {
		if err := finish(); err != nil {
			return err
		}
	}
	return tc.err
}

// openPipeline opens the stage's output and wraps its operator chain around
// it, returning what the input feeds.
func (p *Program) openPipeline(tc *taskCtx) (down any, finish func() error, flushes []func(), err error) {
	st := tc.stage
	nodes := p.plan.nodes
	term := nodes[st.Output.Node]
	switch st.Output.Kind {
	case OutputShuffle:
		out, err := tc.openShuffleOut(term)
		if err != nil {
			return nil, nil, nil, err
		}
		down, finish = term.wide.write(tc, st.Output.Side, out)
	case OutputSample:
		d, fin := term.wide.sample(tc)
		down = d
		finish = func() error { tc.report.Samples = fin(); return nil }
	case OutputSink, OutputCollect:
		pw, err := tc.openPartWriter(term)
		if err != nil {
			return nil, nil, nil, err
		}
		down, finish = term.sink.open(tc, pw)
	default:
		return nil, nil, nil, fmt.Errorf("%w: output kind %q", ErrBadSpec, st.Output.Kind)
	}
	flushes = make([]func(), len(st.Chain))
	for i := len(st.Chain) - 1; i >= 0; i-- {
		down, flushes[i] = nodes[st.Chain[i]].wrap(tc, down)
	}
	return down, finish, flushes, nil
}

// shuffleOut is where a map task writes: its output file and partitioner.
type shuffleOut struct {
	w    *shuffle.FileWriter
	part shuffle.Partitioner
	n    int
}

// MapOutputPath is where the map output of a task attempt is written under
// workDir. Executors use it to find and delete shuffle files.
func MapOutputPath(workDir, jobID string, node, side, part, attempt int) string {
	return filepath.Join(workDir, jobID, fmt.Sprintf("shuffle-%d", node),
		fmt.Sprintf("side%d-map%05d-a%d.ssf", side, part, attempt))
}

func (tc *taskCtx) openShuffleOut(term *node) (shuffleOut, error) {
	st := tc.stage
	path := MapOutputPath(tc.env.WorkDir, tc.prog.Spec.JobID, term.id, st.Output.Side, tc.spec.Partition, tc.spec.Attempt)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return shuffleOut{}, err
	}
	n := st.Output.Partitions
	w, err := shuffle.NewFileWriter(path, n, shuffle.WriterOptions{Compression: tc.env.Compression})
	if err != nil {
		return shuffleOut{}, err
	}
	tc.onClose(func() { _ = w.Abort() }) // no-op once Close succeeded
	var part shuffle.Partitioner
	switch term.wide.shuffle {
	case shuffleRangeSorted:
		part = &shuffle.RangePartitioner{Bounds: tc.spec.Bounds}
		if part.NumPartitions() > n {
			return shuffleOut{}, fmt.Errorf("%w: %d range bounds for %d partitions", ErrBadSpec, len(tc.spec.Bounds), n)
		}
	default:
		part = shuffle.NewHashPartitioner(n)
	}
	out := shuffleOut{w: w, part: part, n: n}
	tc.report.MapOutput = &MapOutput{Node: term.id, Side: st.Output.Side, Part: tc.spec.Partition, Path: path}
	return out, nil
}

// closeShuffleOut finishes a map output file and records its index.
func (tc *taskCtx) closeShuffleOut(out shuffleOut) error {
	ix, err := out.w.Close()
	if err != nil {
		return err
	}
	tc.report.MapOutput.Index = ix
	tc.report.RecordsOut += ix.Rows // records written to the shuffle, after map-side combining
	tc.report.ShuffleBytes += ix.Bytes
	tc.report.ShuffleRaw += ix.RawBytes
	return nil
}
