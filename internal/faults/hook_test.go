//go:build faults

package faults

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// go test -tags faults ./internal/faults
func TestBeforeTaskReadsFileAndHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules")
	t.Setenv(EnvFile, path)
	task := Task{Worker: "w", Job: "j", Stage: 1, Task: 2}
	if err := BeforeTask(context.Background(), task); err != nil {
		t.Fatalf("no rules file: %v", err)
	}
	if err := os.WriteFile(path, []byte("slow stage=1 task=2 delay=1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := BeforeTask(ctx, task); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a 1 h delay under a 50 ms context returned %v", err)
	}
	if err := os.WriteFile(path, []byte("slow stage=banana delay=1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := BeforeTask(context.Background(), task); !errors.Is(err, ErrBadRule) {
		t.Fatalf("a bad rules file returned %v, want ErrBadRule", err)
	}
}
