package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
)

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a process that must come back on the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestCoordinatorRestartWithDeadWorker: one coordinator with --data-dir
// and three workers run a sort. Mid-job the coordinator is SIGKILLed, then
// a worker is SIGKILLed while no coordinator runs, then the coordinator is
// restarted on the same addresses and data dir. The restarted coordinator
// must declare the dead worker dead within the worker timeout (2 s, plus a
// margin for polling on a loaded machine) — it hears nothing from it, and
// seeds its failure detector from the replicated state — and the job must
// complete with output identical to an in-process run.
func TestCoordinatorRestartWithDeadWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	dir := t.TempDir()
	listen, raftAddr := freeAddr(t), freeAddr(t)
	coordArgs := []string{"coordinator", "--listen", listen, "--raft-bind", raftAddr, "--data-dir", filepath.Join(dir, "coord")}
	coord := start(t, "coordinator listening on", coordArgs...)
	var workers []*proc
	for i := range 3 {
		workers = append(workers, start(t, "worker ", "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0",
			"--data-dir", filepath.Join(dir, fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "16MB", "--compression", "lz4"))
	}
	gen, want := sortReference(t, dir, 300000, 6)

	ctx := context.Background()
	client := dial(t, coord.addr)
	got := filepath.Join(dir, "cluster")
	submit := exec.Command(binary(t), "submit", "terasort", "--coordinator", coord.addr, "--partitions", "6",
		"--input", gen, "--out", got, "--detach")
	idb, err := submit.Output()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(idb))
	waitFor(t, 60*time.Second, "the sort's map superstep has committed tasks", func() bool {
		st, err := client.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id})
		return err == nil && (st.GetState() == pb.JobState_JOB_STATE_SUCCEEDED ||
			st.GetCurrentStage() >= 1 && st.GetStages()[st.GetCurrentStage()].GetDone() > 0)
	})
	kill := func(p *proc) {
		t.Helper()
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.done <- <-p.done // observed the exit; leave it for the cleanup
	}
	kill(coord)
	victim := workers[1]
	kill(victim)
	var victimID string
	start(t, "coordinator listening on", coordArgs...)
	restarted := time.Now()
	waitFor(t, 30*time.Second, "the restarted coordinator lists the workers", func() bool {
		resp, err := client.CC.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil {
			return false
		}
		for _, w := range resp.GetWorkers() {
			if w.GetAddress() == victim.addr {
				victimID = w.GetWorkerId()
			}
		}
		return victimID != ""
	})
	var dead time.Duration
	waitFor(t, 30*time.Second, "the killed worker is declared dead", func() bool {
		resp, err := client.CC.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil {
			return false
		}
		for _, w := range resp.GetWorkers() {
			if w.GetWorkerId() == victimID && !w.GetAlive() {
				dead = time.Since(restarted)
				return true
			}
		}
		return false
	})
	t.Logf("the killed worker was declared dead %v after the restart (worker timeout 2s)", dead)
	if dead > 2*time.Second+3*time.Second {
		t.Errorf("declared dead %v after the restart; want within the worker timeout (2s) and a polling margin", dead)
	}
	st, err := client.Wait(ctx, id, nil)
	if err != nil {
		t.Fatalf("job after the restart: %v", err)
	}
	if st.GetSubmittedUnixMs() <= 0 || st.GetEndedUnixMs() < st.GetSubmittedUnixMs() {
		t.Errorf("times from the replicated state: submitted %d ended %d", st.GetSubmittedUnixMs(), st.GetEndedUnixMs())
	}
	if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("output after the restart (%d bytes) differs from the in-process run (%d bytes)", len(a), len(b))
	}
}
