package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/superstep/superstep/bsp"
)

// Supersteps is how many supersteps the supersteps workload's job runs.
const Supersteps = 10

// superstepsRecords is the job's whole input: small enough that a
// superstep costs only its fixed part (task start, plan binding, the
// barrier, opening and fetching shuffle files).
const superstepsRecords = 100

// superstepsJob is a job of Supersteps trivial supersteps: 100 numbers,
// nine times incremented and repartitioned (each Repartition ends a
// superstep), then written. It is registered in the harness binary only,
// so the workload runs in the in-process modes (baseline, local,
// embedded), not as separate processes.
var superstepsJob = bsp.Register("bench-supersteps", func(p *bsp.Plan, a bsp.Args) error {
	xs := make([]int, superstepsRecords)
	for i := range xs {
		xs[i] = i
	}
	d := bsp.FromSlice(p, xs, 2)
	for range Supersteps - 1 {
		d = bsp.Repartition(bsp.Map(d, func(x int) int { return x + 1 }), 2)
	}
	bsp.WriteText(bsp.Map(d, strconv.Itoa), a.String("out"))
	return nil
}, bsp.WithDescription("benchmark: ten trivial supersteps (the fixed cost of a superstep)"),
	bsp.WithFlags(func(fs *pflag.FlagSet) { fs.String("out", "", "output directory") }))

// superstepsWL measures the fixed cost of a superstep: the wall time of
// superstepsJob divided by Supersteps. The baseline writes the same
// numbers directly.
type superstepsWL struct{}

func (superstepsWL) Name() string                                 { return "supersteps" }
func (superstepsWL) Prepare(context.Context, string, int64) error { return nil }
func (superstepsWL) Input() (int64, int64)                        { return superstepsRecords, 0 }

// want is the job's output: the numbers 9..108, one per line, sorted.
func (superstepsWL) want() []string {
	var out []string
	for i := range superstepsRecords {
		out = append(out, strconv.Itoa(i+Supersteps-1))
	}
	slices.Sort(out)
	return out
}

func (w superstepsWL) Baseline(_ context.Context, out string) error {
	return writePart(out, func(f io.Writer) error {
		_, err := io.WriteString(f, strings.Join(w.want(), "\n")+"\n")
		return err
	})
}

func (superstepsWL) JobArgs(out string) (string, []string) {
	return superstepsJob.Name, []string{"--out", out}
}

func (w superstepsWL) Validate(_ context.Context, out string) error {
	b, err := readParts(out)
	if err != nil {
		return err
	}
	got := strings.Fields(string(b))
	slices.Sort(got)
	if !slices.Equal(got, w.want()) {
		return fmt.Errorf("supersteps: %d numbers, not the %d expected", len(got), superstepsRecords)
	}
	return nil
}
