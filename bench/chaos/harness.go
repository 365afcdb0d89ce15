package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/internal/faults"
)

// Config is a chaos run's configuration.
type Config struct {
	Seed       uint64
	Duration   time.Duration // no new job starts after it
	From       int           // the first run's number (to replay one run)
	Runs       int           // stop after this many runs (0: until Duration)
	Workers    int
	Partitions int
	JobTimeout time.Duration // a job that has not ended by then is a hang
	Dir        string        // work directory (kept); empty: a temporary one, removed
	Jobs       []string      // empty: all four
	Faults     []string      // fault kinds to draw (see kindNames); empty: all
	Log        io.Writer
	NoTmpfs    bool // do not try to mount a tmpfs (full-disk faults are then left out)
	// TolerateLeftovers reports job directories left in the workers' data
	// dirs without counting them as a failure.
	TolerateLeftovers bool
	TmpfsSize         int64
}

// DefaultConfig is the configuration of `go run ./bench/chaos`.
func DefaultConfig() Config {
	return Config{Duration: 3 * time.Minute, Workers: 3, Partitions: 6, JobTimeout: 3 * time.Minute,
		Log: os.Stdout, TmpfsSize: 96 << 20}
}

// Report counts what a chaos run did and found.
type Report struct {
	Seed      uint64
	Kinds     []string // the faults that could be drawn
	NoTmpfs   string   // why full-disk faults were left out, if they were
	Jobs      int      // jobs run under faults
	Succeeded int
	Failed    int // the job ended failed or cancelled
	Wrong     int // the job succeeded with output that differs from the reference
	Hangs     int // the job did not end within JobTimeout
	Injected  map[string]int
	Skipped   map[string]int // planned but not injected (the job had ended, no file yet)
	Delayed   int            // task attempts the slow-task hook delayed (from the workers' logs)
	Leftover  int            // job directories left in workers' data dirs after their jobs ended
	Lingering int            // worker processes that ran but were not live workers after a run's faults
	Restarts  int            // workers that exited by themselves and were started again
	Failures  []string       // one line each, with the run's schedule
	Elapsed   time.Duration
}

// OK reports whether nothing went wrong.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos seed %d: %d jobs in %s: %d succeeded, %d failed, %d wrong outputs, %d hangs, %d leftover job dirs, %d lingering workers\n",
		r.Seed, r.Jobs, r.Elapsed.Round(time.Second), r.Succeeded, r.Failed, r.Wrong, r.Hangs, r.Leftover, r.Lingering)
	total := 0
	var parts []string
	for _, k := range kindNames {
		if n := r.Injected[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
			total += n
		}
	}
	fmt.Fprintf(&b, "faults injected: %d (%s); task attempts delayed by the hook: %d; workers that exited by themselves (restarted): %d\n",
		total, strings.Join(parts, ", "), r.Delayed, r.Restarts)
	parts = parts[:0]
	for _, k := range kindNames {
		if n := r.Skipped[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "planned but not injected (job already ended, or no shuffle file yet): %s\n", strings.Join(parts, ", "))
	}
	if r.NoTmpfs != "" {
		fmt.Fprintf(&b, "full-disk faults left out: %s\n", r.NoTmpfs)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "FAILURE %s\n", f)
	}
	return b.String()
}

// harness is a running multi-process cluster under faults.
type harness struct {
	cfg     Config
	bin     string
	dir     string
	addr    string // the coordinator's, the same across its restarts
	coord   *process
	workers []*process
	dirs    []string // workers' data dirs
	rules   []string // workers' fault rules files
	tmpfs   string   // the mount point (the last worker's data dir), or ""
	conn    *grpc.ClientConn
	cc      pb.CoordinatorClient
	log     io.Writer

	mu  sync.Mutex // guards rep
	rep *Report
}

// freePort returns a loopback address with a port that was free just now:
// the coordinator must come back on the same address after a SIGKILL.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// buildBinary builds the superstep command with the fault hook compiled in.
func buildBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "superstep")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "faults", "-o", bin, "./cmd/superstep")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags faults ./cmd/superstep: %v: %s", err, out)
	}
	return bin, nil
}

// Run runs jobs under seeded faults until cfg.Duration has passed (or
// cfg.Runs runs), checking every output against an in-process reference.
// The error is about the harness itself; what the faults found is in the
// report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	start := time.Now()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "superstep-chaos-")
		if err != nil {
			return nil, err
		}
		dir = d
		defer os.RemoveAll(d)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, dir: dir, log: cfg.Log,
		rep: &Report{Seed: cfg.Seed, Injected: map[string]int{}, Skipped: map[string]int{}}}
	fmt.Fprintf(h.log, "chaos: seed %d, work dir %s (replay: go run ./bench/chaos --seed %d)\n", cfg.Seed, dir, cfg.Seed)
	var err error
	if h.bin, err = buildBinary(ctx, dir); err != nil {
		return nil, err
	}
	wls, err := prepareInputs(ctx, h.bin, filepath.Join(dir, "inputs"), cfg.Seed, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	if len(cfg.Jobs) > 0 {
		wls = slices.DeleteFunc(wls, func(w workload) bool { return !slices.Contains(cfg.Jobs, w.name) })
		if len(wls) == 0 {
			return nil, fmt.Errorf("--jobs %v: no such workload (wordcount, terasort, pagerank, webindex)", cfg.Jobs)
		}
	}
	byName := map[string]workload{}
	var names []string
	for _, w := range wls {
		byName[w.name] = w
		names = append(names, w.name)
		if err := reference(ctx, h.bin, w, filepath.Join(dir, "ref", w.name)); err != nil {
			return nil, fmt.Errorf("reference run of %s: %w", w.name, err)
		}
	}
	if err := h.startCluster(); err != nil {
		h.stopCluster()
		return nil, err
	}
	defer h.unmount()
	kinds, err := selectKinds(cfg.Faults, h.tmpfs != "")
	if err != nil {
		h.stopCluster()
		return nil, err
	}
	for _, k := range kinds {
		h.rep.Kinds = append(h.rep.Kinds, k.String())
	}
	fmt.Fprintf(h.log, "chaos: faults %s\n", strings.Join(h.rep.Kinds, ", "))

	// One clean run of each job on the cluster first: it checks the cluster
	// without faults and measures the window the faults are placed in.
	window := map[string]time.Duration{}
	for _, w := range wls {
		t0 := time.Now()
		h.runOne(ctx, run{N: -1, Job: w.name}, w)
		window[w.name] = max(time.Since(t0), 500*time.Millisecond)
		fmt.Fprintf(h.log, "chaos: %s's faults fall within %s of its submit\n", w.name, window[w.name].Round(time.Millisecond))
	}
	// The supervisor restarts workers that exit by themselves (a worker the
	// coordinator declared dead exits), as a process manager would.
	sctx, stopSupervisor := context.WithCancel(ctx)
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		h.supervise(sctx)
	}()
	defer func() { stopSupervisor(); <-supervised }()
	p := planner{seed: cfg.Seed, jobs: names, workers: cfg.Workers, kinds: kinds, window: window, parts: cfg.Partitions}
	for n := cfg.From; ctx.Err() == nil; n++ {
		if cfg.Runs > 0 && n-cfg.From >= cfg.Runs || cfg.Runs == 0 && time.Since(start) > cfg.Duration {
			break
		}
		r := p.plan(n)
		h.runOne(ctx, r, byName[r.Job])
	}
	stopSupervisor()
	<-supervised
	h.rep.Leftover = h.leftovers()
	h.rep.Delayed = h.delayedAttempts()
	if !h.stopCluster() {
		h.fail("shutdown: a process did not exit within 30 s of SIGTERM")
	}
	if h.rep.Leftover > 0 && !cfg.TolerateLeftovers {
		h.fail(fmt.Sprintf("%d job directories were left in the workers' data dirs after their jobs ended", h.rep.Leftover))
	}
	h.rep.Elapsed = time.Since(start)
	return h.rep, ctx.Err()
}

// selectKinds returns the fault kinds named (all when names is empty),
// without full-disk faults when there is no tmpfs.
func selectKinds(names []string, tmpfs bool) ([]kind, error) {
	var out []kind
	for k := range numKinds {
		if k == fullDisk && !tmpfs {
			continue
		}
		if len(names) == 0 || slices.Contains(names, k.String()) {
			out = append(out, k)
		}
	}
	for _, n := range names {
		if !slices.Contains(kindNames[:], n) {
			return nil, fmt.Errorf("unknown fault %q (want one of %s)", n, strings.Join(kindNames[:], ", "))
		}
	}
	return out, nil
}

func (h *harness) fail(s string) {
	h.mu.Lock()
	h.rep.Failures = append(h.rep.Failures, fmt.Sprintf("%s (seed %d)", s, h.cfg.Seed))
	h.mu.Unlock()
	fmt.Fprintf(h.log, "chaos: FAILURE %s\n", s)
}

func (h *harness) count(m map[string]int, k kind) {
	h.mu.Lock()
	m[k.String()]++
	h.mu.Unlock()
}

func (h *harness) startCluster() error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	raft, err := freePort()
	if err != nil {
		return err
	}
	logs := filepath.Join(h.dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	h.addr = addr
	h.coord = &process{name: "coordinator", bin: h.bin, prefix: "coordinator listening on ",
		args: []string{"coordinator", "--listen", addr, "--raft-bind", raft, "--data-dir", filepath.Join(h.dir, "coordinator")},
		log:  filepath.Join(logs, "coordinator.log")}
	if err := h.coord.start(); err != nil {
		return err
	}
	for i := range h.cfg.Workers {
		d := filepath.Join(h.dir, fmt.Sprintf("worker-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if i == h.cfg.Workers-1 && !h.cfg.NoTmpfs {
			if err := syscall.Mount("tmpfs", d, "tmpfs", 0, "size="+strconv.FormatInt(h.cfg.TmpfsSize, 10)); err != nil {
				h.rep.NoTmpfs = fmt.Sprintf("mounting a tmpfs on %s: %v", d, err)
			} else {
				h.tmpfs = d
			}
		} else if h.cfg.NoTmpfs {
			h.rep.NoTmpfs = "--no-tmpfs"
		}
		rules := filepath.Join(h.dir, fmt.Sprintf("faults-%d.rules", i))
		w := &process{name: fmt.Sprintf("worker-%d", i), bin: h.bin, prefix: "worker ",
			args: []string{"worker", "--coordinator", addr, "--listen", "127.0.0.1:0", "--data-dir", d,
				"--slots", "2", "--memory", "32MB", "--compression", "lz4"},
			env: []string{faults.EnvFile + "=" + rules}, log: filepath.Join(logs, fmt.Sprintf("worker-%d.log", i))}
		if err := w.start(); err != nil {
			return err
		}
		h.workers = append(h.workers, w)
		h.dirs = append(h.dirs, d)
		h.rules = append(h.rules, rules)
	}
	h.conn, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	h.cc = pb.NewCoordinatorClient(h.conn)
	return nil
}

// stopCluster stops every process; it reports whether all exited on SIGTERM.
func (h *harness) stopCluster() bool {
	if h.conn != nil {
		h.conn.Close()
	}
	ok := true
	for _, w := range h.workers {
		ok = w.stop(30*time.Second) && ok
	}
	if h.coord != nil {
		ok = h.coord.stop(30*time.Second) && ok
	}
	return ok
}

func (h *harness) unmount() {
	if h.tmpfs != "" {
		if err := syscall.Unmount(h.tmpfs, syscall.MNT_DETACH); err != nil {
			fmt.Fprintf(h.log, "chaos: unmounting %s: %v\n", h.tmpfs, err)
		}
	}
}

// runOne submits r's job, injects r's faults while it runs, waits for it
// (up to JobTimeout), heals the cluster and checks the output.
func (h *harness) runOne(ctx context.Context, r run, w workload) {
	out := filepath.Join(h.dir, "out", fmt.Sprintf("run-%d-%s", r.N, r.Job))
	os.RemoveAll(out)
	fmt.Fprintf(h.log, "chaos: %s\n", r)
	args := append([]string{"submit", r.Job, "--coordinator", h.addr, "--detach", "--out", out}, w.flags...)
	var id string
	// A submit can meet a coordinator that a previous run's fault is still
	// restarting: retry it for a while.
	deadline := time.Now().Add(time.Minute)
	for {
		cmd := exec.CommandContext(ctx, h.bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err == nil {
			id = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			h.fail(fmt.Sprintf("%s: submit failed: %v: %s", r, err, strings.TrimSpace(stderr.String())))
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	if r.N >= 0 {
		h.mu.Lock()
		h.rep.Jobs++
		h.mu.Unlock()
	}
	t0 := time.Now()
	fctx, stopFaults := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, f := range r.Faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.inject(fctx, f, id, t0)
		}()
	}
	st, waitErr := h.wait(ctx, id, h.cfg.JobTimeout)
	stopFaults()
	wg.Wait()
	h.heal()
	took := time.Since(t0).Round(time.Millisecond)
	label := fmt.Sprintf("%s (job %s)", r, id)
	switch {
	case waitErr != nil:
		h.mu.Lock()
		h.rep.Hangs++
		h.mu.Unlock()
		h.fail(fmt.Sprintf("%s: hang: %v", label, waitErr))
		h.dumpStatus(id)
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h.cc.CancelJob(cctx, &pb.CancelJobRequest{JobId: id, Reason: "chaos: the job did not end within its bound"})
		cancel()
	case st.GetState() != pb.JobState_JOB_STATE_SUCCEEDED:
		h.mu.Lock()
		h.rep.Failed++
		h.mu.Unlock()
		h.fail(fmt.Sprintf("%s: job ended %s after %s: %s", label, st.GetState(), took, st.GetError()))
	default:
		if d := compareDirs(out, filepath.Join(h.dir, "ref", r.Job)); d != "" {
			h.mu.Lock()
			h.rep.Wrong++
			h.mu.Unlock()
			h.fail(fmt.Sprintf("%s: wrong output: %s", label, d))
			return
		}
		if r.N >= 0 { // the reference runs (no faults) are not jobs of the report
			h.mu.Lock()
			h.rep.Succeeded++
			h.mu.Unlock()
		}
		fmt.Fprintf(h.log, "chaos: run %d %s ok in %s (%d extra attempts)\n", r.N, r.Job, took, extraAttempts(st))
		os.RemoveAll(out)
	}
}

func extraAttempts(st *pb.JobStatus) int {
	n := 0
	for _, s := range st.GetStages() {
		n += int(s.GetAttempts()) - int(s.GetTasks())
	}
	return n
}

// wait polls the job until it ends or the bound passes. Polling (not a
// watch stream) rides out coordinator restarts: the connection comes back
// on the same address. A job the coordinator no longer knows after a
// restart is an error too.
func (h *harness) wait(ctx context.Context, id string, bound time.Duration) (*pb.JobStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var lastErr error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := h.cc.GetJob(cctx, &pb.GetJobRequest{JobId: id})
		ccancel()
		if err == nil {
			lastErr = nil
			switch st.GetState() {
			case pb.JobState_JOB_STATE_SUCCEEDED, pb.JobState_JOB_STATE_FAILED, pb.JobState_JOB_STATE_CANCELLED:
				return st, nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return nil, fmt.Errorf("not ended within %s (last error: %v)", bound, lastErr)
			}
			return nil, fmt.Errorf("not ended within %s (state %s)", bound, st.GetState())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// inject waits until f.At after t0 and injects f, unless ctx (the job)
// ends first.
func (h *harness) inject(ctx context.Context, f fault, jobID string, t0 time.Time) {
	select {
	case <-ctx.Done():
		h.count(h.rep.Skipped, f.Kind)
		return
	case <-time.After(time.Until(t0.Add(f.At))):
	}
	// hold waits f.For or until the job ends.
	hold := func() {
		select {
		case <-ctx.Done():
		case <-time.After(f.For):
		}
	}
	var err error
	switch f.Kind {
	case killWorker:
		w := h.workers[f.Target]
		if err = w.kill(); err == nil {
			h.count(h.rep.Injected, f.Kind)
			hold()
			err = w.start()
		}
	case pauseWorker:
		w := h.workers[f.Target]
		if err = w.pause(); err == nil {
			h.count(h.rep.Injected, f.Kind)
			hold()
			err = w.resume()
		}
	case killCoordinator:
		if err = h.coord.kill(); err == nil {
			h.count(h.rep.Injected, f.Kind)
			hold()
			err = h.coord.start()
		}
	case pauseCoordinator:
		if err = h.coord.pause(); err == nil {
			h.count(h.rep.Injected, f.Kind)
			hold()
			err = h.coord.resume()
		}
	case corruptShuffle, truncateShuffle:
		var path string
		path, err = h.damageShuffle(f, jobID)
		if err == nil && path == "" {
			h.count(h.rep.Skipped, f.Kind)
			return
		}
		if err == nil {
			h.count(h.rep.Injected, f.Kind)
			fmt.Fprintf(h.log, "chaos:   %s %s\n", f.Kind, path)
		}
	case fullDisk:
		var filler string
		if filler, err = fill(h.tmpfs, f.Pick); err == nil {
			h.count(h.rep.Injected, f.Kind)
			hold()
			// A worker restarted meanwhile clears its data dir, the
			// filler with it.
			if err = os.Remove(filler); errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		}
	case slowTask:
		rule := faults.AnyRule()
		// Only the task's first attempt in each stage: a Pregel task runs
		// one attempt per superstep, and delaying every one of them would
		// stretch PageRank past any bound without being a straggler.
		rule.Job, rule.Task, rule.Attempt, rule.Delay = jobID, f.Task, 0, f.For
		if err = os.WriteFile(h.rules[f.Target], []byte(faults.FormatRules([]faults.Rule{rule})), 0o644); err == nil {
			h.count(h.rep.Injected, f.Kind)
		}
	}
	if errors.Is(err, errNotRunning) {
		// Another fault of this run has the process down.
		h.count(h.rep.Skipped, f.Kind)
		return
	}
	if err != nil {
		h.fail(fmt.Sprintf("injecting %s: %v", f, err))
	}
}

// heal undoes what faults left behind: stopped processes continue, killed
// ones start again, the disk is emptied and the slow-task rules removed.
func (h *harness) heal() {
	for _, p := range h.rules {
		os.Remove(p)
	}
	if h.tmpfs != "" {
		m, _ := filepath.Glob(filepath.Join(h.tmpfs, fillerPrefix+"*"))
		for _, p := range m {
			os.Remove(p)
		}
	}
	if err := h.coord.heal(); err != nil {
		h.fail("restarting the coordinator: " + err.Error())
	}
	for _, w := range h.workers {
		if err := w.heal(); err != nil {
			h.fail("restarting " + w.name + ": " + err.Error())
		}
	}
	h.checkWorkersAlive()
}

// checkWorkersAlive waits (up to 20 s) until the coordinator lists as many
// live workers as there are worker processes. A process that runs but is
// not a live worker (declared dead while SIGSTOPped and never registered
// again) lingers: that is a failure, and the process is restarted so that
// the next runs have their workers.
func (h *harness) checkWorkersAlive() {
	deadline := time.Now().Add(20 * time.Second)
	for {
		alive := map[string]bool{}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := h.cc.ListWorkers(ctx, &pb.ListWorkersRequest{})
		cancel()
		if err == nil {
			for _, w := range resp.GetWorkers() {
				if w.GetAlive() {
					alive[w.GetWorkerId()] = true
				}
			}
		}
		var lingering []*process
		for _, w := range h.workers {
			if !alive[w.id()] {
				lingering = append(lingering, w)
			}
		}
		if len(lingering) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, w := range lingering {
				h.mu.Lock()
				h.rep.Lingering++
				h.mu.Unlock()
				h.fail(fmt.Sprintf("%s (worker %s) runs but is not a live worker of the coordinator 20 s after the faults ended", w.name, w.id()))
				w.kill()
				if err := w.start(); err != nil {
					h.fail("restarting " + w.name + ": " + err.Error())
				}
			}
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// damageShuffle corrupts or truncates one of the job's shuffle files; it
// returns "" when the job has none yet.
func (h *harness) damageShuffle(f fault, jobID string) (string, error) {
	var files []string
	for _, d := range h.dirs {
		m, _ := filepath.Glob(filepath.Join(d, jobID, "shuffle-*", "*.ssf"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		return "", nil
	}
	slices.Sort(files)
	path := files[f.Pick%uint64(len(files))]
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil // deleted meanwhile
		}
		return "", err
	}
	at := int64(f.Frac * float64(fi.Size()))
	if f.Kind == truncateShuffle {
		return path, os.Truncate(path, at)
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer file.Close()
	at = min(at, max(fi.Size()-16, 0))
	b := make([]byte, 16)
	n, _ := file.ReadAt(b, at)
	for i := range b[:n] {
		b[i] ^= 0xa5
	}
	_, err = file.WriteAt(b[:n], at)
	return path, err
}

const fillerPrefix = "chaos-filler-"

// fill allocates the rest of the file system under dir in one file (named
// after id: two full-disk faults may overlap).
func fill(dir string, id uint64) (string, error) {
	path := filepath.Join(dir, fillerPrefix+strconv.FormatUint(id, 16))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var off int64
	for chunk := int64(16 << 20); chunk >= 4096; {
		if err := syscall.Fallocate(int(f.Fd()), 0, off, chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				chunk /= 2
				continue
			}
			os.Remove(path)
			return "", err
		}
		off += chunk
	}
	return path, nil
}

// leftovers counts job directories still in the workers' data dirs a while
// after every job ended (cleanup is asynchronous, so it waits up to 20 s).
func (h *harness) leftovers() int {
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := 0
		var names []string
		for _, d := range h.dirs {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				if e.IsDir() {
					n++
					names = append(names, filepath.Join(filepath.Base(d), e.Name()))
				}
			}
		}
		if n == 0 || time.Now().After(deadline) {
			if n > 0 {
				fmt.Fprintf(h.log, "chaos: left in data dirs: %s\n", strings.Join(names, " "))
			}
			return n
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// delayedAttempts counts the slow-task hook's lines in the workers' logs.
func (h *harness) delayedAttempts() int {
	n := 0
	for _, w := range h.workers {
		b, _ := os.ReadFile(w.log)
		n += strings.Count(string(b), faults.LogPrefix)
	}
	return n
}

// dumpStatus writes the job's status (as the coordinator sees it) and the
// workers' list into the work dir, for a hang's post-mortem.
func (h *harness) dumpStatus(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path := filepath.Join(h.dir, "logs", "hang-"+id+".txt")
	var b strings.Builder
	if st, err := h.cc.GetJob(ctx, &pb.GetJobRequest{JobId: id}); err != nil {
		fmt.Fprintf(&b, "GetJob: %v\n", err)
	} else {
		fmt.Fprintf(&b, "%s\n", protojson.Format(st))
	}
	if ws, err := h.cc.ListWorkers(ctx, &pb.ListWorkersRequest{}); err != nil {
		fmt.Fprintf(&b, "ListWorkers: %v\n", err)
	} else {
		fmt.Fprintf(&b, "%s\n", protojson.Format(ws))
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
	fmt.Fprintf(h.log, "chaos: the hung job's status is in %s\n", path)
}

// supervise restarts, every half second, the workers that exited by
// themselves, until ctx ends.
func (h *harness) supervise(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, w := range h.workers {
			if w.exited() {
				fmt.Fprintf(h.log, "chaos:   %s exited by itself; starting it again\n", w.name)
				h.mu.Lock()
				h.rep.Restarts++
				h.mu.Unlock()
				if err := w.start(); err != nil {
					h.fail("restarting " + w.name + ": " + err.Error())
				}
			}
		}
	}
}
