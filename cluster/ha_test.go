package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
)

// The high-availability tests run three coordinator processes (one raft
// group) and three workers on loopback, and kill, freeze and restart
// coordinators while jobs run. SUPERSTEP_HA_RUNS (default 3) and
// SUPERSTEP_HA_MB (default 24) size the leader-loss experiment;
// SUPERSTEP_HA_SEED fixes its random kill moments.

// coordProc is a coordinator process whose stderr (its slog lines) goes
// to a file.
type coordProc struct {
	id, grpc, raft, dataDir, log string
	cmd                          *exec.Cmd
	done                         chan error
}

type haCluster struct {
	t      *testing.T
	dir    string
	peers  string
	coords map[string]*coordProc
	ids    []string
}

// loopbackPorts returns n loopback addresses that were free a moment ago.
func loopbackPorts(t *testing.T, n int) []string {
	t.Helper()
	var ls []net.Listener
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func newHACluster(t *testing.T, n int) *haCluster {
	c := &haCluster{t: t, dir: t.TempDir(), coords: map[string]*coordProc{}}
	ports := loopbackPorts(t, 2*n)
	var peers []string
	for i := range n {
		id := fmt.Sprintf("c%d", i+1)
		cp := &coordProc{id: id, grpc: ports[i], raft: ports[n+i], dataDir: filepath.Join(c.dir, id),
			log: filepath.Join(c.dir, id+".log")}
		c.coords[id] = cp
		c.ids = append(c.ids, id)
		peers = append(peers, id+"="+cp.raft)
	}
	c.peers = strings.Join(peers, ",")
	return c
}

func (c *haCluster) addrs() string {
	var a []string
	for _, id := range c.ids {
		a = append(a, c.coords[id].grpc)
	}
	return strings.Join(a, ",")
}

// start starts coordinator id (again, after a kill) and waits until it
// serves.
func (c *haCluster) start(id string, extra ...string) {
	t := c.t
	t.Helper()
	cp := c.coords[id]
	args := append([]string{"coordinator", "--id", id, "--listen", cp.grpc, "--raft-bind", cp.raft,
		"--data-dir", cp.dataDir, "--peers", c.peers, "--raft-timeout", "300ms"}, extra...)
	cmd := exec.Command(binary(t), args...)
	logf, err := os.OpenFile(cp.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cp.cmd, cp.done = cmd, make(chan error, 1)
	up := make(chan struct{}, 1)
	done := cp.done
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "coordinator listening on") {
				up <- struct{}{}
			}
		}
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			done <- nil
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	})
	select {
	case <-up:
	case err := <-done:
		done <- err
		b, _ := os.ReadFile(cp.log)
		t.Fatalf("coordinator %s exited: %v\n%s", id, err, b)
	case <-time.After(30 * time.Second):
		t.Fatalf("coordinator %s did not start", id)
	}
}

func (c *haCluster) kill(id string) {
	c.t.Helper()
	cp := c.coords[id]
	if err := cp.cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	err := <-cp.done
	cp.done <- err
}

// leader waits until a coordinator leads and answers, and returns its ID
// and the members it lists.
func (c *haCluster) leader(client *cluster.Client) (string, []*pb.Member) {
	c.t.Helper()
	var id string
	var ms []*pb.Member
	waitFor(c.t, 30*time.Second, "a coordinator leads", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := client.CC.ListMembers(ctx, &pb.ListMembersRequest{})
		if err != nil {
			return false
		}
		ms = resp.GetMembers()
		for _, m := range ms {
			if m.GetRole() == "leader" {
				id = m.GetId()
			}
		}
		return id != ""
	})
	return id, ms
}

// logLines returns the slog lines of coordinator id with message msg, as
// key=value maps.
func (c *haCluster) logLines(id, msg string) []map[string]string {
	b, _ := os.ReadFile(c.coords[id].log)
	var out []map[string]string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, `msg="`+msg+`"`) {
			continue
		}
		kv := map[string]string{}
		for _, f := range strings.Fields(l) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = strings.Trim(v, `"`)
			}
		}
		out = append(out, kv)
	}
	return out
}

func logTime(t *testing.T, kv map[string]string) time.Time {
	ts, err := time.Parse(time.RFC3339Nano, kv["time"])
	if err != nil {
		t.Fatalf("log line time %q: %v", kv["time"], err)
	}
	return ts
}

// startWorkers starts n worker processes of the coordinators at addrs,
// with extra flags (such as --tls-dir) after the common ones.
func startWorkers(t *testing.T, dir, addrs string, n int, extra ...string) []*proc {
	var ws []*proc
	for i := range n {
		args := append([]string{"worker", "--coordinator", addrs, "--listen", "127.0.0.1:0",
			"--data-dir", filepath.Join(dir, fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "64MB", "--compression", "lz4"}, extra...)
		ws = append(ws, start(t, "worker ", args...))
	}
	return ws
}

// genText writes mb megabytes of generated words (a Zipf-like mix over a
// fixed vocabulary, seeded) in 8 files.
func genText(t *testing.T, dir string, mb int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	vocab := make([]string, 50000)
	for i := range vocab {
		n := 2 + r.IntN(8)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		vocab[i] = string(b)
	}
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	in := filepath.Join(dir, "text")
	os.MkdirAll(in, 0o755)
	per := mb << 20 / 8
	for f := range 8 {
		var b bytes.Buffer
		for b.Len() < per {
			for w := range 12 {
				if w > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(vocab[zipf.Uint64()])
			}
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("part-%d.txt", f)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// submitted is a `superstep submit` running in the background.
type submitted struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

func submitBG(t *testing.T, args ...string) *submitted {
	s := &submitted{cmd: exec.Command(binary(t), args...), done: make(chan error, 1)}
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
	})
	return s
}

func (s *submitted) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(within):
		t.Fatalf("submit did not end within %v:\n%s", within, s.stderr.String())
		return nil
	}
}

// runningJob waits until exactly one job runs that is not in skip and
// returns its status.
func runningJob(t *testing.T, client *cluster.Client, skip map[string]bool) *pb.JobStatus {
	t.Helper()
	var job *pb.JobStatus
	waitFor(t, 60*time.Second, "the job runs", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := client.CC.ListJobs(ctx, &pb.ListJobsRequest{})
		if err != nil {
			return false
		}
		for _, j := range resp.GetJobs() {
			if !skip[j.GetJobId()] {
				job = j
				return true
			}
		}
		return false
	})
	return job
}

func jobStatus(t *testing.T, client *cluster.Client, id string) *pb.JobStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := client.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func attemptsAndTasks(st *pb.JobStatus) (attempts, tasks, done int) {
	for _, s := range st.GetStages() {
		attempts += int(s.GetAttempts())
		tasks += int(s.GetTasks())
		done += int(s.GetDone())
	}
	return
}

// TestLeaderLoss SIGKILLs the leading coordinator of three at a random
// moment of a running job, several times, and restarts it: every job
// completes, `submit` reports success, the output is byte-identical to the
// run without failures, no task is run twice (attempts == tasks: no
// committed task whose worker lived was rerun, and in-flight attempts were
// carried over), and a new leader assigns tasks soon after the kill. In
// the first run a watcher of the job's events on the killed leader resumes
// on the new one after the last event it got, and receives every event
// exactly once, in order.
func TestLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	runs := envInt("SUPERSTEP_HA_RUNS", 3)
	mb := envInt("SUPERSTEP_HA_MB", 24)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SUPERSTEP_HA_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (SUPERSTEP_HA_SEED), %d runs, %d MB", seed, runs, mb)
	rng := rand.New(rand.NewPCG(seed, 1))

	c := newHACluster(t, 3)
	for _, id := range c.ids {
		c.start(id)
	}
	client, err := cluster.Dial(context.Background(), c.addrs())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c.leader(client)
	startWorkers(t, c.dir, c.addrs(), 3)
	text := genText(t, c.dir, mb)
	edges := rmatFile(t, 11, 8)
	jobs := map[string][]string{
		"wordcount": {"--input", text, "--partitions", "6"},
		"pagerank":  {"--edges", edges, "--int-ids", "--tol", "1e-300", "--max-iter", "40", "--partitions", "6"},
	}

	// The runs without failures: their outputs are the truth, and their
	// durations bound the random kill moments.
	want := map[string][]byte{}
	took := map[string]time.Duration{}
	seen := map[string]bool{}
	for _, name := range []string{"wordcount", "pagerank"} {
		out := filepath.Join(c.dir, name+"-nofail")
		began := time.Now()
		runCLI(t, append([]string{"submit", name, "--coordinator", c.addrs(), "--progress", "none", "--out", out,
			"--checkpoint-dir", filepath.Join(c.dir, "ckpt")}, jobs[name]...)...)
		took[name] = time.Since(began)
		want[name] = concat(t, out)
		if len(want[name]) == 0 {
			t.Fatalf("%s wrote nothing", name)
		}
		resp, _ := client.CC.ListJobs(context.Background(), &pb.ListJobsRequest{})
		for _, j := range resp.GetJobs() {
			seen[j.GetJobId()] = true
		}
	}
	t.Logf("without failures: wordcount %v, pagerank %v", took["wordcount"], took["pagerank"])

	var failovers []time.Duration
	for run := range runs + 1 {
		name := "wordcount"
		if run == runs { // and one PageRank
			name = "pagerank"
		}
		out := filepath.Join(c.dir, fmt.Sprintf("%s-run%d", name, run))
		sub := submitBG(t, append([]string{"submit", name, "--coordinator", c.addrs(), "--progress", "none", "--out", out,
			"--checkpoint-dir", filepath.Join(c.dir, "ckpt")}, jobs[name]...)...)
		job := runningJob(t, client, seen)
		seen[job.GetJobId()] = true
		var watch *leaderWatch
		if run == 0 { // a watcher on the leader that the kill cuts off
			ldr, _ := c.leader(client)
			watch = watchOn(t, c.coords[ldr].grpc, job.GetJobId())
		}
		// The random moment of the kill, drawn from the seed: once a
		// number of the job's tasks are committed (anywhere before the
		// last superstep), then a moment more.
		_, total, _ := attemptsAndTasks(job)
		target := rng.IntN(max(total*3/4, 1))
		waitFor(t, 5*time.Minute, fmt.Sprintf("%d tasks are committed", target), func() bool {
			_, _, done := attemptsAndTasks(jobStatus(t, client, job.GetJobId()))
			return done >= target
		})
		old, _ := c.leader(client)
		before := jobStatus(t, client, job.GetJobId())
		_, _, doneBefore := attemptsAndTasks(before)
		killed := time.Now()
		c.kill(old)

		if err := sub.wait(t, 5*time.Minute); err != nil {
			t.Fatalf("run %d (%s): submit after the leader was killed: %v\n%s", run, name, err, sub.stderr.String())
		}
		if got := concat(t, out); !bytes.Equal(got, want[name]) {
			t.Fatalf("run %d (%s): output (%d bytes) differs from the run without failures (%d bytes)", run, name,
				len(got), len(want[name]))
		}
		now, _ := c.leader(client)
		if watch != nil {
			watch.resumeOn(t, c.coords[now].grpc, job.GetJobId())
		}
		after := jobStatus(t, client, job.GetJobId())
		attempts, tasks, _ := attemptsAndTasks(after)
		if after.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("run %d: job %s", run, after.GetState())
		}
		// The failover, from the new leader's log: the election, then the
		// moment it hands work to the workers (the first assignment, or
		// the running attempts re-sent to a worker that reconnected),
		// then its first new assignment (which waits for the running
		// tasks when the kill fell inside a superstep).
		since := func(msgs ...string) time.Duration {
			var first time.Duration
			for _, msg := range msgs {
				for _, kv := range c.logLines(now, msg) {
					if ts := logTime(t, kv); ts.After(killed) && (first == 0 || ts.Sub(killed) < first) {
						first = ts.Sub(killed)
					}
				}
			}
			return first
		}
		elected := since("leader elected")
		if elected == 0 {
			t.Fatalf("run %d: no leader-elected line on the new leader %s after the kill", run, now)
		}
		serving := since("task assigned", "assignments re-sent to a reconnected worker")
		failover := since("first assignment of term")
		t.Logf("run %d (%s): killed leader %s with %d/%d tasks committed; new leader %s "+
			"elected after %v, assigning (or re-sending) after %v, first new assignment after %v; attempts %d for %d tasks",
			run, name, old, doneBefore, tasks, now, elected.Round(time.Millisecond),
			serving.Round(time.Millisecond), failover.Round(time.Millisecond), attempts, tasks)
		// Tasks in flight at the kill may run again (their results died
		// with the leader); committed ones may not. The bound counts reruns
		// against the tasks not committed at the kill.
		if name == "wordcount" && attempts-tasks > tasks-doneBefore {
			t.Errorf("run %d: %d attempts for %d tasks: a task was run again", run, attempts, tasks)
			b, _ := os.ReadFile(c.coords[now].log)
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, job.GetJobId()) && !strings.Contains(l, "attempt=0") || strings.Contains(l, "level=WARN") {
					t.Logf("%s: %s", now, l)
				}
			}
		}
		if serving > 0 {
			failovers = append(failovers, serving)
		}
		c.start(old) // it rejoins with its data dir
	}
	if len(failovers) == 0 {
		t.Fatal("no run measured a failover (the new leader never handed out work)")
	}
	slices.Sort(failovers)
	t.Logf("kill to the new leader assigning (or re-sending) tasks over %d runs: median %v, max %v", len(failovers),
		failovers[len(failovers)/2].Round(time.Millisecond), failovers[len(failovers)-1].Round(time.Millisecond))
	_, ms := c.leader(client)
	b, _ := json.Marshal(ms)
	t.Logf("members at the end: %s", b)
}

// leaderWatch follows a job's events on one coordinator until that
// coordinator dies.
type leaderWatch struct {
	got  []*pb.JobEvent
	done chan error
}

// watchOn starts watching job id on the coordinator at addr.
func watchOn(t *testing.T, addr, id string) *leaderWatch {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	stream, err := pb.NewCoordinatorClient(conn).WatchJobEvents(context.Background(), &pb.WatchJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	w := &leaderWatch{done: make(chan error, 1)}
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				w.done <- err
				return
			}
			w.got = append(w.got, ev)
		}
	}()
	return w
}

// resumeOn waits for the first watch to end (its coordinator was killed),
// resumes it on the coordinator at addr after the last event it got, and
// checks that together they are the job's events exactly once and in
// order: the same keys and kinds as a replay from the start on addr.
func (w *leaderWatch) resumeOn(t *testing.T, addr, id string) {
	t.Helper()
	select {
	case err := <-w.done:
		t.Logf("the watch on the killed leader ended after %d events: %v", len(w.got), err)
	case <-time.After(time.Minute):
		t.Fatal("the watch on the killed leader did not end")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cc := pb.NewCoordinatorClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	read := func(req *pb.WatchJobRequest) []*pb.JobEvent {
		stream, err := cc.WatchJobEvents(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []*pb.JobEvent
		for {
			ev, err := stream.Recv()
			if err != nil {
				return out
			}
			out = append(out, ev)
		}
	}
	req := &pb.WatchJobRequest{JobId: id}
	if n := len(w.got); n > 0 {
		req.AfterRaftIndex, req.AfterIndexSeq = w.got[n-1].GetRaftIndex(), w.got[n-1].GetIndexSeq()
	}
	got := append(w.got, read(req)...)
	all := read(&pb.WatchJobRequest{JobId: id})
	if len(w.got) == 0 || len(got) == len(w.got) {
		t.Fatalf("the watch got %d events before the kill and %d after: the test needs both", len(w.got), len(got)-len(w.got))
	}
	if all[0].GetKind() == pb.JobEventKind_JOB_EVENT_KIND_SNAPSHOT {
		t.Fatalf("the new leader's replay starts with a snapshot; it cannot check exactly-once")
	}
	if len(got) != len(all) {
		t.Fatalf("across the leader change the watcher got %d events, a replay on the new leader has %d", len(got), len(all))
	}
	for i := range got {
		if eventKey(got[i]) != eventKey(all[i]) || got[i].GetKind() != all[i].GetKind() {
			t.Fatalf("event %d: %s %s, the replay has %s %s", i, eventKey(got[i]), got[i].GetKind(), eventKey(all[i]), all[i].GetKind())
		}
		if i > 0 && !(got[i-1].GetRaftIndex() < got[i].GetRaftIndex() ||
			got[i-1].GetRaftIndex() == got[i].GetRaftIndex() && got[i-1].GetIndexSeq() < got[i].GetIndexSeq()) {
			t.Fatalf("event %d (%s) is not after %s", i, eventKey(got[i]), eventKey(got[i-1]))
		}
	}
	if st := got[len(got)-1].GetStatus(); st.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("the resumed watch ended with %v", st.GetState())
	}
	t.Logf("watch resumed across the leader change: %d events before the kill, %d after, each once, in order", len(w.got), len(got)-len(w.got))
}

// TestDeposedLeader freezes the leading coordinator (SIGSTOP) for 10 s in
// the middle of a job and wakes it (SIGCONT): the others elect a new
// leader that finishes the job; the old one steps down and, from the
// moment it was frozen, assigns nothing and commits nothing (its log has
// no such line), and the output equals the run without failures.
func TestDeposedLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	c := newHACluster(t, 3)
	for _, id := range c.ids {
		c.start(id)
	}
	client, err := cluster.Dial(context.Background(), c.addrs())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c.leader(client)
	startWorkers(t, c.dir, c.addrs(), 3)
	text := genText(t, c.dir, 24)
	flags := []string{"--input", text, "--partitions", "6", "--progress", "none"}
	want := filepath.Join(c.dir, "nofail")
	runCLI(t, append([]string{"submit", "wordcount", "--coordinator", c.addrs(), "--out", want}, flags...)...)
	seen := map[string]bool{}
	resp, _ := client.CC.ListJobs(context.Background(), &pb.ListJobsRequest{})
	for _, j := range resp.GetJobs() {
		seen[j.GetJobId()] = true
	}

	got := filepath.Join(c.dir, "deposed")
	sub := submitBG(t, append([]string{"submit", "wordcount", "--coordinator", c.addrs(), "--out", got}, flags...)...)
	job := runningJob(t, client, seen)
	old, _ := c.leader(client)
	// Once the leader has assigned some of this job's tasks.
	waitFor(t, 60*time.Second, "the leader assigns the job's tasks", func() bool {
		for _, kv := range c.logLines(old, "task assigned") {
			if kv["job"] == job.GetJobId() {
				return true
			}
		}
		return false
	})
	proc := c.coords[old].cmd.Process
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	var now string
	waitFor(t, 30*time.Second, "the others elect a new leader", func() bool {
		now, _ = c.leader(client)
		return now != old
	})
	// The freeze lasts 10 s, the fault under test.
	time.Sleep(time.Until(frozen.Add(10 * time.Second)))
	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	woken := time.Now()
	waitFor(t, 30*time.Second, "the woken leader steps down", func() bool {
		for _, kv := range c.logLines(old, "leadership lost") {
			if logTime(t, kv).After(frozen) {
				return true
			}
		}
		return false
	})
	if err := sub.wait(t, 5*time.Minute); err != nil {
		t.Fatalf("submit: %v\n%s", err, sub.stderr.String())
	}
	if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) {
		t.Fatalf("output (%d bytes) differs from the run without failures (%d bytes)", len(a), len(b))
	}
	// The old leader's own account: nothing assigned or committed after it
	// was frozen (a frozen process writes nothing, so any such line would
	// be stamped after it woke).
	for _, msg := range []string{"task assigned", "committing job output", "first assignment of term"} {
		for _, kv := range c.logLines(old, msg) {
			if logTime(t, kv).After(frozen) {
				t.Errorf("the deposed leader %s logged %q at %s, after it was frozen at %s (woken %s)", old, msg,
					kv["time"], frozen.Format(time.RFC3339Nano), woken.Format(time.RFC3339Nano))
			}
		}
	}
	var assignedNew int
	for _, kv := range c.logLines(now, "task assigned") {
		if kv["job"] == job.GetJobId() {
			assignedNew++
		}
	}
	if assignedNew == 0 {
		t.Fatalf("the new leader %s assigned none of the job's tasks", now)
	}
	st := jobStatus(t, client, job.GetJobId())
	attempts, tasks, _ := attemptsAndTasks(st)
	t.Logf("old leader %s frozen %v; new leader %s assigned %d tasks; attempts %d for %d tasks", old,
		woken.Sub(frozen).Round(time.Millisecond), now, assignedNew, attempts, tasks)
}

// TestSubmitRidesOutRestart kills a single coordinator (with --data-dir)
// in the middle of a job and restarts it on the same address: `submit`
// keeps waiting and reports the job's success, and the output equals the
// run without failures.
func TestSubmitRidesOutRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	dir := t.TempDir()
	ports := loopbackPorts(t, 2)
	data := filepath.Join(dir, "coord")
	args := []string{"coordinator", "--listen", ports[0], "--raft-bind", ports[1], "--data-dir", data}
	coord := start(t, "coordinator listening on", args...)
	startWorkers(t, dir, ports[0], 3)
	text := genText(t, dir, 24)
	flags := []string{"--input", text, "--partitions", "6", "--progress", "none"}
	want := filepath.Join(dir, "nofail")
	runCLI(t, append([]string{"submit", "wordcount", "--coordinator", ports[0], "--out", want}, flags...)...)
	client, err := cluster.Dial(context.Background(), ports[0])
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	seen := map[string]bool{}
	resp, _ := client.CC.ListJobs(context.Background(), &pb.ListJobsRequest{})
	for _, j := range resp.GetJobs() {
		seen[j.GetJobId()] = true
	}

	got := filepath.Join(dir, "restarted")
	sub := submitBG(t, append([]string{"submit", "wordcount", "--coordinator", ports[0], "--out", got}, flags...)...)
	job := runningJob(t, client, seen)
	waitFor(t, 60*time.Second, "a task of the job is committed", func() bool {
		_, _, done := attemptsAndTasks(jobStatus(t, client, job.GetJobId()))
		return done > 0
	})
	if err := coord.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	coord.done <- <-coord.done
	select {
	case err := <-sub.done:
		t.Fatalf("submit ended while the coordinator was down: %v\n%s", err, sub.stderr.String())
	default:
	}
	start(t, "coordinator listening on", args...)
	if err := sub.wait(t, 5*time.Minute); err != nil {
		t.Fatalf("submit across the restart: %v\n%s", err, sub.stderr.String())
	}
	if !strings.Contains(sub.stderr.String(), "succeeded") {
		t.Fatalf("submit did not report success:\n%s", sub.stderr.String())
	}
	if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) {
		t.Fatalf("output (%d bytes) differs from the run without failures (%d bytes)", len(a), len(b))
	}
}

// dirDigest hashes every file under dir, to show that a refused start
// changed nothing.
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s %d %x\n", p, len(data), data)
		}
		return nil
	})
	return b.String()
}

// refused runs a coordinator that must refuse to start: it exits non-zero
// within the deadline with want in its error.
func refused(t *testing.T, want string, args ...string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), want) {
			t.Fatalf("coordinator %v: %v; stderr:\n%s\nwant an error with %q", args, err, stderr.String(), want)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("coordinator %v did not refuse to start", args)
	}
}

// TestBadPeerConfig: peers lists that disagree, a node ID not in --peers,
// a data dir of another cluster or node, and duplicate IDs or addresses
// each refuse to start with a clear error and leave data dirs unchanged.
func TestBadPeerConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	c := newHACluster(t, 3)
	c.start("c1")
	c.start("c2")
	client, err := cluster.Dial(context.Background(), c.coords["c1"].grpc+","+c.coords["c2"].grpc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c.leader(client)
	c3 := c.coords["c3"]
	base := []string{"coordinator", "--listen", c3.grpc, "--raft-bind", c3.raft}

	// A list that names a fourth node: c1 and c2 answer the handshake
	// with another cluster ID.
	extra := loopbackPorts(t, 1)[0]
	refused(t, "peers lists disagree", append(base, "--id", "c3", "--data-dir", c3.dataDir,
		"--peers", c.peers+",c4="+extra)...)
	// The running two are undisturbed.
	c.leader(client)

	// Not in the list; same ID twice; same address twice.
	refused(t, `node ID "c9" is not in --peers`, append(base, "--id", "c9", "--data-dir", t.TempDir(), "--peers", c.peers)...)
	refused(t, `node ID "c1" appears twice`, append(base, "--id", "c1", "--data-dir", t.TempDir(),
		"--peers", c.peers+",c1="+extra)...)
	refused(t, "have the same address", append(base, "--id", "c3", "--data-dir", t.TempDir(),
		"--peers", c.peers+",c4="+c3.raft)...)

	// c1's data dir, given to a node of another cluster, or to c2, or to a
	// coordinator without --peers: refused, and nothing in it changes.
	c.kill("c1")
	before := dirDigest(t, c.coords["c1"].dataDir)
	other := newHACluster(t, 3)
	o1 := other.coords["c1"]
	refused(t, "belongs to node c1 of cluster", "coordinator", "--listen", o1.grpc, "--raft-bind", o1.raft, "--id", "c1",
		"--data-dir", c.coords["c1"].dataDir, "--peers", other.peers)
	refused(t, "belongs to node c1", "coordinator", "--listen", "127.0.0.1:0", "--raft-bind", c.coords["c2"].raft,
		"--id", "c2", "--data-dir", c.coords["c1"].dataDir, "--peers", c.peers)
	refused(t, "belongs to node c1", "coordinator", "--listen", c3.grpc, "--data-dir", c.coords["c1"].dataDir)
	if after := dirDigest(t, c.coords["c1"].dataDir); after != before {
		t.Fatal("a refused start changed the data dir")
	}
	// With the right flags it rejoins.
	c.start("c1")
	c.leader(client)
}
