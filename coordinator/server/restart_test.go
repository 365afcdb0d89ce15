package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/internal/testwait"
)

// TestRestartDeclaresSilentWorkerDead: a worker registered before a
// coordinator restart that never reaches the restarted coordinator (it died
// while the coordinator was down) is declared dead after the worker
// timeout. Before the fix the restarted coordinator never tracked it, so it
// stayed alive with its running attempts forever (found by bench/chaos: a
// PageRank job hung after a worker and the coordinator were both killed).
func TestRestartDeclaresSilentWorkerDead(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Log = dir, slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.WorkerTimeout = 500 * time.Millisecond
	ctx := context.Background()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.NewCoordinatorClient(conn).RegisterWorker(ctx, &pb.RegisterWorkerRequest{WorkerId: "w-1",
		Address: "127.0.0.1:1", Fingerprint: "fp", Slots: 1}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	s = restart(t, s, cfg)
	conn, err = grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cc := pb.NewCoordinatorClient(conn)
	sawAlive := false
	var last []*pb.WorkerStatus
	if !testwait.Until(20*time.Second, func() bool {
		resp, err := cc.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		last = resp.GetWorkers()
		if len(last) == 1 {
			if !last[0].GetAlive() {
				return true
			}
			sawAlive = true
		}
		return false
	}) {
		t.Fatalf("the restarted coordinator still lists worker w-1 (never heard from since) as alive after 20 s: %v", last)
	}
	if !sawAlive {
		t.Log("the worker was already dead at the first look (the restart took longer than the timeout)")
	}
}

// restart closes s and starts a coordinator with cfg in its place (its
// state from cfg.DataDir), closed when the test ends.
func restart(t *testing.T, s *Server, cfg Config) *Server {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
