package rmat_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/rmat"
	"github.com/superstep/superstep/internal/parts"
)

func generate(t *testing.T, partitions int, flags ...string) []byte {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := local.DefaultConfig()
	cfg.Mem, cfg.WorkDir = mem, t.TempDir()
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "g")
	if _, err := ex.RunJob(context.Background(), rmat.Job, append(flags, "--out", out), partitions); err != nil {
		t.Fatal(err)
	}
	b, err := parts.Concat(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRMAT(t *testing.T) {
	const scale, ef = 9, 4
	one := generate(t, 1, "--scale", "9", "--edge-factor", "4", "--seed", "3")
	if four := generate(t, 4, "--scale", "9", "--edge-factor", "4", "--seed", "3"); !bytes.Equal(one, four) {
		t.Fatal("the graph depends on the number of partitions")
	}
	if other := generate(t, 2, "--scale", "9", "--edge-factor", "4", "--seed", "4"); bytes.Equal(one, other) {
		t.Fatal("the seed does not change the graph")
	}
	lines := strings.Split(strings.TrimSuffix(string(one), "\n"), "\n")
	if len(lines) != ef<<scale {
		t.Fatalf("%d edges, want %d", len(lines), ef<<scale)
	}
	deg := map[uint64]int{}
	for _, l := range lines {
		s, d, ok := strings.Cut(l, "\t")
		src, err1 := strconv.ParseUint(s, 10, 64)
		dst, err2 := strconv.ParseUint(d, 10, 64)
		if !ok || err1 != nil || err2 != nil || src >= 1<<scale || dst >= 1<<scale {
			t.Fatalf("bad edge line %q", l)
		}
		deg[src]++
	}
	// With a=0.57 vertex 0 is the source of about 0.76^9 = 8% of the edges.
	if frac := float64(deg[0]) / float64(len(lines)); frac < 0.05 || frac > 0.12 {
		t.Fatalf("vertex 0 has %.1f%% of the out-edges, want about 8%%", 100*frac)
	}
	for v, d := range deg {
		if d > deg[0] {
			t.Fatalf("vertex %d has more out-edges (%d) than vertex 0 (%d)", v, d, deg[0])
		}
	}
}
