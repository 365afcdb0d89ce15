package cluster_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/terasort"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/parts"
	"github.com/superstep/superstep/internal/testcorpus"
	"github.com/superstep/superstep/worker"
)

func embedded(t *testing.T, workers int) (*cluster.Embedded, string) {
	t.Helper()
	dir := t.TempDir()
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory = 2, 8<<20
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: workers, Worker: wc, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, dir
}

// waitFor polls cond until it holds or the deadline passes.
// jobFiles lists what the embedded workers under dir hold besides their own
// bookkeeping (worker.OwnEntry): the files of jobs.
func jobFiles(dir string) []string {
	all, _ := filepath.Glob(filepath.Join(dir, "worker-*", "*"))
	var out []string
	for _, p := range all {
		if !worker.OwnEntry(filepath.Base(p)) {
			out = append(out, p)
		}
	}
	return out
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(within)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func compile(t testing.TB, job *bsp.Job, flags []string, partitions int) *bsp.Program {
	t.Helper()
	fs := job.FlagSet()
	if err := fs.Parse(flags); err != nil {
		t.Fatal(err)
	}
	args := bsp.EncodeArgs(fs)
	plan, err := job.Build(args, partitions)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := bsp.Compile(context.Background(), plan, bsp.CompileOptions{JobID: "t" + filepath.Base(t.TempDir()), Job: job.Name, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

func concat(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := parts.Concat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inputs is a directory of real text that travels with the repository
// (the bundled SQLite documentation pages, about 4 MB of them).
func inputs(t *testing.T) string {
	t.Helper()
	return testcorpus.Dir(t, 4<<20)
}

// TestEmbeddedMatchesLocal runs wordcount and terasort on an embedded
// cluster (coordinator and three workers over gRPC) and compares the bytes
// with the in-process executor's.
func TestEmbeddedMatchesLocal(t *testing.T) {
	in := inputs(t)
	e, dir := embedded(t, 3)
	ctx := context.Background()
	lcfg := local.DefaultConfig()
	lcfg.WorkDir = t.TempDir()
	lx, _ := local.New(lcfg)

	gen := filepath.Join(t.TempDir(), "gen")
	if _, err := e.Executor().Execute(ctx, compile(t, terasort.Job, []string{"--generate", "50000", "--out", gen}, 4)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		job   *bsp.Job
		flags []string
	}{
		{wordcount.Job, []string{"--input", in}},
		{terasort.Job, []string{"--input", gen}},
	}
	for _, c := range cases {
		want := filepath.Join(t.TempDir(), "local")
		if _, err := lx.Execute(ctx, compile(t, c.job, append(c.flags, "--out", want), 5)); err != nil {
			t.Fatal(err)
		}
		got := filepath.Join(t.TempDir(), "cluster")
		res, err := e.Executor().Execute(ctx, compile(t, c.job, append(c.flags, "--out", got), 5))
		if err != nil {
			t.Fatal(err)
		}
		if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
			t.Fatalf("%s: cluster output (%d bytes) differs from the in-process output (%d bytes)", c.job.Name, len(a), len(b))
		}
		if _, err := os.Stat(filepath.Join(got, "_SUCCESS")); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d supersteps", c.job.Name, len(res.Stages))
	}
	// Every job's shuffle files are deleted once it ends.
	waitFor(t, 10*time.Second, "the workers deleted the jobs' files", func() bool {
		return len(jobFiles(dir)) == 0
	})
}
