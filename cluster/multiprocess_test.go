package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/internal/buildbin"
)

// binary builds the superstep command once per test process.
func binary(t *testing.T) string {
	t.Helper()
	p, err := buildbin.Superstep()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is a started superstep process whose first stdout line announced its
// address.
type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

// start runs the binary and waits (with a deadline) for the line that
// starts with prefix; the address is the line's last field.
func start(t *testing.T, prefix string, args ...string) *proc {
	t.Helper()
	return startIn(t, "", prefix, args...)
}

// startIn is start with the process's working directory set to dir.
func startIn(t *testing.T, dir, prefix string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				lines <- sc.Text()
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	})
	select {
	case l := <-lines:
		f := strings.Fields(l)
		p.addr = f[len(f)-1]
	case err := <-p.done:
		t.Fatalf("%v exited before announcing its address: %v", args, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("%v did not announce its address", args)
	}
	return p
}

func runCLI(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("superstep %v: %v\n%s", args, err, stderr.String())
	}
}

// sortReference generates records terasort records in dir/gen and sorts
// them in-process over parts partitions into dir/local: a sort job's input
// and the bytes its cluster run must produce.
func sortReference(t *testing.T, dir string, records, parts int) (gen, want string) {
	t.Helper()
	gen, want = filepath.Join(dir, "gen"), filepath.Join(dir, "local")
	runCLI(t, "run", "terasort", "--workers", "0", "--generate", strconv.Itoa(records), "--out", gen, "--partitions", strconv.Itoa(parts))
	runCLI(t, "run", "terasort", "--workers", "0", "--partitions", strconv.Itoa(parts), "--input", gen, "--out", want)
	return gen, want
}

// dial connects to the coordinator at addr, closed when the test ends.
func dial(t *testing.T, addr string) *cluster.Client {
	t.Helper()
	client, err := cluster.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// TestMultiProcess starts a coordinator and three workers as separate
// processes on loopback, submits wordcount and terasort with the CLI and
// compares the outputs with in-process runs; then sorts again while a worker
// is SIGKILLed mid-job and checks the output is unchanged.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	dir := t.TempDir()
	coord := start(t, "coordinator listening on", "coordinator", "--listen", "127.0.0.1:0")
	var workers []*proc
	for i := range 3 {
		workers = append(workers, start(t, "worker ", "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0",
			"--data-dir", filepath.Join(dir, fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "16MB", "--compression", "lz4"))
	}
	in := inputs(t)
	gen := filepath.Join(dir, "gen")
	runCLI(t, "run", "terasort", "--workers", "0", "--generate", "300000", "--out", gen, "--partitions", "6")

	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"wordcount", []string{"--input", in}},
		{"terasort", []string{"--input", gen}},
	} {
		want := filepath.Join(dir, c.name+"-local")
		got := filepath.Join(dir, c.name+"-cluster")
		runCLI(t, append([]string{"run", c.name, "--workers", "0", "--partitions", "6", "--out", want}, c.flags...)...)
		runCLI(t, append([]string{"submit", c.name, "--coordinator", coord.addr, "--partitions", "6", "--out", got}, c.flags...)...)
		if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
			t.Fatalf("%s: cluster output (%d bytes) differs from the in-process run (%d bytes)", c.name, len(a), len(b))
		}
	}

	// Bad requests: one-line errors, exit code 1, and the coordinator
	// keeps serving.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "no-such-job", "--coordinator", coord.addr}, `no job "no-such-job"`},
		{[]string{"cancel", "no-such-job", "--coordinator", coord.addr}, `no job "no-such-job"`},
		{[]string{"submit", "no-such-job", "--coordinator", coord.addr}, `unknown job "no-such-job"`},
	} {
		cmd := exec.Command(binary(t), c.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil || !strings.Contains(stderr.String(), c.want) || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("superstep %v: %v, stderr %q; want one line with %q", c.args, err, stderr.String(), c.want)
		}
	}
	runCLI(t, "workers", "--coordinator", coord.addr)
	runCLI(t, "jobs", "--coordinator", coord.addr, "--json")

	// Kill a worker in the middle of a sort.
	ctx := context.Background()
	client, err := cluster.Dial(ctx, coord.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	got := filepath.Join(dir, "terasort-killed")
	submit := exec.Command(binary(t), "submit", "terasort", "--coordinator", coord.addr, "--partitions", "6",
		"--input", gen, "--out", got, "--detach")
	idb, err := submit.Output()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(idb))
	waitFor(t, 60*time.Second, "the sort's map superstep has committed tasks", func() bool {
		st, err := client.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id})
		return err == nil && st.GetCurrentStage() >= 1 && st.GetStages()[st.GetCurrentStage()].GetDone() > 0 ||
			err == nil && st.GetState() == pb.JobState_JOB_STATE_SUCCEEDED
	})
	victim := workers[1]
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	victim.done <- <-victim.done // observed the exit; leave it for the cleanup
	st, err := client.Wait(ctx, id, nil)
	if err != nil {
		t.Fatalf("job after a worker was killed: %v", err)
	}
	attempts := 0
	for _, s := range st.GetStages() {
		attempts += int(s.GetAttempts()) - int(s.GetTasks())
	}
	t.Logf("extra attempts after the kill: %d", attempts)
	if a, b := concat(t, got), concat(t, filepath.Join(dir, "terasort-local")); !bytes.Equal(a, b) {
		t.Fatalf("output after a worker was killed (%d bytes) differs from the in-process run (%d bytes)", len(a), len(b))
	}

	// SIGTERM: a worker stops taking tasks and exits cleanly.
	w := workers[0]
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatalf("worker exited after SIGTERM with %v", err)
		}
		w.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not exit after SIGTERM")
	}
}
