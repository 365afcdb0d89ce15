package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/shuffle"
)

// worker is the in-process worker: the goroutine side of the in-memory
// transport. The driver's sends start, cancel and delete here; every
// outcome goes back to the driver as an observation. It does what a
// cluster worker does with an assignment (worker/worker.go), minus gRPC: it
// runs the attempt through bsp.Program.RunTask and turns the outcome into
// the coordinator's result command; reducers read map outputs straight from
// the local files the state names.
type worker struct {
	d        *driver
	workDir  string
	resident *bsp.MemResident // Pregel partitions of the job
	slots    chan struct{}    // at most Config.Slots attempts run at once
	env      bsp.TaskEnv      // template: Inputs is set per attempt

	// guarded by d.mu, so that the running set and the results the driver
	// reads in one step agree
	running map[coordinator.AttemptID]*attempt
	reports map[coordinator.AttemptID]*bsp.TaskReport // succeeded attempts, for progress events
	errs    map[coordinator.AttemptID]error           // failed attempts: the task's own error
	pruned  int                                       // Pregel messages before this superstep are deleted
	last    map[coordinator.TaskID]chan struct{}      // done of each task's newest attempt

	files files
	wg    sync.WaitGroup // running attempts and deletions
}

type attempt struct {
	cancel    context.CancelFunc
	cancelled bool
	done      chan struct{}
}

func newWorker(d *driver, workDir string) *worker {
	c := d.cfg
	return &worker{d: d, workDir: workDir, resident: bsp.NewMemResident(), slots: make(chan struct{}, c.Slots),
		env:     bsp.TaskEnv{Mem: c.Mem, MemoryBudget: c.Memory / int64(c.Slots), WorkDir: workDir, Compression: c.Compression},
		running: map[coordinator.AttemptID]*attempt{}, reports: map[coordinator.AttemptID]*bsp.TaskReport{},
		errs: map[coordinator.AttemptID]error{}, last: map[coordinator.TaskID]chan struct{}{}, files: files{m: map[string]*openFile{}}}
}

// runningList returns the attempts running here. The caller holds d.mu.
func (w *worker) runningList() []coordinator.AttemptID {
	out := make([]coordinator.AttemptID, 0, len(w.running))
	for a := range w.running {
		out = append(out, a)
	}
	return out
}

// start runs attempt a of task ts, reading its shuffle input through in.
// Called by the driver's loop when it carries out an assignment.
func (w *worker) start(a coordinator.AttemptID, ts bsp.TaskSpec, in *inputs) {
	if ts.Superstep >= 2 && ts.Superstep > w.pruned {
		// Superstep k runs only once k-1 completed: the messages of the
		// supersteps before k-1 are read by nobody.
		w.pruned = ts.Superstep
		for _, p := range bsp.StaleMessageOutputs(w.workDir, string(a.Job), ts.Superstep-1) {
			w.files.drop(p)
			_ = os.Remove(p)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	at := &attempt{cancel: cancel, done: make(chan struct{})}
	w.d.mu.Lock()
	w.running[a] = at
	prev := w.last[a.TaskID]
	w.last[a.TaskID] = at.done
	w.d.mu.Unlock()
	env := w.env
	env.Inputs, env.Resident = in, w.resident
	w.wg.Go(func() {
		defer cancel()
		if prev != nil {
			// An earlier attempt of the task that the state ended (a
			// rollback, a cancelled job) may still run until it sees its
			// cancellation; two attempts of one Pregel partition must not
			// share its resident state at once.
			<-prev
		}
		w.slots <- struct{}{}
		var rep *bsp.TaskReport
		var err error
		if hook := beforeAttempt; hook != nil {
			err = hook(ts, w.resident)
		}
		if err == nil {
			rep, err = w.d.prog.RunTask(ctx, ts, &env)
		}
		<-w.slots
		cmds := result(a, rep, err, ctx.Err() != nil)
		w.d.mu.Lock()
		delete(w.running, a)
		cancelled := at.cancelled
		if err != nil {
			w.errs[a] = err
		} else {
			w.reports[a] = rep
		}
		w.d.obs.results = append(w.d.obs.results, cmds...)
		w.d.mu.Unlock()
		if cancelled && rep != nil {
			// Another attempt won, or the job ended: nobody commits this one.
			if rep.SinkFile != nil {
				bsp.RemoveSinkAttempt(rep.SinkFile.Path)
			}
			if rep.MapOutput != nil {
				w.files.drop(rep.MapOutput.Path)
				_ = os.Remove(rep.MapOutput.Path)
			}
		}
		close(at.done)
		w.d.wakeUp()
	})
}

// beforeAttempt, when set (by tests), runs before every attempt with the
// worker's resident store; an error fails the attempt as the task would.
var beforeAttempt func(bsp.TaskSpec, *bsp.MemResident) error

// cancel stops a running attempt; it reports itself (its result is then
// ignored by the state).
func (w *worker) cancel(a coordinator.AttemptID) {
	w.d.mu.Lock()
	if at := w.running[a]; at != nil {
		at.cancelled = true
		at.cancel()
	}
	w.d.mu.Unlock()
}

// deleteJob cancels the job's running attempts, waits until they stopped
// writing, drops its resident partitions and removes its files, then
// acknowledges, as a cluster worker does on DeleteJobFiles.
func (w *worker) deleteJob(job coordinator.JobID) {
	w.wg.Go(func() {
		var wait []chan struct{}
		w.d.mu.Lock()
		for a, at := range w.running {
			if a.Job == job {
				at.cancelled = true
				at.cancel()
				wait = append(wait, at.done)
			}
		}
		w.d.mu.Unlock()
		for _, c := range wait {
			<-c
		}
		w.resident.DropJob(string(job))
		dir := filepath.Join(w.workDir, string(job))
		w.files.dropUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			w.d.mu.Lock()
			w.d.deleteErr = err
			w.d.mu.Unlock()
		}
		w.d.observe(func(o *observations) {
			o.acks = append(o.acks, coordinator.DeleteAck{Job: job, Worker: workerID})
		})
	})
}

// result turns an attempt's outcome into the commands a cluster worker's
// TaskResult becomes on the coordinator (coordinator/server: Server.result):
// a success with its report, or a failure with its kind — lost (a map output
// it read is gone, which is reported too; its vertex partition is gone;
// it was cancelled), permanent (with the input's file and line) or user.
func result(a coordinator.AttemptID, rep *bsp.TaskReport, err error, cancelled bool) []coordinator.Command {
	if err == nil {
		return []coordinator.Command{coordinator.TaskSucceeded{AttemptID: a, Worker: workerID, Report: report(rep)}}
	}
	tf := coordinator.TaskFailed{AttemptID: a, Worker: workerID, Error: err.Error(), ErrorKind: coordinator.KindUser}
	var li *lostInput
	if errors.As(err, &li) {
		tf.Lost, tf.ErrorKind = true, coordinator.KindLost
		return []coordinator.Command{coordinator.MapOutputLost{AttemptID: li.ref, Reason: li.err.Error()}, tf}
	}
	switch kind, ie := bsp.Classify(err, cancelled); kind {
	case bsp.FailStateLost:
		tf.Lost, tf.StateLost, tf.ErrorKind = true, true, coordinator.KindLost
	case bsp.FailCancelled:
		tf.Lost, tf.ErrorKind = true, coordinator.KindCancelled
	case bsp.FailPermanent:
		tf.ErrorKind = coordinator.KindPermanent
		if ie != nil && ie.Line >= 0 {
			tf.At = coordinator.Location{Path: ie.Path, Line: ie.Line}
		}
	}
	return []coordinator.Command{tf}
}

// report is the coordinator's form of a task report.
func report(rep *bsp.TaskReport) coordinator.TaskReport {
	out := coordinator.TaskReport{Samples: rep.Samples, Counters: coordinator.Counters{RecordsIn: rep.RecordsIn,
		RecordsOut: rep.RecordsOut, ShuffleBytes: rep.ShuffleBytes, ShuffleRaw: rep.ShuffleRaw, Spills: int64(rep.Spills)}}
	if mo := rep.MapOutput; mo != nil {
		ixb, _ := mo.Index.MarshalBinary()
		sizes := make([]int64, mo.Index.NumPartitions)
		for p := range sizes {
			sizes[p] = mo.Index.PartitionBytes(p)
		}
		out.MapOutput = &coordinator.MapOutputFile{Path: mo.Path, Sizes: sizes, Index: ixb}
	}
	if sf := rep.SinkFile; sf != nil {
		out.SinkFile = &coordinator.SinkFile{Node: sf.Node, Part: sf.Part, Path: sf.Path, Size: sf.Size}
	}
	if it := rep.Iter; it != nil {
		out.Iter = &coordinator.IterReport{Superstep: it.Superstep, Active: it.Active, Messages: it.Messages,
			Aggregates: it.Aggregates, Final: it.Final, Checkpoint: it.Checkpoint}
	}
	return out
}

// lostInput is a committed map output that a task could not read: the
// attempt that wrote it is reported (MapOutputLost) so that it reruns.
type lostInput struct {
	ref coordinator.AttemptID
	err error
}

func (e *lostInput) Error() string   { return fmt.Sprintf("map output of %s: %v", e.ref, e.err) }
func (e *lostInput) Unwrap() []error { return []error{bsp.ErrMapOutputLost, e.err} }

// inputs implements bsp.ShuffleInputs over the committed map outputs the
// state names for one attempt (coordinator.State.ShuffleInputs), by input
// node and side, read from the local files.
type inputs struct {
	w     *worker
	sides map[[2]int][]coordinator.OutputRef
}

// Runs implements bsp.ShuffleInputs.
func (in *inputs) Runs(_ context.Context, node, side, part int) ([]bsp.RunOpener, error) {
	refs, ok := in.sides[[2]int{node, side}]
	if !ok {
		return nil, fmt.Errorf("%w: the assignment lists no input for node %d side %d", bsp.ErrMapOutputLost, node, side)
	}
	var openers []bsp.RunOpener
	for _, r := range refs {
		ref := coordinator.AttemptID{TaskID: coordinator.TaskID{Job: in.w.d.id, Stage: r.Stage, Task: r.Task}, Attempt: r.Attempt}
		f, err := in.w.files.get(r.File)
		if err != nil {
			return nil, &lostInput{ref: ref, err: err}
		}
		if part >= len(f.ix.Runs) {
			return nil, &lostInput{ref: ref, err: fmt.Errorf("%s has %d partitions, want %d", r.File.Path, len(f.ix.Runs), part+1)}
		}
		for _, run := range f.ix.Runs[part] {
			openers = append(openers, func(context.Context) (shuffle.RecordIterator, error) {
				return shuffle.NewRunIterator(shuffle.FileBlockSource(f.fr), run, in.w.env.Mem), nil
			})
		}
	}
	return openers, nil
}

// files shares one reader and decoded index per map output file between
// the attempts that read it (ReadAt is safe for concurrent use).
type files struct {
	mu sync.Mutex
	m  map[string]*openFile
}

type openFile struct {
	fr *shuffle.FileReader
	ix *shuffle.Index
}

func (fs *files) get(mo coordinator.MapOutputFile) (*openFile, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[mo.Path]; ok {
		return f, nil
	}
	ix, err := shuffle.UnmarshalIndex(mo.Index)
	if err != nil {
		return nil, err
	}
	fr, err := shuffle.OpenFile(mo.Path)
	if err != nil {
		return nil, err
	}
	f := &openFile{fr: fr, ix: ix}
	fs.m[mo.Path] = f
	return f, nil
}

func (fs *files) drop(path string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[path]; ok {
		_ = f.fr.Close()
		delete(fs.m, path)
	}
}

func (fs *files) dropUnder(dir string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	for p, f := range fs.m {
		if strings.HasPrefix(p, prefix) {
			_ = f.fr.Close()
			delete(fs.m, p)
		}
	}
}

func (fs *files) closeAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.m {
		_ = f.fr.Close()
	}
	clear(fs.m)
}
