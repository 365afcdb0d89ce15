// Package local runs Superstep programs inside one process: the tasks of each
// superstep run on a pool of goroutines, shuffle files live in a local work
// directory, and reducers read them straight from disk. It runs the same task
// code (bsp.Program.RunTask) as the cluster runtime; only scheduling and
// shuffle transport differ.
package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/shuffle"
)

// Config configures an Executor. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	Slots       int                 // tasks run at once
	Memory      int64               // bytes for all running tasks; each gets Memory/Slots
	WorkDir     string              // shuffle and spill files; empty: a temporary directory
	Compression shuffle.Compression // shuffle block compression
	MaxAttempts int                 // attempts per task before the job fails
	Mem         memory.Allocator    // Arrow allocator for every task
	// Progress, if set, is called (from executor goroutines, serially) as
	// stages start and tasks finish.
	Progress func(Event)
}

// DefaultConfig is two slots, 1 GiB, zstd and three attempts per task.
func DefaultConfig() Config {
	return Config{Slots: 2, Memory: 1 << 30, Compression: shuffle.Zstd, MaxAttempts: 3,
		Mem: memory.NewGoAllocator()}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Slots < 1:
		return fmt.Errorf("local: slots must be at least 1, got %d", c.Slots)
	case c.Memory < 1<<20:
		return fmt.Errorf("local: memory budget must be at least 1 MiB, got %d bytes", c.Memory)
	case c.MaxAttempts < 1:
		return fmt.Errorf("local: max attempts must be at least 1, got %d", c.MaxAttempts)
	case c.Mem == nil:
		return errors.New("local: no allocator")
	}
	return nil
}

// Event reports progress: a stage started (Task < 0) or a task finished.
type Event struct {
	Stage, Tasks int
	Task         int
	Ops          []string
	Report       *bsp.TaskReport
	Done         bool // the stage finished
}

// Executor runs programs in this process. It is safe to run several programs
// at once.
type Executor struct {
	cfg Config
}

// New returns an executor; it fails if cfg is invalid.
func New(cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Executor{cfg: cfg}, nil
}

// Execute implements bsp.Executor.
func (e *Executor) Execute(ctx context.Context, prog *bsp.Program) (res *bsp.Result, err error) {
	start := time.Now()
	workDir := e.cfg.WorkDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "superstep-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(workDir)
	}
	jobDir := filepath.Join(workDir, prog.Spec.JobID)
	r := &run{cfg: e.cfg, prog: prog, workDir: workDir, outputs: map[outKey][]*bsp.MapOutput{},
		files: map[string]*shuffle.FileReader{}, resident: bsp.NewMemResident()}
	defer func() {
		_ = bsp.RemoveCheckpoints(prog.Spec)
		r.closeFiles()
		if rmErr := os.RemoveAll(jobDir); err == nil && rmErr != nil {
			err = rmErr
		}
		if err != nil {
			_ = prog.AbortJob()
			res = nil
		}
	}()
	res = &bsp.Result{Collected: map[int][][]byte{}}
	samples := map[int][][]byte{}
	for i := range prog.Spec.Stages {
		st := &prog.Spec.Stages[i]
		var bounds [][]byte
		if len(st.Output.BoundsFrom) > 0 {
			var all [][]byte
			for _, s := range st.Output.BoundsFrom {
				all = append(all, samples[s]...)
			}
			bounds = prog.RangeBounds(i, all)
		}
		stats, sample, err := r.stage(ctx, st, bounds)
		if err != nil {
			return nil, err
		}
		samples[i] = sample
		res.Stages = append(res.Stages, stats)
	}
	for k, outs := range r.outputs {
		if !r.isCollect(k.node) {
			continue
		}
		var blocks [][]byte
		for _, o := range outs {
			b, err := r.readAllBlocks(o)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, b...)
		}
		res.Collected[k.node] = blocks
	}
	if err := prog.CommitJob(); err != nil {
		return nil, err
	}
	res.Wall = time.Since(start)
	return res, nil
}

type outKey struct{ node, side int }

// run is the state of one Execute call.
type run struct {
	cfg     Config
	prog    *bsp.Program
	workDir string

	mu      sync.Mutex // guards the fields below
	outputs map[outKey][]*bsp.MapOutput
	files   map[string]*shuffle.FileReader

	resident *bsp.MemResident // Pregel partitions of this run
}

func (r *run) isCollect(node int) bool {
	for _, st := range r.prog.Spec.Stages {
		if st.Output.Node == node && st.Output.Kind == bsp.OutputCollect {
			return true
		}
	}
	return false
}

// stage runs every task of one stage and commits one attempt of each.
func (r *run) stage(ctx context.Context, st *bsp.StageSpec, bounds [][]byte) (bsp.StageStats, [][]byte, error) {
	start := time.Now()
	stats := bsp.StageStats{Stage: st.ID, Tasks: st.Tasks}
	r.progress(Event{Stage: st.ID, Tasks: st.Tasks, Task: -1, Ops: st.Ops})
	r.prepareOutputs(st)
	var (
		samples [][]byte
		err     error
	)
	if st.Iterate != nil {
		err = r.iterate(ctx, st, &stats)
	} else {
		var reps []*bsp.TaskReport
		reps, err = r.tasks(ctx, st, bsp.TaskSpec{Stage: st.ID, Bounds: bounds}, &stats, true)
		for _, rep := range reps {
			samples = append(samples, rep.Samples...)
		}
	}
	if err != nil {
		return stats, nil, err
	}
	stats.Wall = time.Since(start)
	stats.Retries = max(0, stats.Attempts-stats.Tasks*max(1, stats.Supersteps))
	r.progress(Event{Stage: st.ID, Tasks: st.Tasks, Task: -1, Done: true, Ops: st.Ops})
	return stats, samples, nil
}

func (r *run) prepareOutputs(st *bsp.StageSpec) {
	if st.Output.Kind == bsp.OutputShuffle || st.Output.Kind == bsp.OutputCollect {
		r.mu.Lock()
		r.outputs[outKey{st.Output.Node, st.Output.Side}] = make([]*bsp.MapOutput, st.Tasks)
		r.mu.Unlock()
	}
}

// tasks runs every task of st (ts gives the stage and iteration fields),
// commits each when commit is set, and returns the reports in task order.
func (r *run) tasks(ctx context.Context, st *bsp.StageSpec, ts bsp.TaskSpec, stats *bsp.StageStats, commit bool) ([]*bsp.TaskReport, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards first, stats, reps
		first error
		reps  = make([]*bsp.TaskReport, st.Tasks)
	)
	next := make(chan int)
	env := &bsp.TaskEnv{Mem: r.cfg.Mem, MemoryBudget: r.cfg.Memory / int64(r.cfg.Slots), WorkDir: r.workDir,
		Compression: r.cfg.Compression, Inputs: r, Resident: r.resident}
	for range min(r.cfg.Slots, max(st.Tasks, 1)) {
		wg.Go(func() {
			for part := range next {
				spec := ts
				spec.Partition = part
				rep, attempts, err := r.task(ctx, spec, env, commit)
				mu.Lock()
				stats.Attempts += attempts
				if err != nil {
					if first == nil {
						first = err
						cancel()
					}
				} else {
					stats.Add(rep)
					reps[part] = rep
				}
				mu.Unlock()
				if err == nil {
					r.progress(Event{Stage: st.ID, Tasks: st.Tasks, Task: part, Report: rep})
				}
			}
		})
	}
feed:
	for part := range st.Tasks {
		select {
		case next <- part:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		return nil, first
	}
	return reps, nil
}

// iterate drives a Pregel stage (see bsp.IterateSpec): superstep after
// superstep until the tasks report Final, rolling back to the last
// checkpoint when a partition is lost.
func (r *run) iterate(ctx context.Context, st *bsp.StageSpec, stats *bsp.StageStats) error {
	it := st.Iterate
	msgKey := outKey{st.Input.Node, bsp.MessageSide}
	type checkpoint struct {
		superstep int
		aggs      [][]byte
		final     bool
	}
	var (
		ckpt      *checkpoint
		ts        = bsp.TaskSpec{Stage: st.ID}
		rollbacks int
	)
	defer r.dropMessages(msgKey)
	for {
		reps, err := r.tasks(ctx, st, ts, stats, false)
		if errors.Is(err, bsp.ErrStateLost) && rollbacks < r.cfg.MaxAttempts {
			rollbacks++
			r.dropMessages(msgKey)
			ts = bsp.TaskSpec{Stage: st.ID}
			if ckpt != nil {
				ts = bsp.TaskSpec{Stage: st.ID, Superstep: ckpt.superstep + 1, Restore: true, Final: ckpt.final, Aggregates: ckpt.aggs}
			}
			continue
		}
		if err != nil {
			return err
		}
		var (
			aggs             [][]byte
			final            = true
			active, messages int64
			checkpointed     = true
			outs             = make([]*bsp.MapOutput, len(reps))
		)
		for i, rep := range reps {
			if rep.Iter == nil {
				return fmt.Errorf("stage %d task %d: a Pregel task returned no iteration report", st.ID, i)
			}
			final = final && rep.Iter.Final
			active += rep.Iter.Active
			messages += rep.Iter.Messages
			checkpointed = checkpointed && rep.Iter.Checkpoint
			aggs = append(aggs, rep.Iter.Aggregates)
			outs[i] = rep.MapOutput
		}
		if final {
			stats.Supersteps = ts.Superstep + 1
			return nil
		}
		r.dropMessages(msgKey)
		r.mu.Lock()
		r.outputs[msgKey] = outs
		r.mu.Unlock()
		next := ts.Superstep + 1
		ts = bsp.TaskSpec{Stage: st.ID, Superstep: next, Aggregates: aggs,
			Final: it.Final(next, active, messages)}
		if checkpointed && len(reps) > 0 {
			ckpt = &checkpoint{superstep: next - 1, aggs: aggs, final: ts.Final}
		}
	}
}

// dropMessages forgets and deletes the message outputs of a superstep once
// the next one has read them.
func (r *run) dropMessages(k outKey) {
	r.mu.Lock()
	outs := r.outputs[k]
	delete(r.outputs, k)
	for _, o := range outs {
		if o == nil {
			continue
		}
		if fr, ok := r.files[o.Path]; ok {
			_ = fr.Close()
			delete(r.files, o.Path)
		}
		_ = os.Remove(o.Path)
	}
	r.mu.Unlock()
}

var progressMu sync.Mutex

func (r *run) progress(ev Event) {
	if r.cfg.Progress == nil {
		return
	}
	progressMu.Lock()
	defer progressMu.Unlock()
	r.cfg.Progress(ev)
}

// task runs attempts of one task until one succeeds or MaxAttempts failed,
// then commits the successful attempt when commit is set.
func (r *run) task(ctx context.Context, ts bsp.TaskSpec, env *bsp.TaskEnv, commit bool) (*bsp.TaskReport, int, error) {
	var err error
	for attempt := range r.cfg.MaxAttempts {
		if ctx.Err() != nil {
			return nil, attempt, ctx.Err()
		}
		var rep *bsp.TaskReport
		ts.Attempt = attempt
		rep, err = r.prog.RunTask(ctx, ts, env)
		if err == nil {
			if !commit && (rep.Iter == nil || !rep.Iter.Final) {
				return rep, attempt + 1, nil
			}
			return rep, attempt + 1, r.commit(rep)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, bsp.ErrStateLost) || bsp.Permanent(err) {
			return nil, attempt + 1, err
		}
	}
	return nil, r.cfg.MaxAttempts, fmt.Errorf("task failed %d times: %w", r.cfg.MaxAttempts, err)
}

func (r *run) commit(rep *bsp.TaskReport) error {
	if mo := rep.MapOutput; mo != nil {
		r.mu.Lock()
		r.outputs[outKey{mo.Node, mo.Side}][mo.Part] = mo
		r.mu.Unlock()
	}
	return r.prog.CommitTask(rep)
}

// Runs implements bsp.ShuffleInputs over the committed local map outputs.
func (r *run) Runs(_ context.Context, node, side, part int) ([]bsp.RunOpener, error) {
	r.mu.Lock()
	outs := r.outputs[outKey{node, side}]
	r.mu.Unlock()
	var openers []bsp.RunOpener
	for _, o := range outs {
		if o == nil {
			return nil, fmt.Errorf("%w: shuffle %d side %d has an uncommitted map task", bsp.ErrMapOutputLost, node, side)
		}
		if part >= len(o.Index.Runs) {
			return nil, fmt.Errorf("%w: %s has %d partitions, want %d", bsp.ErrMapOutputLost, o.Path, len(o.Index.Runs), part+1)
		}
		for _, run := range o.Index.Runs[part] {
			openers = append(openers, func(context.Context) (shuffle.RecordIterator, error) {
				fr, err := r.file(o.Path)
				if err != nil {
					return nil, err
				}
				return shuffle.NewRunIterator(shuffle.FileBlockSource(fr), run, r.cfg.Mem), nil
			})
		}
	}
	return openers, nil
}

// file returns a shared reader of a map output file (ReadAt is safe for
// concurrent use).
func (r *run) file(path string) (*shuffle.FileReader, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fr, ok := r.files[path]; ok {
		return fr, nil
	}
	fr, err := shuffle.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", bsp.ErrMapOutputLost, err)
	}
	r.files[path] = fr
	return fr, nil
}

func (r *run) closeFiles() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fr := range r.files {
		_ = fr.Close()
	}
	clear(r.files)
}

// readAllBlocks returns the raw blocks of a one-partition output file.
func (r *run) readAllBlocks(o *bsp.MapOutput) ([][]byte, error) {
	fr, err := r.file(o.Path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, run := range o.Index.Runs[0] {
		for _, h := range run.Blocks {
			b, err := fr.ReadBlock(h, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	return out, nil
}
