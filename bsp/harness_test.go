package bsp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/shuffle"
)

// layout is one way to run a plan: partition count, parallel tasks and a
// memory budget small enough to force spills.
type layout struct {
	partitions, slots int
	memory            int64
}

func (l layout) String() string {
	return fmt.Sprintf("p%d-s%d-m%dk", l.partitions, l.slots, l.memory>>10)
}

// layouts are the combinations every operator test runs under.
var layouts = []layout{
	{1, 1, 64 << 20},
	{3, 4, 1 << 20},
	{8, 4, 1 << 20},
	{8, 1, 64 << 20},
}

// seed returns a random seed and logs it so a failure can be replayed.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	t.Logf("seed %d", s)
	return s
}

func newRand(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)) }

// execute compiles p and runs it on a local executor with a checked
// allocator, failing the test if any Arrow memory is left outstanding.
func execute(t testing.TB, p *bsp.Plan, l layout) (*bsp.Result, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	prog, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "test", CheckpointDir: t.TempDir()})
	if err != nil {
		return nil, err
	}
	cfg := local.DefaultConfig()
	cfg.Slots, cfg.Memory, cfg.Mem, cfg.WorkDir = l.slots, l.memory, mem, t.TempDir()
	// Cover every block codec across the layouts.
	cfg.Compression = []shuffle.Compression{shuffle.None, shuffle.LZ4, shuffle.Zstd}[l.partitions%3]
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ex.Execute(context.Background(), prog)
}

// collect builds a plan with build, collects the dataset it returns and runs
// it under layout l.
func collect[T any](t testing.TB, l layout, build func(p *bsp.Plan) bsp.Dataset[T]) []T {
	t.Helper()
	p := bsp.NewPlan(l.partitions)
	h := bsp.Collect(build(p))
	res, err := execute(t, p, l)
	if err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	out, err := bsp.ReadCollected(context.Background(), res, h)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forLayouts runs f as a subtest for every layout.
func forLayouts(t *testing.T, f func(t *testing.T, l layout)) {
	for _, l := range layouts {
		t.Run(l.String(), func(t *testing.T) { f(t, l) })
	}
}
