// Package local runs Superstep programs inside one process. It is a
// one-node cluster: the coordinator's own state machine and decisions
// (coordinator.State, coordinator.Leader.Step: scheduling, the barrier,
// retries, the Pregel iteration and rollback, the commit) drive an
// in-process worker whose Config.Slots goroutines run the tasks through
// bsp.Program.RunTask, the same task code as a cluster worker. Shuffle files
// live in a local work directory and reducers read them straight from disk;
// commands are applied to the state directly instead of through raft, and
// messages go over an in-memory transport instead of gRPC (see driver.go).
package local

import (
	"context"
	"errors"
	"fmt"
	"os"

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
	MaxAttempts int                 // failed attempts per task (and Pregel rollbacks without progress) before the job fails: the job's SubmitJob.MaxAttempts
	Mem         memory.Allocator    // Arrow allocator for every task
	// Progress, if set, is called (serially) as stages start and finish
	// and tasks commit, from the job events the coordinator derives from
	// its state (coordinator.EventDeriver).
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

// Event reports progress: a stage started (Task < 0), a task committed
// (for a Pregel stage, once per vertex superstep) or a stage finished (Done).
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

// Execute implements bsp.Executor. A job that fails returns a *JobError;
// cancelling ctx cancels the job and returns ctx's error. Either way the
// job's work files, temporary sink output and checkpoints are gone when it
// returns.
func (e *Executor) Execute(ctx context.Context, prog *bsp.Program) (res *bsp.Result, err error) {
	workDir := e.cfg.WorkDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "superstep-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(workDir)
	}
	res, err = newDriver(e.cfg, prog, workDir).run(ctx)
	if rmErr := removeJobDir(workDir, prog); err == nil && rmErr != nil {
		return nil, rmErr
	}
	return res, err
}
