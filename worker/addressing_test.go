package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator/server"
	"github.com/superstep/superstep/internal/testwait"
)

func TestWildcardListenNeedsAdvertise(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:7071", ":7071", "[::]:0", "0.0.0.0:0"} {
		cfg := DefaultConfig()
		cfg.Coordinator, cfg.DataDir, cfg.Listen = "127.0.0.1:1", t.TempDir(), listen
		if err := cfg.Validate(); !errors.Is(err, ErrWildcardAdvertise) {
			t.Errorf("listen %s without --advertise: %v", listen, err)
		}
		if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrWildcardAdvertise) {
			t.Errorf("Start with listen %s without --advertise: %v", listen, err)
		}
		cfg.Advertise = "192.0.2.3:7071"
		if err := cfg.Validate(); err != nil {
			t.Errorf("listen %s with --advertise: %v", listen, err)
		}
	}
}

func TestAdvertised(t *testing.T) {
	lis := &net.TCPAddr{IP: net.IPv4zero, Port: 7071}
	for _, c := range []struct{ adv, want string }{
		{"", "0.0.0.0:7071"},
		{"worker-1", "worker-1:7071"},
		{"192.0.2.5", "192.0.2.5:7071"},
		{"192.0.2.5:0", "192.0.2.5:7071"},
		{"192.0.2.5:9000", "192.0.2.5:9000"},
		{"fd00::5", "[fd00::5]:7071"},
		{"[fd00::5]", "[fd00::5]:7071"},
		{"[fd00::5]:9000", "[fd00::5]:9000"},
	} {
		got, err := advertised(c.adv, lis)
		if err != nil || got != c.want {
			t.Errorf("advertised(%q) = %q, %v; want %q", c.adv, got, err, c.want)
		}
	}
	for _, bad := range []string{"0.0.0.0:7071", "[::]:7071", ":7071", "a:b:c"} {
		if got, err := advertised(bad, lis); err == nil {
			t.Errorf("advertised(%q) = %q, want an error", bad, got)
		}
	}
}

// A worker whose coordinator forgot it (here: the coordinator restarted
// with its state in memory) stops itself, says why, and its health service
// stops serving.
func TestWorkerStopsItselfWhenForgotten(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sc := server.DefaultConfig()
	sc.Log = log
	coord, err := server.Start(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	addr := coord.Addr()
	w := startWorker(t, addr)
	if st := healthOf(t, w.Addr()); st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("registered worker's health: %s", st)
	}
	if err := coord.Close(); err != nil {
		t.Fatal(err)
	}
	sc.Listen = addr
	coord2, err := server.Start(ctx, sc)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	t.Cleanup(func() { coord2.Close() })
	select {
	case <-w.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the forgotten worker did not stop itself")
	}
	if !errors.Is(w.Err(), ErrDeregistered) {
		t.Fatalf("Err() = %v, want ErrDeregistered", w.Err())
	}
}

func healthOf(t *testing.T, addr string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetStatus()
}

// TestHeartbeatReportsHostLoad: a worker's heartbeats carry the host's load
// average per CPU (read from a loadavg file the test writes), and the
// coordinator's worker list shows it; an unreadable figure shows as 0.
func TestHeartbeatReportsHostLoad(t *testing.T) {
	ctx := context.Background()
	avg := filepath.Join(t.TempDir(), "loadavg")
	if err := os.WriteFile(avg, []byte("3.00 2.50 2.00 2/345 6789\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := loadavgPath
	loadavgPath = avg
	t.Cleanup(func() { loadavgPath = old })
	coord := startCoordinator(t)
	startWorker(t, coord.Addr())
	load := func() float64 {
		resp, err := coord.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil || len(resp.GetWorkers()) != 1 {
			t.Fatalf("workers: %v, %v", resp.GetWorkers(), err)
		}
		return resp.GetWorkers()[0].GetLoad()
	}
	want := 3.0 / float64(runtime.NumCPU())
	testwait.For(t, 20*time.Second, fmt.Sprintf("the worker list shows load %.3f", want), func() bool { return load() == want })
	if err := os.WriteFile(avg, []byte("not a number\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 20*time.Second, "an unreadable load shows as 0", func() bool { return load() == 0 })
}
