package terasort_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/terasort"
	"github.com/superstep/superstep/internal/parts"
)

func executor(t *testing.T, slots int, budget int64) *local.Executor {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	cfg := local.DefaultConfig()
	cfg.Slots, cfg.Memory, cfg.Mem, cfg.WorkDir = slots, budget, mem, t.TempDir()
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func concat(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := parts.Concat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sortAndCompare generates n records, sorts them with the given budget and
// compares the output with GNU sort.
func sortAndCompare(t *testing.T, n int64, partitions, slots int, budget int64) {
	dir := t.TempDir()
	gen, sorted := filepath.Join(dir, "gen"), filepath.Join(dir, "sorted")
	ctx := context.Background()
	ex := executor(t, slots, budget)
	if _, err := ex.RunJob(ctx, terasort.Job, []string{"--generate", strconv.FormatInt(n, 10), "--out", gen}, partitions); err != nil {
		t.Fatal(err)
	}
	input := concat(t, gen)
	if int64(len(input)) != n*terasort.RecordSize {
		t.Fatalf("generated %d bytes, want %d", len(input), n*terasort.RecordSize)
	}
	if _, err := ex.RunJob(ctx, terasort.Job, []string{"--input", gen, "--out", sorted}, partitions); err != nil {
		t.Fatal(err)
	}
	got := concat(t, sorted)
	inFile := filepath.Join(dir, "input")
	if err := os.WriteFile(inFile, input, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sort", "-S", "256M", inFile)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("GNU sort: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output (%d bytes) differs from LC_ALL=C sort (%d bytes)", len(got), len(want))
	}
	s, err := terasort.Validate(ctx, sorted)
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != n {
		t.Fatalf("validate counted %d records, want %d", s.Records, n)
	}
}

func TestTerasortSmall(t *testing.T) {
	for _, l := range []struct{ parts, slots int }{{1, 1}, {3, 2}, {8, 4}} {
		sortAndCompare(t, 20000, l.parts, l.slots, 2<<20)
	}
}

// TestLargeTerasort sorts 200 MB with a 16 MB budget, so map tasks spill and
// reducers merge many runs.
func TestLargeTerasort(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB sort; runs without -short")
	}
	sortAndCompare(t, 2_000_000, 8, 2, 16<<20)
}

func TestValidateDetectsDisorder(t *testing.T) {
	dir := t.TempDir()
	lo, hi := terasort.AppendRecord(nil, 1), terasort.AppendRecord(nil, 5)
	if bytes.Compare(lo, hi) > 0 {
		lo, hi = hi, lo
	}
	os.WriteFile(filepath.Join(dir, "part-00000.txt"), append(append(slices.Clone(lo), lo...), hi...), 0o644)
	s, err := terasort.Validate(context.Background(), dir)
	if err != nil || s.Records != 3 || s.Duplicates != 1 {
		t.Fatalf("validate = %+v, %v", s, err)
	}
	os.WriteFile(filepath.Join(dir, "part-00001.txt"), lo, 0o644)
	if _, err := terasort.Validate(context.Background(), dir); !errors.Is(err, terasort.ErrUnsorted) {
		t.Fatalf("a smaller record in the next part: want ErrUnsorted, got %v", err)
	}
}
