package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
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
