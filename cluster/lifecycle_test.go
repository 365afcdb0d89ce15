package cluster_test

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
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
	"github.com/superstep/superstep/coordinator/server"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/worker"
)

// slow is a job that keeps its tasks busy until they are cancelled.
var slow = bsp.Register("test-slow", func(p *bsp.Plan, a bsp.Args) error {
	n := make([]int, 1<<22)
	bsp.WriteText(bsp.Map(bsp.FromSlice(p, n, 4), func(int) string {
		var h uint32
		for i := range 20000 { // a few microseconds of work per record
			h = crc32.Update(h, crc32.IEEETable, []byte(strconv.Itoa(i)))
		}
		return strconv.Itoa(int(h))
	}), a.String("out"))
	return nil
}, bsp.WithFlags(func(fs *pflag.FlagSet) { fs.String("out", "", "output") }))

// TestCancelFreesSlotsAndFiles cancels a running job: the job ends
// cancelled, every worker slot becomes free again, and no file of the job
// is left on the workers or next to the output.
func TestCancelFreesSlotsAndFiles(t *testing.T) {
	e, dir := embedded(t, 2)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "out")
	prog := compile(t, slow, []string{"--out", out}, 2)
	id, err := e.Client.Submit(ctx, prog)
	if err != nil {
		t.Fatal(err)
	}
	busy := func() int32 {
		resp, err := e.Client.CC.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var n int32
		for _, w := range resp.GetWorkers() {
			n += w.GetSlots() - w.GetFreeSlots()
		}
		return n
	}
	waitFor(t, 20*time.Second, "the job's tasks are running", func() bool { return busy() > 0 })
	resp, err := e.Client.CC.CancelJob(ctx, &pb.CancelJobRequest{JobId: id})
	if err != nil || resp.GetAlreadyFinal() || resp.GetStatus().GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancel: %v %v", resp, err)
	}
	if _, err := e.Client.Wait(ctx, id, nil); !errors.Is(err, coordinator.ErrJobCancelled) {
		t.Fatalf("waiting on a cancelled job: %v", err)
	}
	waitFor(t, 20*time.Second, "every slot is free and the job's files are gone", func() bool {
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*"))
		return busy() == 0 && len(jobFiles(dir)) == 0 && len(left) == 0
	})
	// The workers took up the next job at once: their slots were released.
	got := filepath.Join(t.TempDir(), "wc")
	in := inputs(t)
	if _, err := e.Executor().Execute(ctx, compile(t, wordcount.Job, []string{"--input", in, "--out", got}, 2)); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerWithOtherBinaryGetsNoTasks registers a worker whose registry
// fingerprint differs from the submitter's: the job fails at once with an
// error that says no live worker can run it.
func TestWorkerWithOtherBinaryGetsNoTasks(t *testing.T) {
	ctx := context.Background()
	sc := server.DefaultConfig()
	sc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	coord, err := server.Start(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	wc := worker.DefaultConfig()
	wc.Coordinator, wc.DataDir, wc.Fingerprint = coord.Addr(), t.TempDir(), "some-other-binary"
	wc.Log = sc.Log
	w, err := worker.Start(ctx, wc)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop(ctx)
	c, err := cluster.Dial(ctx, coord.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := filepath.Join(t.TempDir(), "out")
	_, err = (&cluster.Executor{Client: c}).Execute(ctx, compile(t, wordcount.Job, []string{"--input", inputs(t), "--out", out}, 2))
	if !errors.Is(err, coordinator.ErrNoWorker) {
		t.Fatalf("want a 'no live worker' error, got %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output exists: %v", err)
	}
}

// TestUnreachableCoordinator checks the errors a client and a worker give
// when nothing listens at the coordinator's address.
func TestUnreachableCoordinator(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx := context.Background()
	if _, err := cluster.Dial(ctx, addr); !errors.Is(err, cluster.ErrUnreachable) ||
		!strings.Contains(err.Error(), "no coordinator at "+addr+": is `superstep coordinator` running?") {
		t.Fatalf("dial: %v", err)
	}
	wc := worker.DefaultConfig()
	wc.Coordinator, wc.DataDir, wc.RegisterTimeout = addr, t.TempDir(), 300*time.Millisecond
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := worker.Start(ctx, wc); !errors.Is(err, worker.ErrNoCoordinator) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("worker start: %v", err)
	}
}
