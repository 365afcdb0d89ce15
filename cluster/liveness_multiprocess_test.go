package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/internal/testwait"
)

// liveness timings of the tests below: the coordinator's worker timeout
// (its default) and the workers' --fetch-timeout.
const (
	livenessWorkerTimeout = 2 * time.Second
	livenessFetchTimeout  = 3 * time.Second
)

// workerIDs maps the workers' shuffle addresses to their IDs.
func workerIDs(t *testing.T, client *cluster.Client) map[string]string {
	t.Helper()
	ws, err := client.CC.ListWorkers(context.Background(), &pb.ListWorkersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, w := range ws.GetWorkers() {
		ids[w.GetAddress()] = w.GetWorkerId()
	}
	return ids
}

// eventLog collects a job's events while it runs.
type eventLog struct {
	mu     sync.Mutex // guards events
	events []*pb.JobEvent
}

func (l *eventLog) add(e *pb.JobEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) find(match func(*pb.JobEvent) bool) []*pb.JobEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*pb.JobEvent
	for _, e := range l.events {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// TestFrozenWorker freezes a worker with SIGSTOP for 60 s (issue 12's
// fault) just as the reducers start reading the map outputs it holds. The
// readers must not wait for it longer than the worker timeout plus one
// fetch deadline: every attempt on another worker that ends after the
// freeze ends by then (from the events' times), the frozen worker is
// declared dead (counted), and the job completes during the freeze with
// the bytes of an in-process run. (On loopback, outputs of this size are
// often in the socket buffers already when the holder stops, so that no
// fetch stalls; the stall itself and its deadline are proven by the
// worker's TestFrozenHolderFetchFailsAtDeadline.)
func TestFrozenWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test (a 60 s freeze); runs without -short")
	}
	dir := t.TempDir()
	coord := start(t, "coordinator listening on", "coordinator", "--listen", "127.0.0.1:0")
	var workers []*proc
	for i := range 3 {
		workers = append(workers, start(t, "worker ", "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0",
			"--data-dir", filepath.Join(dir, fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "16MB",
			"--compression", "lz4", "--fetch-timeout", livenessFetchTimeout.String()))
	}
	gen, want := sortReference(t, dir, 300000, 6)

	ctx := context.Background()
	client := dial(t, coord.addr)
	victim := workers[1]
	victimID := workerIDs(t, client)[victim.addr]
	if victimID == "" {
		t.Fatalf("no worker at %s", victim.addr)
	}
	got := filepath.Join(dir, "cluster")
	idb, err := exec.Command(binary(t), "submit", "terasort", "--coordinator", coord.addr, "--partitions", "6",
		"--input", gen, "--out", got, "--detach").Output()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(idb))

	// Freeze the victim when the map stage finishes (the reducers are
	// being assigned and start fetching), if it holds map outputs.
	var log eventLog
	var frozeAt time.Time
	froze := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := client.WatchEvents(ctx, id, func(e *pb.JobEvent) {
			log.add(e)
			if e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_STAGE_FINISHED && e.GetStage() == 0 && frozeAt.IsZero() {
				if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Errorf("SIGSTOP: %v", err)
				}
				frozeAt = time.Now()
				close(froze)
			}
		})
		done <- err
	}()
	select {
	case <-froze:
	case err := <-done:
		t.Fatalf("the job ended before its map stage finished: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the map stage did not finish")
	}
	t.Cleanup(func() { victim.cmd.Process.Signal(syscall.SIGCONT) })
	held := log.find(func(e *pb.JobEvent) bool {
		return e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_TASK_COMMITTED && e.GetStage() == 0 && e.GetWorkerId() == victimID
	})
	if len(held) == 0 {
		t.Skipf("the victim %s committed no map task: nothing to read from it", victimID)
	}
	select {
	case err = <-done:
	case <-time.After(55 * time.Second):
		t.Fatalf("the job did not complete during the 60 s freeze")
	}
	if err != nil {
		t.Fatalf("job with a frozen worker: %v", err)
	}
	ended := time.Now()

	// The freeze happened and was noticed: the victim was declared dead.
	lost := log.find(func(e *pb.JobEvent) bool {
		return e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_WORKER_LOST && e.GetWorkerId() == victimID
	})
	if len(lost) == 0 {
		t.Fatalf("the frozen worker %s was never declared dead", victimID)
	}
	// No reader on another worker was held up longer than the worker
	// timeout plus one fetch deadline (and some slack for the loaded
	// machine: scheduling, a heartbeat interval, the result's round trip).
	const slack = 3 * time.Second
	bound := frozeAt.Add(livenessWorkerTimeout + livenessFetchTimeout + slack)
	var stalls int
	for _, e := range log.find(func(e *pb.JobEvent) bool {
		return e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_FAILED && e.GetWorkerId() != victimID &&
			e.GetUnixMs() >= frozeAt.UnixMilli()
	}) {
		at := time.UnixMilli(e.GetUnixMs())
		t.Logf("+%s: attempt %v on %s ended: %s", at.Sub(frozeAt).Round(time.Millisecond), e.GetAttempt(), e.GetWorkerId(), e.GetMessage())
		if strings.Contains(e.GetMessage(), "fetch timeout") {
			stalls++
		}
		if at.After(bound) {
			t.Errorf("attempt %v on %s ended %s after the freeze (bound %s): %s", e.GetAttempt(), e.GetWorkerId(),
				at.Sub(frozeAt), bound.Sub(frozeAt), e.GetMessage())
		}
	}
	t.Logf("froze %s at %s; declared dead after %s; %d readers failed at the fetch deadline; the job ended %s after the freeze",
		victimID, frozeAt.Format(time.TimeOnly), time.UnixMilli(lost[0].GetUnixMs()).Sub(frozeAt).Round(time.Millisecond),
		stalls, ended.Sub(frozeAt).Round(time.Millisecond))
	if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("output with a frozen worker (%d bytes) differs from the in-process run (%d bytes)", len(a), len(b))
	}
	// The freeze lasts its 60 s (the duration), then the worker,
	// which the coordinator declared dead, resumes and stops itself.
	testwait.Hold(t, time.Until(frozeAt.Add(60*time.Second)), "the freeze of "+victimID, func() error {
		return stoppedProcess(victim.cmd.Process.Pid)
	})
	if err := victim.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-victim.done:
		if err == nil {
			t.Fatal("the resumed worker exited with status 0; want 1 (unknown to the coordinator)")
		}
		victim.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the resumed worker, declared dead, did not stop itself")
	}
}

// TestBrokenDataDirWorkerExcluded breaks one worker's data dir after it
// started: the directory is moved away and a regular file takes its place,
// so that every file the worker creates under it fails with ENOTDIR. That
// fails even for root (tests run as root here, where a read-only mode does
// not stop writes, and remounting read-only needs privileges) and needs no
// special file system. Its attempts fail, the coordinator excludes it
// (superstep workers says so, and /metrics counts it), and the job
// completes on the other workers with the bytes of an in-process run.
func TestBrokenDataDirWorkerExcluded(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	dir := t.TempDir()
	metricsAddr := freeAddr(t)
	coord := start(t, "coordinator listening on", "coordinator", "--listen", "127.0.0.1:0", "--http", metricsAddr)
	var workers []*proc
	for i := range 3 {
		workers = append(workers, start(t, "worker ", "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0",
			"--data-dir", filepath.Join(dir, fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "16MB", "--compression", "lz4"))
	}
	ctx := context.Background()
	client := dial(t, coord.addr)
	bad := workerIDs(t, client)[workers[0].addr]
	data := filepath.Join(dir, "w0")
	if err := os.Rename(data, data+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "probe"), nil, 0o644); err == nil {
		t.Fatal("a file was created under the broken data dir")
	}

	gen, want := sortReference(t, dir, 200000, 8)
	got := filepath.Join(dir, "cluster")
	runCLI(t, "submit", "terasort", "--coordinator", coord.addr, "--partitions", "8", "--input", gen, "--out", got)
	if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("output with a broken worker (%d bytes) differs from the in-process run (%d bytes)", len(a), len(b))
	}

	ws, err := client.CC.ListWorkers(ctx, &pb.ListWorkersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws.GetWorkers() {
		excluded := w.GetState() == pb.WorkerState_WORKER_STATE_EXCLUDED
		if excluded != (w.GetWorkerId() == bad) {
			t.Errorf("worker %s: state %s, excluded until %d (%s); the broken one is %s", w.GetWorkerId(), w.GetState(),
				w.GetExcludedUntilUnixMs(), w.GetExcludedReason(), bad)
		}
		if excluded && (w.GetExcludedUntilUnixMs() <= time.Now().UnixMilli() || !w.GetAlive()) {
			t.Errorf("excluded worker %s: until %d, alive %v", w.GetWorkerId(), w.GetExcludedUntilUnixMs(), w.GetAlive())
		}
	}
	out, err := exec.Command(binary(t), "workers", "--coordinator", coord.addr).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, bad+" ") && !strings.Contains(line, "excluded until ") {
			t.Errorf("superstep workers does not show %s excluded:\n%s", bad, out)
		}
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var gauges []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "superstep_workers{") {
			gauges = append(gauges, line)
		}
	}
	if !slices.Contains(gauges, `superstep_workers{state="excluded"} 1`) || !slices.Contains(gauges, `superstep_workers{state="alive"} 2`) {
		t.Errorf("/metrics does not count one excluded and two alive workers: %q", gauges)
	}
}

// stoppedProcess returns an error unless process pid is stopped (state T
// in /proc/PID/stat: SIGSTOP took it, nothing resumed it).
func stoppedProcess(pid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	if st := b[i+2]; st != 'T' {
		return fmt.Errorf("process %d is in state %c, not stopped", pid, st)
	}
	return nil
}
