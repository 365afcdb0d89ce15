package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/worker"
)

// TestThroughputTwoSizes runs wordcount at two sizes and expects the
// throughput table (a row per size) and plot.
func TestThroughputTwoSizes(t *testing.T) {
	out := t.TempDir()
	runs, err := Run(context.Background(), Config{Workloads: []string{"wordcount"}, Size: "64KB,128KB", Workers: []int{1},
		Runs: 1, Out: out, Modes: []string{ModeBaseline, ModeLocal}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	perSize := map[string]int{}
	for _, r := range runs {
		perSize[r.Size]++
	}
	if perSize["64KB"] != 2 || perSize["128KB"] != 2 {
		t.Errorf("runs per size %v, want 2 (baseline, local) at each of 64KB and 128KB", perSize)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Throughput against input size", "| size | input MiB | baseline (1 thread) | local, 1 worker |",
		"| 64KB | 0.06", "| 128KB | 0.1", "(wordcount-throughput.svg)", "### size 128KB"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md lacks %q:\n%s", want, report)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "wordcount-throughput.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), "local, 1 worker") {
		t.Errorf("wordcount-throughput.svg is not the plot (%d bytes)", len(svg))
	}
}

// TestSingleSizeNoThroughputPlot checks that one size keeps the report as
// it was: no throughput section, no size headings.
func TestSingleSizeNoThroughputPlot(t *testing.T) {
	out := t.TempDir()
	if _, err := Run(context.Background(), Config{Workloads: []string{"wordcount"}, Size: "64KB", Workers: []int{1},
		Runs: 1, Out: out, Modes: []string{ModeBaseline}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "wordcount-throughput.svg")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("throughput plot written for one size: %v", err)
	}
	report, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if strings.Contains(string(report), "### size") || strings.Contains(string(report), "Throughput against") {
		t.Errorf("single-size report has per-size sections:\n%s", report)
	}
}

// TestJobStagesFromCoordinator runs a tiny wordcount on an embedded
// cluster and reads its shuffle bytes back with GetJob, as process mode
// does after `superstep submit --detach`.
func TestJobStagesFromCoordinator(t *testing.T) {
	ctx := context.Background()
	wc := worker.DefaultConfig()
	wc.Slots = 1
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	emb, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	path, err := TextCorpus(t.TempDir(), 64<<10)
	if err != nil {
		t.Skip(err)
	}
	fs := wordcount.Job.FlagSet()
	if err := fs.Parse([]string{"--input", path, "--out", filepath.Join(t.TempDir(), "out")}); err != nil {
		t.Fatal(err)
	}
	args := bsp.EncodeArgs(fs)
	plan, err := wordcount.Job.Build(args, 4)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := bsp.Compile(ctx, plan, bsp.CompileOptions{JobID: "bench-stats-test", Job: wordcount.Job.Name, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	id, err := emb.Client.Submit(ctx, prog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emb.Client.Wait(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	stages, err := jobStages(ctx, emb.Client.CC, id)
	if err != nil {
		t.Fatal(err)
	}
	var raw, comp int64
	for _, s := range stages {
		raw += s.ShuffleRaw
		comp += s.ShuffleBytes
	}
	if len(stages) == 0 || raw <= 0 || comp <= 0 {
		t.Errorf("%d stages, shuffle raw %d, compressed %d: want stages and both counts > 0", len(stages), raw, comp)
	}
	if _, err := jobStages(ctx, emb.Client.CC, "no-such-job"); err == nil {
		t.Error("GetJob of an unknown job: no error")
	}
}
