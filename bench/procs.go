package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/internal/security"
)

// buildBinary builds cmd/superstep into dir once and returns its path.
func buildBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "superstep")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/superstep/superstep/cmd/superstep")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/superstep: %w", err)
	}
	return bin, nil
}

// procCluster is a coordinator and workers running as separate processes.
type procCluster struct {
	bin      string
	coord    string // coordinator address
	workers  []string
	dataDirs []string
	procs    []*exec.Cmd
	// client watches the submitted jobs and reads their stage statistics.
	client *cluster.Client
	// tlsArgs are the --tls-dir flags every process gets (TLS modes).
	tlsArgs []string
}

// startLine starts cmd and waits (up to a minute) for a stdout line with
// the prefix; it returns the rest of the line. stdout is drained after.
func startLine(cmd *exec.Cmd, prefix string) (string, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), prefix) {
				found = true
				lines <- sc.Text()
			}
		}
		if !found {
			close(lines)
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			return "", fmt.Errorf("%s exited before printing %q", cmd.Path, prefix)
		}
		return strings.TrimSpace(l[strings.Index(l, prefix)+len(prefix):]), nil
	case <-time.After(time.Minute):
		return "", fmt.Errorf("%s did not print %q within a minute", cmd.Path, prefix)
	}
}

// startProcCluster starts `superstep coordinator` and n `superstep worker`
// processes (one task slot each) with data under dir.
func startProcCluster(bin, dir string, n int, verbose bool, tlsDir string) (*procCluster, error) {
	pc := &procCluster{bin: bin}
	stderr := io.Discard
	if verbose {
		stderr = os.Stderr
	}
	var tlsArgs []string
	if tlsDir != "" {
		tlsArgs = []string{"--tls-dir", tlsDir}
	}
	pc.tlsArgs = tlsArgs
	c := exec.Command(bin, append([]string{"coordinator", "--listen", "127.0.0.1:0"}, tlsArgs...)...)
	c.Stderr = stderr
	addr, err := startLine(c, "coordinator listening on ")
	if err != nil {
		return nil, err
	}
	pc.procs = append(pc.procs, c)
	pc.coord = addr
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("worker-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			pc.stop()
			return nil, err
		}
		w := exec.Command(bin, append([]string{"worker", "--coordinator", addr, "--data-dir", d, "--slots", "1"}, tlsArgs...)...)
		w.Stderr = stderr
		line, err := startLine(w, "serving on ")
		if err != nil {
			pc.stop()
			return nil, err
		}
		pc.procs = append(pc.procs, w)
		pc.workers = append(pc.workers, line)
		pc.dataDirs = append(pc.dataDirs, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var opts []cluster.DialOption
	if tlsDir != "" {
		t, err := security.LoadTLS(tlsDir, security.RoleClient)
		if err != nil {
			pc.stop()
			return nil, err
		}
		tok, err := os.ReadFile(filepath.Join(tlsDir, "token"))
		if err != nil {
			pc.stop()
			return nil, err
		}
		opts = append(opts, cluster.WithTLS(t), cluster.WithToken(strings.TrimSpace(string(tok))))
	}
	if pc.client, err = cluster.Dial(ctx, addr, opts...); err != nil {
		pc.stop()
		return nil, err
	}
	return pc, nil
}

func (pc *procCluster) pids() []string {
	var p []string
	for _, c := range pc.procs {
		p = append(p, strconv.Itoa(c.Process.Pid))
	}
	return p
}

// cpu is the CPU time the cluster's processes have used so far.
func (pc *procCluster) cpu() cpuSample {
	var s cpuSample
	for _, pid := range pc.pids() {
		c, _ := procCPU(pid)
		s.user += c.user
		s.sys += c.sys
	}
	return s
}

// resetPeak resets the peak RSS of every process; peak sums them after.
func (pc *procCluster) resetPeak() {
	for _, pid := range pc.pids() {
		resetPeak(pid)
	}
}

func (pc *procCluster) peak() int64 {
	var s int64
	for _, pid := range pc.pids() {
		s += vmHWM(pid)
	}
	return s
}

// submit runs `superstep submit JOB ARGS --coordinator ADDR --detach`,
// which compiles and submits the job and prints its id, then watches the
// job on the coordinator until it ends: the caller's clock covers the
// whole job. It returns the job id and the submit process's peak RSS in
// bytes.
func (pc *procCluster) submit(ctx context.Context, job string, slots int, args []string) (string, int64, error) {
	a := append(append([]string{"submit", job, "--coordinator", pc.coord, "--detach",
		"--slots", strconv.Itoa(slots)}, pc.tlsArgs...), args...)
	cmd := exec.CommandContext(ctx, pc.bin, a...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", 0, fmt.Errorf("superstep submit: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024
	}
	id := strings.TrimSpace(string(out))
	if id == "" || strings.ContainsAny(id, " \n") {
		return "", 0, fmt.Errorf("superstep submit --detach printed %q, want a job id", out)
	}
	if _, err := pc.client.Wait(ctx, id, nil); err != nil {
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = pc.client.CC.CancelJob(cctx, &pb.CancelJobRequest{JobId: id, Reason: "the benchmark run timed out"})
			cancel()
		}
		return "", 0, err
	}
	return id, rss, nil
}

// jobStages asks the coordinator for an ended job's stage statistics
// (GetJob): the same figures bsp.Result.Stages carries in the in-process
// modes, shuffle bytes raw and compressed included.
func jobStages(ctx context.Context, cc pb.CoordinatorClient, jobID string) ([]bsp.StageStats, error) {
	st, err := cc.GetJob(ctx, &pb.GetJobRequest{JobId: jobID})
	if err != nil {
		return nil, fmt.Errorf("GetJob %s: %w", jobID, err)
	}
	var out []bsp.StageStats
	for _, s := range st.GetStages() {
		out = append(out, bsp.StageStats{Stage: int(s.GetStage()), Tasks: int(s.GetTasks()), Attempts: int(s.GetAttempts()),
			RecordsIn: s.GetRecordsIn(), RecordsOut: s.GetRecordsOut(), ShuffleBytes: s.GetShuffleBytes(),
			ShuffleRaw: s.GetShuffleRawBytes(), Spills: int(s.GetSpills()), Wall: time.Duration(s.GetElapsedMs()) * time.Millisecond})
	}
	return out, nil
}

// stop sends SIGTERM to the workers and then the coordinator and waits for
// them (SIGKILL after 30 s).
func (pc *procCluster) stop() {
	if pc.client != nil {
		pc.client.Close()
		pc.client = nil
	}
	for i := len(pc.procs) - 1; i >= 0; i-- {
		c := pc.procs[i]
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	pc.procs = nil
}
