package local

import (
	"context"
	"fmt"
	"testing"

	"github.com/superstep/superstep/bsp"
)

// BenchmarkSupersteps measures the fixed cost of a superstep in process:
// a job of ten trivial supersteps (100 numbers, nine Repartitions), as
// bench's supersteps workload; ns/op is per job.
func BenchmarkSupersteps(b *testing.B) {
	for _, slots := range []int{1, 2} {
		b.Run(fmt.Sprintf("slots=%d", slots), func(b *testing.B) { benchSupersteps(b, slots) })
	}
}

func benchSupersteps(b *testing.B, slots int) {
	cfg := DefaultConfig()
	cfg.Slots, cfg.WorkDir = slots, b.TempDir()
	ex, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	xs := make([]int, 100)
	for i := range xs {
		xs[i] = i
	}
	for i := 0; b.Loop(); i++ {
		p := bsp.NewPlan(2)
		d := bsp.FromSlice(p, xs, 2)
		for range 9 {
			d = bsp.Repartition(bsp.Map(d, func(x int) int { return x + 1 }), 2)
		}
		h := bsp.Collect(d)
		prog, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: fmt.Sprintf("bench-%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		res, err := ex.Execute(context.Background(), prog)
		if err != nil {
			b.Fatal(err)
		}
		if got, err := bsp.ReadCollected(context.Background(), res, h); err != nil || len(got) != len(xs) {
			b.Fatalf("%d records, %v", len(got), err)
		}
	}
}
