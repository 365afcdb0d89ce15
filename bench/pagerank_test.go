package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
)

// TestPagerankHarnessTiny runs the pagerank workload on a 2^8-vertex graph
// through the baseline and the in-process executor with one and two slots;
// every run's output passes Validate (ranks within 1e-12 of the baseline's).
func TestPagerankHarnessTiny(t *testing.T) {
	out := t.TempDir()
	runs, err := Run(context.Background(), Config{Workloads: []string{"pagerank"}, PageRankScale: 8,
		Workers: []int{1, 2}, Runs: 1, Out: out, Modes: []string{ModeBaseline, ModeLocal}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if !r.Validated || r.WallS <= 0 || r.Messages <= 0 || r.MessagesPerS <= 0 || r.PeakRSS <= 0 {
			t.Errorf("bad run %+v", r)
		}
		if r.Mode == ModeBaseline && r.ComputeS <= 0 {
			t.Errorf("baseline run without a compute time: %+v", r)
		}
		seen[fmt.Sprintf("%s/%d", r.Mode, r.Workers)] = true
	}
	for _, k := range []string{"baseline/1", "local/1", "local/2"} {
		if !seen[k] {
			t.Errorf("no run %s", k)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## pagerank", "/ baseline compute only", "messages/s", "pagerank Superstep/baseline"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

// readRanks reads vertex<TAB>rank part files.
func readRanks(t testing.TB, dir string) map[int]float64 {
	t.Helper()
	b, err := readParts(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]float64{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		k, v, _ := strings.Cut(line, "\t")
		id, err1 := strconv.Atoi(k)
		r, err2 := strconv.ParseFloat(v, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", dir, line)
		}
		m[id] = r
	}
	return m
}

// runPagerankJob runs the workload's Superstep job on the in-process
// executor with the given slots.
func runPagerankJob(t testing.TB, wl *pagerankWL, slots int, out string) {
	t.Helper()
	cfg := local.DefaultConfig()
	cfg.Slots, cfg.WorkDir = slots, filepath.Join(filepath.Dir(out), "work")
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	job, args := wl.JobArgs(out)
	if _, err := executeJob(context.Background(), ex, job, args, 2*slots); err != nil {
		t.Fatal(err)
	}
}

// TestPagerankRanksMatchBaseline compares Superstep's ranks with the
// baseline's rank by rank, and checks that Validate rejects a rank off by
// more than the tolerance.
func TestPagerankRanksMatchBaseline(t *testing.T) {
	ctx := context.Background()
	wl := &pagerankWL{edgeFactor: defaultEdgeFactor}
	if err := wl.Prepare(ctx, t.TempDir(), 9); err != nil {
		t.Fatal(err)
	}
	baseOut := filepath.Join(t.TempDir(), "baseline")
	if err := wl.Baseline(ctx, baseOut); err != nil {
		t.Fatal(err)
	}
	want := readRanks(t, baseOut)
	jobOut := filepath.Join(t.TempDir(), "job")
	runPagerankJob(t, wl, 2, jobOut)
	got := readRanks(t, jobOut)
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d ranks from the job, %d from the baseline", len(got), len(want))
	}
	worst := 0.0
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("vertex %d missing from the job's output", id)
		}
		worst = max(worst, math.Abs(g-w))
	}
	if worst > rankTolerance {
		t.Fatalf("largest rank difference %g > %g", worst, rankTolerance)
	}
	t.Logf("%d vertices, largest rank difference %g", len(want), worst)
	if err := wl.Validate(ctx, jobOut); err != nil {
		t.Fatal(err)
	}

	// Move one rank by 1e-9: Validate must reject it.
	part := filepath.Join(baseOut, "part-00000")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	k, v, _ := strings.Cut(first, "\t")
	r, _ := strconv.ParseFloat(v, 64)
	bad := k + "\t" + strconv.FormatFloat(r+1e-9, 'g', -1, 64) + "\n" + rest
	if err := os.WriteFile(part, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := wl.Validate(ctx, baseOut); err == nil {
		t.Fatal("a rank off by 1e-9 was accepted")
	}
}

// BenchmarkPageRank runs, in each iteration, 20 PageRank iterations on a
// scale-14 R-MAT graph (16 edges per vertex) three ways: the single-threaded
// baseline (read + compute + write) and Superstep's pagerank job on the
// in-process executor with one and two slots. It reports each one's seconds
// and the ratios Superstep/baseline (target at two slots: <= 1).
func BenchmarkPageRank(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wl := &pagerankWL{edgeFactor: defaultEdgeFactor}
	if err := wl.Prepare(ctx, dir, 14); err != nil {
		b.Fatal(err)
	}
	exs := make([]bsp.Executor, 2)
	for i := range exs {
		cfg := local.DefaultConfig()
		cfg.Slots, cfg.WorkDir = i+1, filepath.Join(dir, fmt.Sprintf("work-%d", i+1))
		ex, err := local.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		exs[i] = ex
	}
	var base, compute time.Duration
	ss := make([]time.Duration, len(exs))
	n := 0
	for b.Loop() {
		out := filepath.Join(dir, fmt.Sprintf("out-%d", n))
		n++
		t0 := time.Now()
		if err := wl.Baseline(ctx, out+"-baseline"); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
		compute += wl.lastCompute
		for i, ex := range exs {
			t0 := time.Now()
			job, args := wl.JobArgs(fmt.Sprintf("%s-slots%d", out, i+1))
			if _, err := executeJob(ctx, ex, job, args, 2*(i+1)); err != nil {
				b.Fatal(err)
			}
			ss[i] += time.Since(t0)
		}
		b.StopTimer()
		for i := range exs {
			if err := wl.Validate(ctx, fmt.Sprintf("%s-slots%d", out, i+1)); err != nil {
				b.Fatal(err)
			}
		}
		os.RemoveAll(out + "-baseline")
		os.RemoveAll(out + "-slots1")
		os.RemoveAll(out + "-slots2")
		b.StartTimer()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(n) }
	b.ReportMetric(per(base), "baseline-s/op")
	b.ReportMetric(per(compute), "baseline-compute-s/op")
	b.ReportMetric(per(ss[0]), "slots1-s/op")
	b.ReportMetric(per(ss[1]), "slots2-s/op")
	b.ReportMetric(ss[0].Seconds()/base.Seconds(), "slots1/baseline")
	b.ReportMetric(ss[1].Seconds()/base.Seconds(), "slots2/baseline")
	b.ReportMetric(float64(wl.Messages())*float64(n)/ss[1].Seconds(), "slots2-msgs/s")
}
