package bsp_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
)

// TestWriteBinarySharedDirectory writes two custom-format sinks into one
// directory (one per partition, one single file); the directory appears
// whole with both sets of files.
func TestWriteBinarySharedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	p := bsp.NewPlan(3)
	nums := bsp.FromSlice(p, []int{5, 3, 9, 1, 7, 2}, 2)
	lines := func(w io.Writer) (func(int) error, func() error) {
		return func(x int) error { _, err := fmt.Fprintln(w, x); return err }, func() error { return nil }
	}
	bsp.WriteBinary(bsp.Repartition(nums, 3), dir, "nums", "txt", lines)
	// Numbering with MapPartitions over a sorted single partition.
	sorted := bsp.Sort(nums, bsp.Partitions(1))
	ranked := bsp.MapPartitions(sorted, func(part int, in []int, emit func(string)) {
		for i, x := range in {
			emit(fmt.Sprintf("%d:%d:%d", part, i, x))
		}
	})
	bsp.WriteBinary(ranked, dir, "ranks", "txt", func(w io.Writer) (func(string) error, func() error) {
		return func(s string) error { _, err := fmt.Fprintln(w, s); return err }, func() error { return nil }
	}, bsp.SingleFile())
	prog, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "bin"})
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := local.New(local.DefaultConfig())
	if _, err := ex.Execute(context.Background(), prog); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if s := strings.Join(names, " "); s != "_SUCCESS nums-00000.txt nums-00001.txt nums-00002.txt ranks.txt" {
		t.Fatalf("files: %s", s)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ranks.txt"))
	if s := string(b); s != "0:0:1\n0:1:2\n0:2:3\n0:3:5\n0:4:7\n0:5:9\n" {
		t.Fatalf("ranks.txt: %q", s)
	}
	var all []string
	for _, n := range names[1:4] {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		all = append(all, strings.Fields(string(b))...)
	}
	slices.Sort(all)
	if s := strings.Join(all, " "); s != "1 2 3 5 7 9" {
		t.Fatalf("nums: %s", s)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestWriteBinaryPlanErrors(t *testing.T) {
	dir := t.TempDir() + "/o"
	w := func(io.Writer) (func(int) error, func() error) {
		return func(int) error { return nil }, func() error { return nil }
	}
	p := bsp.NewPlan(2)
	nums := bsp.FromSlice(p, []int{1, 2, 3}, 2)
	bsp.WriteBinary(nums, dir, "a", "bin", w)
	bsp.WriteBinary(bsp.Repartition(nums, 2), dir, "a", "bin", w)
	if _, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "x"}); err == nil || !strings.Contains(err.Error(), "two sinks write a-00000.bin") {
		t.Fatalf("same names: %v", err)
	}
	p = bsp.NewPlan(2)
	bsp.WriteBinary(bsp.FromSlice(p, []int{1, 2, 3}, 2), dir, "one", "bin", w, bsp.SingleFile())
	if _, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "x"}); err == nil || !strings.Contains(err.Error(), "one.bin") {
		t.Fatalf("single file of 2 tasks: %v", err)
	}
}

func TestWholeFiles(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte(strings.Repeat("x", i+1)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	got := collect(t, layouts[2], func(p *bsp.Plan) bsp.Dataset[string] {
		return bsp.Map(bsp.WholeFiles(p, dir), func(path string) string { return filepath.Base(path) })
	})
	slices.Sort(got)
	if s := strings.Join(got, " "); s != "empty f0 f1 f2 f3 f4" {
		t.Fatalf("files: %s", s)
	}
}

// TestJoinLeftKeysAfterLastRightKey is a regression test: left keys larger
// than every right key once looped forever.
func TestJoinLeftKeysAfterLastRightKey(t *testing.T) {
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] {
			left := bsp.FromSlice(p, []bsp.KV[int, string]{{Key: 1, Value: "a"}, {Key: 5, Value: "b"}, {Key: 9, Value: "c"}, {Key: 10, Value: "d"}}, 2)
			right := bsp.FromSlice(p, []bsp.KV[int, int]{{Key: 1, Value: 100}, {Key: 5, Value: 500}}, 1)
			inner := bsp.Map(bsp.Join(left, right), func(kv bsp.KV[int, bsp.Joined[string, int]]) string {
				return fmt.Sprintf("%d:%s:%d", kv.Key, kv.Value.Left, kv.Value.Right)
			})
			outer := bsp.Map(bsp.LeftJoin(left, right), func(kv bsp.KV[int, bsp.LeftJoined[string, int]]) string {
				return fmt.Sprintf("%d:%s:%d:%v", kv.Key, kv.Value.Left, kv.Value.Right, kv.Value.Matched)
			})
			return bsp.Union([]bsp.Dataset[string]{inner, outer})
		})
		slices.Sort(got)
		want := "10:d:0:false 1:a:100 1:a:100:true 5:b:500 5:b:500:true 9:c:0:false"
		if s := strings.Join(got, " "); s != want {
			t.Fatalf("got %s, want %s", s, want)
		}
	})
}
