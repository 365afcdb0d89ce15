package cluster_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/internal/testwait"
)

// TestJobOwnerSurvivesFailover runs three coordinators (one raft group)
// and a worker as processes with TLS and tokens, and two principals with
// submit tokens, alice and bob. Alice submits a PageRank that runs until
// it is cancelled; the leading coordinator is SIGKILLed while it runs.
// Through the new leader (another node; the old process exited on
// SIGKILL) alice's token sees the job's status, status stream and events,
// lists it and cancels it; bob's token gets NotFound for each of those
// (the coordinator answers another principal's job as one that does not
// exist) and lists no job, and the job keeps running after his cancel;
// the admin token sees it. After every coordinator is SIGKILLed and
// restarted, the same holds of the cancelled job.
func TestJobOwnerSurvivesFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	c := newHACluster(t, 3)
	certs := filepath.Join(c.dir, "tls")
	tokens := principals(t, certs, "alice", "bob")
	aliceFile := filepath.Join(c.dir, "alice.token") // for superstep submit
	if err := os.WriteFile(aliceFile, []byte(tokens["alice"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// dial connects with name's token to the coordinators at addrs.
	dial := func(name, addrs string) *cluster.Client { return dialAs(t, addrs, certs, tokens[name]) }

	for _, id := range c.ids {
		c.start(id, "--tls-dir", certs)
	}
	admin := dial("admin", c.addrs())
	old, _ := c.leader(admin)
	startWorkers(t, c.dir, c.addrs(), 1, "--tls-dir", certs)

	// Alice's job: PageRank that never converges (tol 1e-300) within a
	// bound it never reaches, so it runs until it is cancelled.
	submit := exec.Command(binary(t), "submit", "pagerank", "--coordinator", c.addrs(), "--tls-dir", certs,
		"--token-file", aliceFile, "--edges", rmatFile(t, 8, 4), "--int-ids", "--tol", "1e-300",
		"--max-iter", "1000000", "--partitions", "2", "--checkpoint-dir", filepath.Join(c.dir, "ckpt"),
		"--out", filepath.Join(c.dir, "out"), "--detach")
	var stderr strings.Builder
	submit.Stderr = &stderr
	idb, err := submit.Output()
	if err != nil {
		t.Fatalf("alice submits: %v\n%s", err, stderr.String())
	}
	job := strings.TrimSpace(string(idb))
	ctx := context.Background()
	alice := dial("alice", c.addrs())
	testwait.For(t, 60*time.Second, "alice's job has committed tasks on the first leader", func() bool {
		st, err := alice.CC.GetJob(ctx, &pb.GetJobRequest{JobId: job})
		if err != nil || st.GetState() != pb.JobState_JOB_STATE_RUNNING {
			return false
		}
		_, _, done := attemptsAndTasks(st)
		return done > 0
	})
	if now, _ := c.leader(admin); now != old {
		t.Fatalf("the leader changed from %s to %s before the kill", old, now)
	}

	// The fault: SIGKILL the leader, and wait until another one leads.
	c.kill(old)
	if ws, ok := c.coords[old].cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the old leader %s ended with %v, not by SIGKILL", old, c.coords[old].cmd.ProcessState)
	}
	var now string
	testwait.For(t, 30*time.Second, "another coordinator leads", func() bool {
		now, _ = c.leader(admin)
		return now != old
	})
	t.Logf("leader %s SIGKILLed (%v); %s leads", old, c.coords[old].cmd.ProcessState, now)

	// Through the new leader alone.
	at := c.coords[now].grpc
	checkOwnership(t, job, dial("alice", at), dial("bob", at), dial("admin", at), false)

	// Bob's cancel changed nothing; alice's cancels it.
	a := dial("alice", at)
	if st := jobStatus(t, a, job); st.GetState() != pb.JobState_JOB_STATE_RUNNING {
		t.Fatalf("after bob's cancel the job is %v, want running", st.GetState())
	}
	resp, err := a.CC.CancelJob(ctx, &pb.CancelJobRequest{JobId: job, Reason: "alice cancels"})
	if err != nil || resp.GetAlreadyFinal() {
		t.Fatalf("alice cancels her job through the new leader: %v (already final %v)", err, resp.GetAlreadyFinal())
	}
	testwait.For(t, 30*time.Second, "alice's job is cancelled", func() bool {
		return jobStatus(t, a, job).GetState() == pb.JobState_JOB_STATE_CANCELLED
	})

	// Every coordinator SIGKILLed and restarted from its data dir.
	for _, id := range c.ids {
		if id != old {
			c.kill(id)
		}
	}
	for _, id := range c.ids {
		c.start(id, "--tls-dir", certs)
	}
	after, _ := c.leader(dial("admin", c.addrs()))
	t.Logf("after restarting all coordinators %s leads", after)
	checkOwnership(t, job, dial("alice", c.addrs()), dial("bob", c.addrs()), dial("admin", c.addrs()), true)
	if st := jobStatus(t, dial("alice", c.addrs()), job); st.GetState() != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("after the restart alice's job is %v, want cancelled", st.GetState())
	}
}

// checkOwnership checks that the owner's and the admin's tokens reach job
// (its status, status stream, events and the jobs list) and that the other
// principal's token gets NotFound for each, a cancel included, and lists
// no job. ended says whether the job has ended (its streams end too).
func checkOwnership(t *testing.T, job string, owner, other, admin *cluster.Client, ended bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		cl   *cluster.Client
	}{{"owner", owner}, {"admin", admin}} {
		st, err := c.cl.CC.GetJob(ctx, &pb.GetJobRequest{JobId: job})
		if err != nil || st.GetJobId() != job {
			t.Fatalf("%s reads the job: %v", c.name, err)
		}
		l, err := c.cl.CC.ListJobs(ctx, &pb.ListJobsRequest{})
		if err != nil || !slices.ContainsFunc(l.GetJobs(), func(j *pb.JobStatus) bool { return j.GetJobId() == job }) {
			t.Fatalf("%s lists %v (%v), without the job", c.name, l.GetJobs(), err)
		}
		ws, err := c.cl.CC.WatchJob(ctx, &pb.GetJobRequest{JobId: job})
		if err == nil {
			st, err = ws.Recv()
		}
		if err != nil || st.GetJobId() != job {
			t.Fatalf("%s watches the job: %v", c.name, err)
		}
		es, err := c.cl.CC.WatchJobEvents(ctx, &pb.WatchJobRequest{JobId: job})
		var evs []*pb.JobEvent
		for err == nil && (ended || len(evs) == 0) {
			var ev *pb.JobEvent
			if ev, err = es.Recv(); err == nil {
				evs = append(evs, ev)
			}
		}
		if ended && err == io.EOF { // the stream of an ended job ends after its last event
			err = nil
		}
		if len(evs) == 0 || err != nil {
			t.Fatalf("%s watches the job's events: %d events, %v", c.name, len(evs), err)
		}
		if ended {
			if last := evs[len(evs)-1].GetStatus(); last.GetJobId() != job || last.GetState() != pb.JobState_JOB_STATE_CANCELLED {
				t.Fatalf("%s: the job's events end with %v of %q, want cancelled", c.name, last.GetState(), last.GetJobId())
			}
		}
	}

	// The other principal: NotFound, as for a job that does not exist.
	notFound := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.NotFound {
			t.Errorf("the other principal %s: %v, want NotFound", what, err)
		}
	}
	_, err := other.CC.GetJob(ctx, &pb.GetJobRequest{JobId: job})
	notFound("reads the job", err)
	ws, err := other.CC.WatchJob(ctx, &pb.GetJobRequest{JobId: job})
	if err == nil {
		_, err = ws.Recv()
	}
	notFound("watches the job", err)
	es, err := other.CC.WatchJobEvents(ctx, &pb.WatchJobRequest{JobId: job})
	if err == nil {
		_, err = es.Recv()
	}
	notFound("watches the job's events", err)
	_, err = other.CC.CancelJob(ctx, &pb.CancelJobRequest{JobId: job, Reason: "not mine"})
	notFound("cancels the job", err)
	if l, err := other.CC.ListJobs(ctx, &pb.ListJobsRequest{}); err != nil || len(l.GetJobs()) != 0 {
		t.Errorf("the other principal lists %v (%v), want no job", l.GetJobs(), err)
	}
}
