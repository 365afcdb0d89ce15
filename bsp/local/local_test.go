package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator"
)

// These tests show that the in-process executor runs the coordinator's
// decisions: the attempts, retries, failures and rollbacks they count are
// the state's (coordinator.State, via Leader.Step), not a loop of this
// package's. They set the package's beforeAttempt hook, so they do not run
// in parallel.

// attempts records every attempt the worker started (the hook).
type attempts struct {
	mu   sync.Mutex
	seen []bsp.TaskSpec
	on   func(bsp.TaskSpec, *bsp.MemResident) error
}

func (a *attempts) install(t *testing.T) {
	beforeAttempt = func(ts bsp.TaskSpec, r *bsp.MemResident) error {
		a.mu.Lock()
		a.seen = append(a.seen, ts)
		on := a.on
		a.mu.Unlock()
		if on != nil {
			return on(ts, r)
		}
		return nil
	}
	t.Cleanup(func() { beforeAttempt = nil })
}

// of returns the attempt numbers started for task part of stage.
func (a *attempts) of(stage, part int) []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int
	for _, ts := range a.seen {
		if ts.Stage == stage && ts.Partition == part {
			out = append(out, ts.Attempt)
		}
	}
	return out
}

func run(t *testing.T, p *bsp.Plan, maxAttempts int) (*bsp.Result, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	prog, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "test", CheckpointDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Slots, cfg.Mem, cfg.WorkDir, cfg.MaxAttempts = 2, mem, t.TempDir(), maxAttempts
	ex, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ex.Execute(context.Background(), prog)
	if left, _ := os.ReadDir(cfg.WorkDir); len(left) != 0 {
		t.Errorf("the job left %v in its work directory", left)
	}
	return res, err
}

// flaky builds a plan whose map task 1 (of 3) panics in its first `fails`
// attempts: the user function fails until a counter passes.
func flaky(fails int32) (*bsp.Plan, bsp.Collected[int]) {
	var calls atomic.Int32
	p := bsp.NewPlan(2)
	h := bsp.Collect(bsp.Map(bsp.FromSlice(p, []int{1, 2, 3, 4, 5, 6}, 3), func(x int) int {
		if x == 3 && calls.Add(1) <= fails {
			panic("flaky at three")
		}
		return 10 * x
	}))
	return p, h
}

// TestUserErrorRetriedByStep: a task that fails twice and then succeeds is
// retried by the leader's Step: its attempts are numbered 0, 1, 2 by the
// state, the stage counts two retries, and the output is whole.
func TestUserErrorRetriedByStep(t *testing.T) {
	var a attempts
	a.install(t)
	p, h := flaky(2)
	res, err := run(t, p, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bsp.ReadCollected(context.Background(), res, h)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []int{10, 20, 30, 40, 50, 60}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := a.of(0, 1); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("task 1 ran attempts %v, want [0 1 2]", got)
	}
	if s := res.Stages[0]; s.Attempts != 5 || s.Retries != 2 {
		t.Fatalf("stage 0: %d attempts, %d retries; want 5 and 2", s.Attempts, s.Retries)
	}
}

// TestUserErrorOutOfAttempts: with two attempts allowed, a task that fails
// twice fails the job after exactly two attempts, with the state's account
// (coordinator.ErrJobFailed, "failed 2 times") and the task's own error.
func TestUserErrorOutOfAttempts(t *testing.T) {
	var a attempts
	a.install(t)
	p, _ := flaky(2)
	_, err := run(t, p, 2)
	var te *bsp.TaskError
	if !errors.Is(err, coordinator.ErrJobFailed) || errors.Is(err, coordinator.ErrPermanent) || !errors.As(err, &te) {
		t.Fatalf("error %v: want a user failure with the task's error", err)
	}
	if !strings.Contains(err.Error(), "failed 2 times") || !strings.Contains(te.Error(), "flaky at three") || te.Stack == "" {
		t.Fatalf("error %q (task error %q)", err, te)
	}
	if got := a.of(0, 1); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("task 1 ran attempts %v, want [0 1]", got)
	}
}

// TestPermanentErrorOneAttempt: a malformed input line fails the job after
// exactly one attempt although three are allowed, and the error names the
// file and line.
func TestPermanentErrorOneAttempt(t *testing.T) {
	var a attempts
	a.install(t)
	path := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte("name,age\nada,36\nbob,seven\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type person struct {
		Name string
		Age  int
	}
	p := bsp.NewPlan(2)
	bsp.Collect(bsp.CSV[person](p, path))
	_, err := run(t, p, 3)
	var ie *bsp.InputError
	if !errors.Is(err, coordinator.ErrPermanent) || !errors.As(err, &ie) {
		t.Fatalf("error %v: want a permanent input error", err)
	}
	if ie.Path != path || ie.Line != 3 {
		t.Fatalf("input error at %s:%d, want %s:3", ie.Path, ie.Line, path)
	}
	if got := a.of(0, 0); !slices.Equal(got, []int{0}) {
		t.Fatalf("the source task ran attempts %v, want exactly [0]", got)
	}
}

type ring = bsp.Edge[int64, struct{}]

// rotation is a Pregel job on a ring of six vertices: every superstep each
// vertex passes its value on, so after the last one every vertex holds the
// ID of another.
func rotation(p *bsp.Plan, checkpointEvery int) bsp.Collected[bsp.KV[int64, int64]] {
	var edges []ring
	for i := int64(1); i <= 6; i++ {
		edges = append(edges, ring{Src: i, Dst: i%6 + 1})
	}
	return bsp.Collect(bsp.Pregel(bsp.Dataset[bsp.KV[int64, int64]]{}, bsp.FromSlice(p, edges, 2),
		bsp.VertexProgram[int64, int64, struct{}, int64]{
			Compute: func(v *bsp.Vertex[int64, int64, struct{}, int64], msgs []int64) {
				if v.Superstep() == 0 {
					v.Value = v.ID
				} else if len(msgs) == 1 {
					v.Value = msgs[0]
				}
				for _, e := range v.Edges() {
					v.Send(e.Dst, v.Value)
				}
			},
			MaxSupersteps:   9,
			CheckpointEvery: checkpointEvery,
		}))
}

func rotate(t *testing.T, maxAttempts, checkpointEvery int, lose func(bsp.TaskSpec) bool) ([]bsp.KV[int64, int64], *bsp.Result, error) {
	t.Helper()
	var a attempts
	a.on = func(ts bsp.TaskSpec, r *bsp.MemResident) error {
		if lose != nil && lose(ts) {
			r.DropJob("test") // the process "restarted": every vertex partition is gone
		}
		return nil
	}
	a.install(t)
	p := bsp.NewPlan(3)
	h := rotation(p, checkpointEvery)
	res, err := run(t, p, maxAttempts)
	if err != nil {
		return nil, nil, err
	}
	got, err := bsp.ReadCollected(context.Background(), res, h)
	slices.SortFunc(got, func(x, y bsp.KV[int64, int64]) int { return int(x.Key - y.Key) })
	return got, res, err
}

// TestPregelRollbackResetsOnProgress: with two attempts allowed, a Pregel
// stage that loses its vertex partitions at three different supersteps
// still completes, because the coordinator resets the rollback count each
// time the stage gets past where it had been (the old in-process driver
// never reset it and failed at the third loss), and the output equals a
// run without faults.
func TestPregelRollbackResetsOnProgress(t *testing.T) {
	want, clean, err := rotate(t, 2, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, 0, len(want))
	for _, kv := range want {
		if kv.Value == kv.Key {
			t.Fatalf("vertex %d kept its own ID: the values did not travel", kv.Key)
		}
		ids = append(ids, kv.Value)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("values %v are not a rotation of the IDs", want)
	}
	var lost sync.Map
	got, res, err := rotate(t, 2, 3, func(ts bsp.TaskSpec) bool {
		if ts.Partition == 0 && (ts.Superstep == 2 || ts.Superstep == 5 || ts.Superstep == 7) && !ts.Restore {
			_, seen := lost.LoadOrStore(ts.Superstep, true)
			return !seen
		}
		return false
	})
	if err != nil {
		t.Fatalf("three losses at three supersteps, two attempts: %v", err)
	}
	n := 0
	lost.Range(func(any, any) bool { n++; return true })
	if n != 3 {
		t.Fatalf("%d losses happened, want 3", n)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after rollbacks %v, without %v", got, want)
	}
	last := len(res.Stages) - 1
	if r, c := res.Stages[last].Attempts, clean.Stages[last].Attempts; r <= c {
		t.Fatalf("the rolled-back run counted %d attempts, the clean one %d: no superstep was rerun", r, c)
	}
}

// TestPregelRollbackLimit: a partition lost at the same superstep every
// time (no checkpoints, so every rollback reruns from superstep 0) fails
// the job once the stage has rolled back as many times as
// attempts are allowed, without progress.
func TestPregelRollbackLimit(t *testing.T) {
	var losses atomic.Int32
	_, _, err := rotate(t, 2, -1, func(ts bsp.TaskSpec) bool {
		if ts.Partition == 0 && ts.Superstep == 4 {
			losses.Add(1)
			return true
		}
		return false
	})
	if !errors.Is(err, coordinator.ErrJobFailed) || !errors.Is(err, bsp.ErrStateLost) {
		t.Fatalf("error %v: want the job failed by lost state", err)
	}
	if !strings.Contains(err.Error(), "rolled back 2 times without progress") {
		t.Fatalf("error %q does not say the stage rolled back twice", err)
	}
	if n := losses.Load(); n != 2 {
		t.Fatalf("superstep 4 ran %d times, want 2", n)
	}
}

// TestCancelEndsTheJob: cancelling the context while a stage runs cancels
// the job in the state (CancelJob), whose attempts are cancelled on the
// worker and whose files are deleted; Execute returns the context's error.
func TestCancelEndsTheJob(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var a attempts
	a.on = func(ts bsp.TaskSpec, _ *bsp.MemResident) error {
		if ts.Stage == 1 {
			cancel()
			<-ctx.Done()
		}
		return nil
	}
	a.install(t)
	p := bsp.NewPlan(2)
	bsp.Collect(bsp.Repartition(bsp.FromSlice(p, []int{1, 2, 3, 4}, 2), 2))
	prog, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "test", CheckpointDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.WorkDir = t.TempDir()
	ex, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Execute(ctx, prog); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if len(a.of(1, 0))+len(a.of(1, 1)) == 0 {
		t.Fatal("stage 1 never started: the cancellation was not mid-job")
	}
	if left, _ := os.ReadDir(cfg.WorkDir); len(left) != 0 {
		t.Fatalf("the cancelled job left %v", left)
	}
}
