package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/internal/security"
)

func startTest(t *testing.T, cfg Config) pb.CoordinatorClient {
	t.Helper()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewCoordinatorClient(conn)
}

// sourceSpec is a one-stage plan reading path and writing a sink at out.
func sourceSpec(t *testing.T, jobID, path, out string) []byte {
	t.Helper()
	type m = map[string]any
	b, err := json.Marshal(m{"version": 1, "job_id": jobID, "job": "wordcount", "partitions": 1,
		"stages": []m{{"id": 0, "tasks": 1, "input": m{"kind": "source", "node": 0, "splits": []m{{"files": []m{{"path": path, "start": 0, "end": 10}}}}},
			"output": m{"kind": "sink", "node": 1}}},
		"sinks": []m{{"node": 1, "dir": out, "ext": "tsv", "stage": 0}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSubmitChecksAllowPaths: a coordinator that knows the roots refuses,
// at submit, a job reading /etc/passwd or writing outside them, naming the
// path; no job is created.
func TestSubmitChecksAllowPaths(t *testing.T) {
	root := t.TempDir()
	cfg := DefaultConfig()
	cfg.AllowPaths = []string{root}
	cc := startTest(t, cfg)
	ctx := context.Background()
	for _, c := range []struct{ in, out, want string }{
		{"/etc/passwd", root + "/out", "/etc/passwd"},
		{root + "/in.txt", "/tmp/elsewhere-out", "/tmp/elsewhere-out"},
	} {
		_, err := cc.SubmitJob(ctx, &pb.SubmitJobRequest{JobId: "j1", Name: "wordcount", Fingerprint: "fp",
			Spec: sourceSpec(t, "j1", c.in, c.out)})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), c.want) {
			t.Fatalf("submit reading %s writing %s: %v; want PermissionDenied naming %s", c.in, c.out, err, c.want)
		}
	}
	resp, err := cc.ListJobs(ctx, &pb.ListJobsRequest{})
	if err != nil || len(resp.GetJobs()) != 0 {
		t.Fatalf("refused submits created jobs: %v %v", resp.GetJobs(), err)
	}
	// Inside the root the job is accepted, and an ID the client leaves out
	// is made by the coordinator and written into the spec.
	r, err := cc.SubmitJob(ctx, &pb.SubmitJobRequest{Name: "wordcount", Fingerprint: "fp",
		Spec: sourceSpec(t, "", root+"/in.txt", root+"/out")})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetJobId() == "" {
		t.Fatal("the coordinator made no job id")
	}
	if _, err := cc.GetJob(ctx, &pb.GetJobRequest{JobId: r.GetJobId()}); err != nil {
		t.Fatalf("the made id %q names no job: %v", r.GetJobId(), err)
	}
}

// TestNonLoopbackNeedsTLS: without TLS a coordinator asked to listen on
// every interface refuses to start, binding nothing, and names certs init.
func TestNonLoopbackNeedsTLS(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		cfg := DefaultConfig()
		cfg.Listen = addr
		s, err := Start(context.Background(), cfg)
		if !errors.Is(err, security.ErrInsecureListen) || !strings.Contains(err.Error(), "superstep certs init") {
			if s != nil {
				s.Close()
			}
			t.Fatalf("listen %s without TLS: %v", addr, err)
		}
	}
	if !security.IsLoopback("127.0.0.1:7070") || !security.IsLoopback("[::1]:1") || !security.IsLoopback("localhost:1") ||
		security.IsLoopback("192.0.2.1:1") || security.IsLoopback(":1") {
		t.Fatal("IsLoopback")
	}
}

// TestLimits: a submit past the job cap or the client's rate, and a worker
// past the worker cap, are refused with ResourceExhausted.
func TestLimits(t *testing.T) {
	root := t.TempDir()
	cfg := DefaultConfig()
	cfg.Limits = Limits{MaxJobs: 2, MaxWorkers: 1, SubmitRate: 0.001, SubmitBurst: 3}
	cc := startTest(t, cfg)
	ctx := context.Background()
	submit := func(id string) error {
		_, err := cc.SubmitJob(ctx, &pb.SubmitJobRequest{JobId: id, Name: "wordcount", Fingerprint: "fp",
			Spec: sourceSpec(t, id, root+"/in.txt", root+"/out-"+id)})
		return err
	}
	// No worker can run these jobs, so they fail at once and do not count;
	// register one so that they stay queued.
	if _, err := cc.RegisterWorker(ctx, &pb.RegisterWorkerRequest{WorkerId: "w1", Address: "127.0.0.1:1", Fingerprint: "fp", Slots: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.RegisterWorker(ctx, &pb.RegisterWorkerRequest{WorkerId: "w2", Address: "127.0.0.1:2", Fingerprint: "fp", Slots: 1}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a second worker past MaxWorkers 1: %v", err)
	}
	if _, err := cc.RegisterWorker(ctx, &pb.RegisterWorkerRequest{WorkerId: "w1", Address: "127.0.0.1:1", Fingerprint: "fp", Slots: 1}); err != nil {
		t.Fatalf("re-registering the same worker: %v", err)
	}
	for _, id := range []string{"j1", "j2"} {
		if err := submit(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := submit("j3"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a third job past MaxJobs 2: %v", err)
	}
	// The burst of 3 is spent (j1, j2, j3): even a resubmit of j1 is refused.
	if err := submit("j1"); status.Code(err) != codes.ResourceExhausted { // j1 exists: only the rate can refuse it
		t.Fatalf("a fourth submit past the burst: %v", err)
	}
}

// TestWorkerCertBindingSurvivesRestart: a worker ID registered with one
// worker certificate stays bound to it after the coordinator restarts
// (the binding is in the replicated state, not in the leader's memory):
// another worker certificate can neither register nor heartbeat as that
// ID, while the bound one still can.
func TestWorkerCertBindingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	if err := security.Init(dir, security.CertOptions{}); err != nil {
		t.Fatal(err)
	}
	workerTLS := func(name string) *security.TLS {
		out := t.TempDir()
		if err := security.IssueTo(dir, out, security.RoleWorker, name, security.CertOptions{}); err != nil {
			t.Fatal(err)
		}
		w, err := security.LoadTLSNamed(out, security.RoleWorker, name)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	alice, mallory := workerTLS("worker-a"), workerTLS("worker-m")
	co, err := security.LoadTLS(dir, security.RoleCoordinator)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.TLS, cfg.DataDir = co, t.TempDir()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	as := func(s *Server, w *security.TLS) pb.CoordinatorClient {
		conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(w.ClientCreds(security.RoleCoordinator)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return pb.NewCoordinatorClient(conn)
	}
	reg := &pb.RegisterWorkerRequest{WorkerId: "w-1", Address: "127.0.0.1:1", Fingerprint: "fp", Slots: 1}
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as(s, alice).RegisterWorker(ctx, reg); err != nil {
		t.Fatal(err)
	}
	// A fresh process: nothing of the first one's memory is left.
	s = restart(t, s, cfg)
	m := as(s, mallory)
	if _, err := m.Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: "w-1"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another worker certificate heartbeats as w-1 after a restart: %v", err)
	}
	evil := &pb.RegisterWorkerRequest{WorkerId: "w-1", Address: "127.0.0.1:2", Fingerprint: "fp", Slots: 1}
	if _, err := m.RegisterWorker(ctx, evil); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another worker certificate registers as w-1 after a restart: %v", err)
	}
	if _, err := as(s, alice).RegisterWorker(ctx, reg); err != nil {
		t.Fatalf("the bound certificate registers w-1 again: %v", err)
	}
	if _, err := as(s, alice).Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: "w-1"}); err != nil {
		t.Fatalf("the bound certificate heartbeats: %v", err)
	}
}
