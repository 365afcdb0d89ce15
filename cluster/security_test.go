package cluster_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/worker"
)

// sentinels writes a file beside each worker's data directory (in its
// parent) and returns a check that they all survive.
func sentinels(t *testing.T, e *cluster.Embedded, dir string) func() {
	t.Helper()
	var files []string
	for i := range e.Workers {
		f := filepath.Join(dir, "sentinel-"+string(rune('a'+i)))
		if err := os.WriteFile(f, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return func() {
		t.Helper()
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("a sentinel beside the workers' data dirs is gone: %v", err)
			}
		}
		for i := range e.Workers {
			if _, err := os.Stat(filepath.Join(dir, "worker-"+string(rune('0'+i)))); err != nil {
				t.Fatalf("worker %d's data dir is gone: %v", i, err)
			}
		}
	}
}

// TestJobIDsAndDeletesStayInside: job IDs that could name a directory
// outside a worker's data dir are refused at submit, DeleteJobFiles with
// such names is refused by every worker, and the sentinel files beside the
// data dirs survive.
func TestJobIDsAndDeletesStayInside(t *testing.T) {
	e, dir := embedded(t, 2)
	survive := sentinels(t, e, dir)
	ctx := context.Background()
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("a b a\n"), 0o644)
	prog := compile(t, wordcount.Job, []string{"--input", in, "--out", filepath.Join(t.TempDir(), "out")}, 2)
	for _, id := range []string{".", "..", "a/b", "../x", strings.Repeat("j", 65)} {
		sp := *prog.Spec
		sp.JobID = id
		spec, err := sp.Encode()
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Client.CC.SubmitJob(ctx, &pb.SubmitJobRequest{JobId: id, Name: sp.Job, Args: sp.Args, Spec: spec,
			Fingerprint: bsp.Fingerprint()})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("submit with job id %q: %v, want InvalidArgument", id, err)
		}
	}
	resp, err := e.Client.CC.ListJobs(ctx, &pb.ListJobsRequest{})
	if err != nil || len(resp.GetJobs()) != 0 {
		t.Fatalf("refused submits created jobs: %v %v", resp.GetJobs(), err)
	}
	for _, w := range e.Workers {
		conn, err := grpc.NewClient(w.Addr(), worker.FetchDialOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		wc := pb.NewWorkerClient(conn)
		for _, id := range []string{".", "..", "../x", "", "a/b"} {
			if _, err := wc.DeleteJobFiles(ctx, &pb.DeleteJobFilesRequest{JobId: id}); status.Code(err) != codes.InvalidArgument {
				t.Errorf("worker %s: DeleteJobFiles(%q) = %v, want InvalidArgument", w.ID(), id, err)
			}
		}
		conn.Close()
	}
	survive()
	// A good job still runs, and its end (which deletes its files on every
	// worker) leaves the sentinels too.
	if _, err := e.Executor().Execute(ctx, prog); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the job's files are deleted", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "worker-*", prog.Spec.JobID))
		return len(m) == 0
	})
	survive()
}

// TestAllowPathRefusesBeforeAnyTask: workers started with --allow-path
// refuse a job reading /etc/passwd and a job writing outside their roots;
// the jobs fail naming the path, no task reads a record and no output
// appears.
func TestAllowPathRefusesBeforeAnyTask(t *testing.T) {
	base := t.TempDir()
	inRoot, outRoot := filepath.Join(base, "in"), filepath.Join(base, "out")
	os.MkdirAll(inRoot, 0o755)
	os.MkdirAll(outRoot, 0o755)
	in := filepath.Join(inRoot, "words.txt")
	os.WriteFile(in, []byte("x y x\n"), 0o644)
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory = 2, 8<<20
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	wc.AllowPaths = []string{inRoot, outRoot}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: filepath.Join(base, "cluster")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, c := range []struct{ name, input, out, want string }{
		{"input /etc/passwd", "/etc/passwd", filepath.Join(outRoot, "leak"), "/etc/passwd"},
		{"output outside", in, filepath.Join(base, "elsewhere"), filepath.Join(base, "elsewhere")},
	} {
		prog := compile(t, wordcount.Job, []string{"--input", c.input, "--out", c.out}, 2)
		_, err := e.Executor().Execute(ctx, prog)
		var je *cluster.JobError
		if !errors.As(err, &je) {
			t.Fatalf("%s: want a failed job, got %v", c.name, err)
		}
		if msg := je.Status.GetError(); !strings.Contains(msg, c.want) || !strings.Contains(msg, "outside the allowed paths") {
			t.Fatalf("%s: the job's error does not name %s: %q", c.name, c.want, msg)
		}
		for _, s := range je.Status.GetStages() {
			if s.GetRecordsIn() != 0 || s.GetRecordsOut() != 0 {
				t.Fatalf("%s: stage %d read %d records: a task ran", c.name, s.GetStage(), s.GetRecordsIn())
			}
		}
		// The refusal is permanent: the job fails on the first attempt of
		// the refused task instead of retrying it on every worker.
		if st := je.Status.GetStages()[0]; st.GetAttempts() > st.GetTasks() {
			t.Fatalf("%s: %d attempts for %d tasks: the refusal was retried", c.name, st.GetAttempts(), st.GetTasks())
		}
		if _, err := os.Stat(c.out); !os.IsNotExist(err) {
			t.Fatalf("%s: output %s exists: %v", c.name, c.out, err)
		}
	}
	// Inside the roots the same cluster runs the job.
	out := filepath.Join(outRoot, "wc")
	if _, err := e.Executor().Execute(ctx, compile(t, wordcount.Job, []string{"--input", in, "--out", out}, 2)); err != nil {
		t.Fatal(err)
	}
	if got := string(concat(t, out)); got != "x\t2\ny\t1\n" {
		t.Fatalf("wordcount inside the roots: %q", got)
	}
}
