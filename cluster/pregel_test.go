package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/graph"
	"github.com/superstep/superstep/examples/rmat"
	"github.com/superstep/superstep/examples/webindex"
)

// rmatFile writes an R-MAT edge list.
func rmatFile(t *testing.T, scale, ef int) string {
	t.Helper()
	var b strings.Builder
	for i := range int64(ef) << scale {
		s, d := rmat.Edge(11, scale, i)
		fmt.Fprintf(&b, "%d\t%d\n", s, d)
	}
	p := filepath.Join(t.TempDir(), "edges.tsv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPregelEmbeddedWorkers runs PageRank and components on embedded
// clusters of 1, 2 and 4 workers: the bytes equal the in-process run's.
func TestPregelEmbeddedWorkers(t *testing.T) {
	edges := rmatFile(t, 10, 4)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"pagerank", []string{"--int-ids", "--tol", "1e-10", "--checkpoint-every", "4"}},
		{"components", []string{"--checkpoint-every", "2"}},
	} {
		job := graph.PageRankJob
		if c.name == "components" {
			job = graph.ComponentsJob
		}
		want := filepath.Join(t.TempDir(), "local")
		ex, err := local.New(local.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ex.Execute(ctx, compile(t, job, append([]string{"--edges", edges, "--out", want}, c.flags...), 4)); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 2, 4} {
			e, _ := embedded(t, workers)
			got := filepath.Join(t.TempDir(), "cluster")
			if _, err := e.Executor().Execute(ctx, compile(t, job, append([]string{"--edges", edges, "--out", got}, c.flags...), 4)); err != nil {
				t.Fatalf("%s on %d workers: %v", c.name, workers, err)
			}
			if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
				t.Fatalf("%s on %d workers: %d bytes differ from the in-process run's %d", c.name, workers, len(a), len(b))
			}
		}
	}
}

// TestPregelWorkerKilled SIGKILLs a worker process while a PageRank
// iteration (checkpoint every 3 supersteps) runs superstep k, for k before
// (5), at (6) and after (7) a checkpoint: the job rolls back to its last
// complete checkpoint and its output equals the in-process run's, byte for
// byte.
func TestPregelWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	edges := rmatFile(t, 11, 8)
	flags := []string{"--edges", edges, "--int-ids", "--tol", "1e-300", "--max-iter", "40", "--checkpoint-every", "3", "--partitions", "6"}
	want := filepath.Join(t.TempDir(), "local")
	runCLI(t, append([]string{"run", "pagerank", "--workers", "0", "--out", want}, flags...)...)
	for _, k := range []int32{5, 6, 7} {
		t.Run(fmt.Sprintf("superstep-%d", k), func(t *testing.T) {
			dir := t.TempDir()
			ckpt := filepath.Join(dir, "checkpoints")
			coord := start(t, "coordinator listening on", "coordinator", "--listen", "127.0.0.1:0")
			var workers []*proc
			for i := range 3 {
				workers = append(workers, start(t, "worker ", "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0",
					"--data-dir", filepath.Join(dir, fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "32MB"))
			}
			got := filepath.Join(dir, "cluster")
			submit := exec.Command(binary(t), append([]string{"submit", "pagerank", "--coordinator", coord.addr, "--detach",
				"--checkpoint-dir", ckpt, "--out", got}, flags...)...)
			idb, err := submit.Output()
			if err != nil {
				t.Fatal(err)
			}
			id := strings.TrimSpace(string(idb))
			client, err := cluster.Dial(context.Background(), coord.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			killed := false
			st, err := client.Wait(context.Background(), id, func(st *pb.JobStatus) {
				for _, s := range st.GetStages() {
					if !killed && s.GetSupersteps() > 0 && s.GetSuperstep() == k && s.GetRollbacks() == 0 {
						if err := workers[1].cmd.Process.Kill(); err != nil {
							t.Error(err)
						}
						killed = true
						t.Logf("killed worker 1 in superstep %d", s.GetSuperstep())
					}
				}
			})
			if err != nil {
				t.Fatalf("job after a worker was killed: %v", err)
			}
			if !killed {
				t.Fatalf("the job never reported superstep %d", k)
			}
			rollbacks := 0
			for _, s := range st.GetStages() {
				rollbacks += int(s.GetRollbacks())
			}
			if rollbacks == 0 {
				t.Fatal("the iteration never rolled back: the killed worker held no partition")
			}
			t.Logf("rollbacks: %d", rollbacks)
			if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
				t.Fatalf("output after a worker was killed (%d bytes) differs from the in-process run (%d bytes)", len(a), len(b))
			}
			if _, err := os.Stat(filepath.Join(ckpt, id)); !os.IsNotExist(err) {
				t.Fatalf("the job's checkpoints were not removed: %v", err)
			}
		})
	}
}

// TestWebindexEmbeddedWorkers builds the web index of the bundled corpus on
// embedded clusters of 1, 2 and 4 workers: every file of the index equals
// the in-process build's, byte for byte.
func TestWebindexEmbeddedWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the index four times")
	}
	ctx := context.Background()
	corpus, err := filepath.Abs("../examples/webindex/testdata/sqlite-doc.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	flags := func(out string) []string {
		return []string{"--input", corpus, "--base-url", "https://sqlite.org/", "--out", out}
	}
	want := filepath.Join(t.TempDir(), "local")
	ex, err := local.New(local.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Execute(ctx, compile(t, webindex.Job, flags(want), 4)); err != nil {
		t.Fatal(err)
	}
	wantFiles := readDir(t, want)
	for _, workers := range []int{1, 2, 4} {
		e, _ := embedded(t, workers)
		got := filepath.Join(t.TempDir(), "cluster")
		if _, err := e.Executor().Execute(ctx, compile(t, webindex.Job, flags(got), 4)); err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}
		gotFiles := readDir(t, got)
		if len(gotFiles) != len(wantFiles) || len(gotFiles) < 4 {
			t.Fatalf("%d workers: %d files, in-process %d", workers, len(gotFiles), len(wantFiles))
		}
		for name, b := range wantFiles {
			if !bytes.Equal(gotFiles[name], b) {
				t.Fatalf("%d workers: %s differs from the in-process build", workers, name)
			}
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}
