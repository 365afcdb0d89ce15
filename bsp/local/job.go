package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/superstep/superstep/bsp"
)

// RunJob parses a registered job's command-line flags, builds and compiles
// its plan with the given default partition count and executes it. It is
// what tests, benchmarks and examples use to run a job in-process.
func (e *Executor) RunJob(ctx context.Context, job *bsp.Job, flags []string, partitions int) (*bsp.Result, error) {
	fs := job.FlagSet()
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	args := bsp.EncodeArgs(fs)
	plan, err := job.Build(args, partitions)
	if err != nil {
		return nil, err
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	prog, err := bsp.Compile(ctx, plan, bsp.CompileOptions{JobID: "run-" + hex.EncodeToString(id[:]), Job: job.Name, Args: args})
	if err != nil {
		return nil, err
	}
	return e.Execute(ctx, prog)
}
