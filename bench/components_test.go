package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/bench/baseline"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/graph"
)

// BenchmarkComponents labels the weakly connected components of a scale-14
// R-MAT graph (16 edges per vertex) two ways in each iteration: the
// single-threaded union-find of bench/baseline (read + label + write) and
// Superstep's components job with --int-ids on the in-process executor
// with two slots. Both outputs must agree vertex by vertex. It reports the
// seconds of each and their ratio (target <= 1).
func BenchmarkComponents(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	wl := &pagerankWL{edgeFactor: defaultEdgeFactor}
	if err := wl.Prepare(ctx, dir, 14); err != nil {
		b.Fatal(err)
	}
	cfg := local.DefaultConfig()
	cfg.Slots, cfg.WorkDir = 2, filepath.Join(dir, "work")
	ex, err := local.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var base, ss time.Duration
	n := 0
	for b.Loop() {
		out := filepath.Join(dir, fmt.Sprintf("out-%d", n))
		n++
		t0 := time.Now()
		g, err := baseline.ReadEdges(wl.files)
		if err != nil {
			b.Fatal(err)
		}
		labels := baseline.Components(g)
		err = writePart(out+"-baseline", func(f io.Writer) error {
			bw := bufio.NewWriterSize(f, 1<<20)
			for v, l := range labels {
				bw.WriteString(g.Names[v] + "\t" + g.Names[l] + "\n")
			}
			return bw.Flush()
		})
		if err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
		t0 = time.Now()
		args := []string{"--edges", wl.edgeDir, "--out", out, "--int-ids", "--checkpoint-every", "0"}
		if _, err := executeJob(ctx, ex, graph.ComponentsJob.Name, args, 4); err != nil {
			b.Fatal(err)
		}
		ss += time.Since(t0)
		b.StopTimer()
		if err := sameLabels(out+"-baseline", out); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(out + "-baseline")
		os.RemoveAll(out)
		b.StartTimer()
	}
	b.ReportMetric(base.Seconds()/float64(n), "baseline-s/op")
	b.ReportMetric(ss.Seconds()/float64(n), "slots2-s/op")
	b.ReportMetric(ss.Seconds()/base.Seconds(), "slots2/baseline")
}

// sameLabels checks that two directories of vertex<TAB>label part files
// hold the same labelling.
func sameLabels(a, b string) error {
	read := func(dir string) (map[string]string, error) {
		parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
		if err != nil || len(parts) == 0 {
			return nil, fmt.Errorf("%s: no part files (%v)", dir, err)
		}
		m := map[string]string{}
		for _, p := range parts {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				k, v, _ := strings.Cut(sc.Text(), "\t")
				m[k] = v
			}
			f.Close()
		}
		return m, nil
	}
	x, err := read(a)
	if err != nil {
		return err
	}
	y, err := read(b)
	if err != nil {
		return err
	}
	if len(x) != len(y) {
		return fmt.Errorf("%d vertices against %d", len(x), len(y))
	}
	for k, v := range x {
		if y[k] != v {
			return fmt.Errorf("vertex %s: %s against %s", k, v, y[k])
		}
	}
	return nil
}
