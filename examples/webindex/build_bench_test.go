package webindex_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/webindex"
)

// BenchmarkBuild builds the index of the corpus named by
// SUPERSTEP_BENCH_CORPUS (a directory, archive or WARC; the bundled corpus
// when unset) with SUPERSTEP_BENCH_BASE_URL, 2 slots, in process: the
// whole job, for CPU and allocation profiles of the build.
//
//	SUPERSTEP_BENCH_CORPUS=/usr/share/cppreference/doc/html go test -run XXX -bench Build -benchtime 1x -cpuprofile cpu.out -memprofile mem.out ./examples/webindex
func BenchmarkBuild(b *testing.B) {
	in, base := os.Getenv("SUPERSTEP_BENCH_CORPUS"), os.Getenv("SUPERSTEP_BENCH_BASE_URL")
	if in == "" {
		in, base = corpusPath, baseURL
	}
	if base == "" {
		base = "https://example.org/"
	}
	for b.Loop() {
		cfg := local.DefaultConfig()
		cfg.Slots, cfg.WorkDir = 2, b.TempDir()
		ex, err := local.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(b.TempDir(), "index")
		res, err := ex.RunJob(context.Background(), webindex.Job, []string{"--input", in, "--out", out, "--base-url", base}, 4)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(res.Stages)), "stages")
	}
}
