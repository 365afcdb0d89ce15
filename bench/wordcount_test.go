package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/superstep/superstep/bench/baseline"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/worker"
)

// benchText is the size of the word-count input.
const benchText = 100 << 20

func corpusOrSkip(b *testing.B) string {
	dir := filepath.Join(os.TempDir(), "superstep-bench")
	os.MkdirAll(dir, 0o755)
	path, err := TextCorpus(dir, benchText)
	if err != nil {
		b.Skip(err)
	}
	return path
}

func baselineOutput(b *testing.B, path string) []byte {
	var out bytes.Buffer
	if err := baseline.WordCount([]string{path}, &out); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

// BenchmarkWordcount compares, on 100 MB of real text: the single-threaded
// baseline, Superstep's in-process executor with one and two task slots, and
// an embedded cluster of two gRPC workers with one slot each. Outputs are
// checked equal to the baseline's.
func BenchmarkWordcount(b *testing.B) {
	path := corpusOrSkip(b)
	want := baselineOutput(b, path)
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(benchText)
		for b.Loop() {
			baselineOutput(b, path)
		}
	})
	for _, v := range []struct {
		name    string
		slots   int
		workers int
	}{{"superstep-slots1", 1, 0}, {"superstep-slots2", 2, 0}, {"superstep-cluster-2workers", 2, 2}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(benchText)
			var ex bsp.Executor
			if v.workers == 0 {
				cfg := local.DefaultConfig()
				cfg.Slots, cfg.WorkDir = v.slots, b.TempDir()
				lx, err := local.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				ex = lx
			} else {
				wc := worker.DefaultConfig()
				wc.Slots = v.slots / v.workers
				wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
				emb, err := cluster.StartEmbedded(context.Background(), cluster.EmbeddedConfig{Workers: v.workers, Worker: wc, WorkDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer emb.Close()
				ex = emb.Executor()
			}
			for b.Loop() {
				out := filepath.Join(b.TempDir(), "out")
				fs := wordcount.Job.FlagSet()
				fs.Parse([]string{"--input", path, "--out", out})
				args := bsp.EncodeArgs(fs)
				plan, err := wordcount.Job.Build(args, 2*v.slots)
				if err != nil {
					b.Fatal(err)
				}
				prog, err := bsp.Compile(context.Background(), plan, bsp.CompileOptions{JobID: fmt.Sprintf("bench-%d", time.Now().UnixNano()),
					Job: wordcount.Job.Name, Args: args})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ex.Execute(context.Background(), prog); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				parts, _ := filepath.Glob(filepath.Join(out, "part-*"))
				var got []byte
				for _, p := range parts {
					x, _ := os.ReadFile(p)
					got = append(got, x...)
				}
				if !bytes.Equal(got, want) {
					b.Fatalf("superstep output differs from the baseline (%d vs %d bytes)", len(got), len(want))
				}
				os.RemoveAll(out)
				b.StartTimer()
			}
		})
	}
}
