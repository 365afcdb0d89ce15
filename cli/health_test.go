package cli_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/superstep/superstep/coordinator/server"
)

func TestHealth(t *testing.T) {
	sc := server.DefaultConfig()
	sc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	coord, err := server.Start(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	out, _, err := run(t, "health", "--addr", coord.Addr())
	if err != nil || !strings.Contains(out, "SERVING") {
		t.Fatalf("health of a running coordinator: %q, %v", out, err)
	}
	// A port nobody listens on: a clear failure within the timeout.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()
	if out, _, err := run(t, "health", "--addr", dead, "--timeout", "300ms"); err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("health of %s: %q, %v", dead, out, err)
	}
	if _, _, err := run(t, "health"); err == nil {
		t.Fatal("health without --addr succeeded")
	}
}

func TestWorkerWildcardListenRefuses(t *testing.T) {
	_, _, err := run(t, "worker", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir(), "--coordinator", "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "--advertise") {
		t.Fatalf("worker on a wildcard address without --advertise: %v", err)
	}
}
