package worker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/superstep/superstep/internal/security"
)

// TestPlainHTTPBeyondLoopbackRefused: without TLS a worker refuses a
// non-loopback --http (its /metrics) at once, before it listens or calls
// the coordinator, as it refuses a non-loopback shuffle listener.
func TestPlainHTTPBeyondLoopbackRefused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Coordinator, cfg.DataDir, cfg.HTTP = "127.0.0.1:1", t.TempDir(), "0.0.0.0:0"
	w, err := Start(context.Background(), cfg)
	if !errors.Is(err, security.ErrInsecureListen) || !strings.Contains(err.Error(), "--http") {
		if w != nil {
			w.Stop(context.Background())
		}
		t.Fatalf("Start: %v, want ErrInsecureListen naming --http", err)
	}
}
