package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/coordinator"
)

// panicky is a job whose Map panics on one record, to test retries.
var panicky = bsp.Register("test-panicky", func(p *bsp.Plan, a bsp.Args) error {
	xs := []int{1, 2, 3, 4, 5, 6}
	bsp.WriteText(bsp.Map(bsp.FromSlice(p, xs, 3), func(x int) string {
		if x == a.Int("bad") {
			panic("record four is cursed")
		}
		return "ok"
	}), a.String("out"))
	return nil
}, bsp.WithFlags(func(fs *pflag.FlagSet) {
	fs.Int("bad", 4, "the record that panics")
	fs.String("out", "", "output")
}))

// TestUserErrorFailsJobAfterRetries checks that a panicking task is retried
// (3 attempts) and then fails the job with the panic and its stack, leaving
// no output; and that cancelling an ended job says so.
func TestUserErrorFailsJobAfterRetries(t *testing.T) {
	e, _ := embedded(t, 2)
	out := filepath.Join(t.TempDir(), "out")
	prog := compile(t, panicky, []string{"--out", out}, 2)
	_, err := e.Executor().Execute(context.Background(), prog)
	var je *cluster.JobError
	if !errors.As(err, &je) {
		t.Fatalf("want a JobError, got %v", err)
	}
	msg := je.Status.GetError()
	if !strings.Contains(msg, "record four is cursed") || !strings.Contains(msg, "goroutine") {
		t.Fatalf("the job's error lacks the panic or its stack: %q", msg)
	}
	if got := je.Status.GetStages()[0].GetAttempts(); got < 3+2 {
		t.Fatalf("%d attempts in the failing stage; want the bad task tried 3 times", got)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed job created its output directory: %v", err)
	}
	// The coordinator removes the hidden temporary output once the job ended.
	waitFor(t, 10*time.Second, "the failed job's temporary output is removed", func() bool {
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*"))
		return len(matches) == 0
	})
	resp, err := e.Client.CC.CancelJob(context.Background(), &pb.CancelJobRequest{JobId: prog.Spec.JobID})
	if err != nil || !resp.GetAlreadyFinal() {
		t.Fatalf("cancelling an ended job: %v, already_final=%v", err, resp.GetAlreadyFinal())
	}
	if _, err := e.Client.CC.GetJob(context.Background(), &pb.GetJobRequest{JobId: "no-such-job"}); err == nil {
		t.Fatal("status of an unknown job succeeded")
	}
}

// jsonSum reads JSON lines of {"n": int} and writes their values as text.
var jsonSum = bsp.Register("test-jsonl", func(p *bsp.Plan, a bsp.Args) error {
	type rec struct {
		N int `json:"n"`
	}
	bsp.WriteText(bsp.Map(bsp.JSONLines[rec](p, a.String("input")), func(r rec) string { return strconv.Itoa(r.N) }), a.String("out"))
	return nil
}, bsp.WithFlags(func(fs *pflag.FlagSet) {
	fs.String("input", "", "input file")
	fs.String("out", "", "output")
}))

// TestPermanentErrorFailsAtOnce checks that a malformed input record is a
// permanent error: the job fails after exactly one attempt of the task (the
// limit being 3), with an error that matches coordinator.ErrPermanent and
// unwraps to a bsp.InputError naming the file and the line (line 4 of a
// hand-written file).
func TestPermanentErrorFailsAtOnce(t *testing.T) {
	e, _ := embedded(t, 2)
	dir := t.TempDir()
	in := filepath.Join(dir, "records.jsonl")
	if err := os.WriteFile(in, []byte("{\"n\": 1}\n{\"n\": 2}\n{\"n\": 3}\n{\"n\": oops}\n{\"n\": 5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	prog := compile(t, jsonSum, []string{"--input", in, "--out", out}, 1)
	_, err := e.Executor().Execute(context.Background(), prog)
	if !errors.Is(err, coordinator.ErrPermanent) || !errors.Is(err, coordinator.ErrJobFailed) {
		t.Fatalf("want a permanent job error, got %v", err)
	}
	var ie *bsp.InputError
	if !errors.As(err, &ie) || ie.Path != in || ie.Line != 4 {
		t.Fatalf("want an InputError at %s:4, got %+v (%v)", in, ie, err)
	}
	var je *cluster.JobError
	if !errors.As(err, &je) || je.Kind() != coordinator.KindPermanent || !strings.Contains(je.Status.GetError(), in) {
		t.Fatalf("job error %+v", je)
	}
	st := je.Status.GetStages()[0]
	if st.GetTasks() != 1 || st.GetAttempts() != 1 {
		t.Fatalf("stage 0: %d attempts of %d tasks; want exactly one attempt", st.GetAttempts(), st.GetTasks())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed job created its output directory: %v", err)
	}
}
