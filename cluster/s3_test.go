package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/graph"
	"github.com/superstep/superstep/examples/terasort"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/s3fake"
	"github.com/superstep/superstep/internal/testcorpus"
	"github.com/superstep/superstep/internal/testwait"
	"github.com/superstep/superstep/storage"
)

// upload copies the local file or directory src to the s3:// URL dst
// (names below a directory keep their relative paths).
func upload(t testing.TB, src, dst string) {
	t.Helper()
	ctx := context.Background()
	fsys, err := storage.For(dst)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := dst
		if rel != "." {
			name = storage.Join(dst, filepath.ToSlash(rel))
		}
		return storage.WriteFile(ctx, fsys, name, b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// s3Inputs is the bundled text for the s3:// tests: 4 MB, or 1 MB with
// -short (the S3 path is slow under the race detector).
func s3Inputs(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		return testcorpus.Dir(t, 1<<20)
	}
	return inputs(t)
}

func compileWith(t testing.TB, job *bsp.Job, flags []string, partitions int, o bsp.CompileOptions) *bsp.Program {
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
	o.JobID, o.Job, o.Args = "t"+filepath.Base(t.TempDir()), job.Name, args
	prog, err := bsp.Compile(context.Background(), plan, o)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// TestS3MatchesLocal runs wordcount, terasort and PageRank (checkpoints
// every 2 supersteps) reading from and writing to s3:// (gofakes3 on
// loopback), on an embedded cluster of three workers and on the in-process
// executor: every output is byte-identical to the same job's run on local
// files, is committed with _SUCCESS, and the inputs were read with ranged
// GETs. The PageRank run proves its checkpoints went to s3:// (PUTs below
// the checkpoint prefix) and were removed when the job ended.
func TestS3MatchesLocal(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	srv.Use(t)
	ctx := context.Background()
	in := s3Inputs(t)
	upload(t, in, "s3://bkt/corpus")

	lcfg := local.DefaultConfig()
	lcfg.WorkDir = t.TempDir()
	lx, err := local.New(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(t.TempDir(), "gen")
	records := "40000"
	if testing.Short() {
		records = "10000"
	}
	if _, err := lx.Execute(ctx, compile(t, terasort.Job, []string{"--generate", records, "--out", gen}, 4)); err != nil {
		t.Fatal(err)
	}
	upload(t, gen, "s3://bkt/gen")
	edges := rmatFile(t, 9, 4)
	upload(t, edges, "s3://bkt/graph/edges.tsv")

	e, _ := embedded(t, 3)
	cases := []struct {
		name          string
		job           *bsp.Job
		local, remote []string
	}{
		{"wordcount", wordcount.Job, []string{"--input", in}, []string{"--input", "s3://bkt/corpus"}},
		{"terasort", terasort.Job, []string{"--input", gen}, []string{"--input", "s3://bkt/gen"}},
		{"pagerank", graph.PageRankJob, []string{"--edges", edges, "--int-ids", "--checkpoint-every", "2"},
			[]string{"--edges", "s3://bkt/graph/*.tsv", "--int-ids", "--checkpoint-every", "2"}},
	}
	for _, c := range cases {
		want := filepath.Join(t.TempDir(), "local")
		if _, err := lx.Execute(ctx, compile(t, c.job, append(c.local, "--out", want), 5)); err != nil {
			t.Fatal(err)
		}
		wantBytes := concat(t, want)
		if len(wantBytes) == 0 {
			t.Fatalf("%s: empty local output", c.name)
		}
		for _, ex := range []struct {
			name string
			ex   bsp.Executor
		}{{"embedded", e.Executor()}, {"local", lx}} {
			out := "s3://bkt/out/" + c.name + "-" + ex.name
			ckpt := "s3://bkt/ckpt/" + c.name + "-" + ex.name
			gets, ckptPuts := srv.RangedGets(), srv.PutsUnder(ckpt)
			prog := compileWith(t, c.job, append(c.remote, "--out", out), 5, bsp.CompileOptions{CheckpointDir: ckpt})
			if _, err := ex.ex.Execute(ctx, prog); err != nil {
				t.Fatalf("%s on %s: %v", c.name, ex.name, err)
			}
			if got := concat(t, out); !bytes.Equal(got, wantBytes) {
				t.Fatalf("%s on %s: s3:// output (%d bytes) differs from the local-file run's (%d bytes)", c.name, ex.name, len(got), len(wantBytes))
			}
			fsys, _ := storage.For(out)
			m, err := storage.ReadManifest(ctx, fsys, out)
			if err != nil || len(m.Parts) == 0 {
				t.Fatalf("%s on %s: manifest %+v, %v", c.name, ex.name, m, err)
			}
			if srv.RangedGets() == gets {
				t.Errorf("%s on %s: the inputs were not read with ranged GETs", c.name, ex.name)
			}
			if c.name == "pagerank" {
				if n := srv.PutsUnder(ckpt) - ckptPuts; n == 0 {
					t.Errorf("pagerank on %s: no checkpoint was written below %s", ex.name, ckpt)
				}
				if left, err := fsys.List(ctx, ckpt); err != nil || len(left) != 0 {
					t.Errorf("pagerank on %s: %d checkpoint objects left after the job (%v)", ex.name, len(left), err)
				}
			}
			// Nothing staged is left beside the output.
			all, err := fsys.List(ctx, "s3://bkt/out")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range all {
				if strings.Contains(f.Name, ".superstep-") {
					t.Fatalf("%s on %s: staging object left: %s", c.name, ex.name, f.Name)
				}
			}
		}
	}
}

// TestS3RangedSplits: one large object is split by byte range into several
// tasks, each reading its range with ranged GETs, and wordcount's output
// equals the run over the same bytes in a local file.
func TestS3RangedSplits(t *testing.T) {
	if testing.Short() {
		t.Skip("large: several 1 MiB splits of one object; runs without -short")
	}
	srv := s3fake.Start(t, "bkt")
	srv.Use(t)
	ctx := context.Background()
	in := inputs(t)
	var big []byte
	err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		big = append(big, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(big) < 3<<20 {
		t.Fatalf("corpus is %d bytes; the test needs several 1 MiB splits", len(big))
	}
	file := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(file, big, 0o644); err != nil {
		t.Fatal(err)
	}
	upload(t, file, "s3://bkt/big.txt")
	lx, err := local.New(local.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(t.TempDir(), "want")
	if _, err := lx.Execute(ctx, compile(t, wordcount.Job, []string{"--input", file, "--out", want}, 8)); err != nil {
		t.Fatal(err)
	}
	prog := compile(t, wordcount.Job, []string{"--input", "s3://bkt/big.txt", "--out", "s3://bkt/wc"}, 8)
	splits := len(prog.Spec.Stages[0].Input.Splits)
	if splits < 3 {
		t.Fatalf("one %d-byte object made %d splits; want at least 3", len(big), splits)
	}
	for _, s := range prog.Spec.Stages[0].Input.Splits {
		if len(s.Files) != 1 || s.Files[0].Path != "s3://bkt/big.txt" {
			t.Fatalf("split %+v is not a range of the object", s)
		}
	}
	gets := srv.RangedGets()
	e, _ := embedded(t, 3)
	if _, err := e.Executor().Execute(ctx, prog); err != nil {
		t.Fatal(err)
	}
	if n := srv.RangedGets() - gets; n < int64(splits) {
		t.Errorf("%d splits read with %d ranged GETs", splits, n)
	}
	if got, w := concat(t, "s3://bkt/wc"), concat(t, want); !bytes.Equal(got, w) || len(w) == 0 {
		t.Fatalf("ranged splits of one object: %d bytes, the local file gives %d", len(got), len(w))
	}
}

// TestS3PartUploadFails: an Injector over the S3 FS fails every upload of
// one part (its Close); the job fails, no _SUCCESS is written, and no
// attempt object or staging prefix is left in the bucket.
func TestS3PartUploadFails(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	srv.Use(t)
	ctx := context.Background()
	upload(t, s3Inputs(t), "s3://bkt/in")
	inj := storage.NewInjector(srv.FS(t), storage.Rule{Op: storage.OpClose, Match: func(name string) bool {
		return strings.Contains(name, "/_attempts/") && strings.HasSuffix(name, "part-00001.txt")
	}})
	storage.Register("s3", func() (storage.FS, error) { return inj, nil })
	e, _ := embedded(t, 2)
	_, err := e.Executor().Execute(ctx, compile(t, wordcount.Job, []string{"--input", "s3://bkt/in", "--out", "s3://bkt/out"}, 4))
	if err == nil {
		t.Fatal("the job succeeded although part 1 could not be uploaded")
	}
	if inj.Injected() == 0 {
		t.Fatalf("no upload failed (the fault did not happen); job error: %v", err)
	}
	t.Logf("job error after %d failed uploads: %v", inj.Injected(), err)
	fsys := srv.FS(t)
	if _, err := storage.ReadManifest(ctx, fsys, "s3://bkt/out"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("_SUCCESS of a failed job: %v", err)
	}
	// The job's files go once its attempts stopped (the workers'
	// acknowledgements come first), which is after the job ended.
	var left []string
	ok := testwait.Until(30*time.Second, func() bool {
		files, err := fsys.List(ctx, "s3://bkt")
		if err != nil {
			t.Fatal(err)
		}
		left = left[:0]
		for _, f := range files {
			if !strings.HasPrefix(f.Name, "s3://bkt/in/") {
				left = append(left, f.Name)
			}
		}
		return len(left) == 0 && srv.Uploads(t, "bkt") == 0
	})
	if !ok {
		t.Fatalf("left behind by the failed job: %q and %d multipart uploads", left, srv.Uploads(t, "bkt"))
	}
}

// TestInputsResolvedOnWorkers: a job compiled with deferred inputs (as
// `superstep submit` does) lists nothing where it is compiled: here its
// input and the bucket do not even exist yet when it is compiled. A worker
// lists and splits them when the job is submitted, and the output equals
// the run of a job compiled with its inputs listed. A deferred job whose
// input is missing is refused at submit with the worker's error naming
// the input; one whose output exists is refused likewise.
func TestInputsResolvedOnWorkers(t *testing.T) {
	srv := s3fake.Start(t)
	srv.Use(t)
	ctx := context.Background()
	in := s3Inputs(t)
	e, _ := embedded(t, 2)

	want := filepath.Join(t.TempDir(), "want")
	if _, err := e.Executor().Execute(ctx, compile(t, wordcount.Job, []string{"--input", in, "--out", want}, 4)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, in, out string }{
		{"local", filepath.Join(t.TempDir(), "later"), filepath.Join(t.TempDir(), "out")},
		{"s3", "s3://late/in", "s3://late/out"},
	} {
		prog := compileWith(t, wordcount.Job, []string{"--input", c.in, "--out", c.out}, 4, bsp.CompileOptions{DeferInputs: true})
		if !prog.Spec.InputsDeferred || len(prog.Spec.Stages[0].Input.Splits) != 0 {
			t.Fatalf("%s: the deferred compile listed the inputs", c.name)
		}
		if c.name == "local" {
			if err := os.CopyFS(c.in, os.DirFS(in)); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := srv.Backend.CreateBucket("late"); err != nil {
				t.Fatal(err)
			}
			upload(t, in, c.in)
		}
		id, err := e.Client.Submit(ctx, prog)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		st, err := e.Client.Wait(ctx, id, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := st.GetStages()[0].GetTasks(); n < 2 {
			t.Fatalf("%s: the resolved input stage has %d tasks", c.name, n)
		}
		if got, w := concat(t, c.out), concat(t, want); !bytes.Equal(got, w) || len(w) == 0 {
			t.Fatalf("%s: %d bytes, the listed compile gives %d", c.name, len(got), len(w))
		}
	}

	missing := filepath.Join(t.TempDir(), "missing")
	prog := compileWith(t, wordcount.Job, []string{"--input", missing, "--out", filepath.Join(t.TempDir(), "o")}, 4, bsp.CompileOptions{DeferInputs: true})
	if _, err := e.Client.Submit(ctx, prog); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "worker") {
		t.Fatalf("missing input: %v; want the worker's error naming %s", err, missing)
	}
	prog = compileWith(t, wordcount.Job, []string{"--input", in, "--out", want}, 4, bsp.CompileOptions{DeferInputs: true})
	if _, err := e.Client.Submit(ctx, prog); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("existing output: %v; want it refused", err)
	}
	prog = compileWith(t, wordcount.Job, []string{"--input", "s3://nobucket/in", "--out", filepath.Join(t.TempDir(), "o")}, 4, bsp.CompileOptions{DeferInputs: true})
	if _, err := e.Client.Submit(ctx, prog); !strings.Contains(fmt.Sprint(err), "s3://nobucket/in") || !strings.Contains(fmt.Sprint(err), "no such bucket") {
		t.Fatalf("missing bucket: %v; want an error naming the URL and the cause", err)
	}
}

// BenchmarkWordcountInput runs wordcount in process (bsp/local) over the
// same bundled text read from local files and from s3:// (gofakes3 on
// loopback, so the figure is the S3 path's cost: HTTP, signing, ranged GETs
// and the fake's own work, without a real network). The output goes to a
// local directory in both. With -count N the two alternate, so their
// ratio is taken under the same load.
func BenchmarkWordcountInput(b *testing.B) {
	srv := s3fake.Start(b, "bkt")
	srv.Use(b)
	in := testcorpus.Dir(b, 16<<20)
	upload(b, in, "s3://bkt/in")
	var size int64
	_ = filepath.WalkDir(in, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	cfg := local.DefaultConfig()
	cfg.Slots = 2
	for _, c := range []struct{ name, in string }{{"local", in}, {"s3", "s3://bkt/in"}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				cfg.WorkDir = b.TempDir()
				lx, err := local.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				prog := compileWith(b, wordcount.Job, []string{"--input", c.in, "--out", filepath.Join(b.TempDir(), "out")}, 4, bsp.CompileOptions{})
				if _, err := lx.Execute(context.Background(), prog); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSubmitWithoutTheData starts a coordinator and two workers as
// processes whose working directory holds the input, and submits with the
// CLI from a process whose working directory does not: the relative input
// path exists only where the workers are, so the submit works only because
// a worker lists the inputs. The workers' --allow-path is their data
// directory, checked on the listed files. A second job reads and writes
// s3:// (the processes find the fake through SUPERSTEP_S3_ENDPOINT and the
// AWS variables). Both outputs equal in-process runs on the same data.
func TestSubmitWithoutTheData(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	srv := s3fake.Start(t, "bkt")
	srv.Use(t)
	data := t.TempDir()
	in := inputs(t)
	if err := os.CopyFS(filepath.Join(data, "in"), os.DirFS(in)); err != nil {
		t.Fatal(err)
	}
	upload(t, in, "s3://bkt/in")
	coord := startIn(t, data, "coordinator listening on", "coordinator", "--listen", "127.0.0.1:0")
	for i := range 2 {
		startIn(t, data, "worker ", "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0",
			"--data-dir", filepath.Join(t.TempDir(), fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "16MB",
			"--allow-path", data, "--allow-path", "s3://bkt")
	}
	want := filepath.Join(t.TempDir(), "want")
	runCLI(t, "run", "wordcount", "--workers", "0", "--partitions", "4", "--input", in, "--out", want)
	elsewhere := t.TempDir() // no "in" here
	for _, c := range []struct{ in, out, result string }{
		{"in", "out", filepath.Join(data, "out")},
		{"s3://bkt/in", "s3://bkt/out", "s3://bkt/out"},
	} {
		cmd := exec.Command(binary(t), "submit", "wordcount", "--coordinator", coord.addr, "--partitions", "4",
			"--input", c.in, "--out", c.out)
		cmd.Dir = elsewhere
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("submit --input %s: %v\n%s", c.in, err, stderr.String())
		}
		if got, w := concat(t, c.result), concat(t, want); !bytes.Equal(got, w) || len(w) == 0 {
			t.Fatalf("--input %s: %d bytes, the in-process run gives %d", c.in, len(got), len(w))
		}
	}
	// A path the workers may not read is refused by them, at submit.
	cmd := exec.Command(binary(t), "submit", "wordcount", "--coordinator", coord.addr, "--input", in, "--out", "out2")
	cmd.Dir = elsewhere
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "outside the allowed paths") {
		t.Fatalf("input outside --allow-path: %v\n%s", err, stderr.String())
	}
}
