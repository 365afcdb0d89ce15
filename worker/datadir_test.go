package worker

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestClaimDataDir checks the data dir's life: a new directory is marked,
// a second claim while the first holds it is refused, a later process
// clears what the earlier one left (and only inside the directory), and a
// directory with files no worker made is refused untouched.
func TestClaimDataDir(t *testing.T) {
	root := t.TempDir()
	sentinel := filepath.Join(root, "sentinel")
	if err := os.WriteFile(sentinel, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "data")
	release, n, err := claimDataDir(dir)
	if err != nil || n != 0 {
		t.Fatalf("first claim: %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, dataDirMarker)); err != nil {
		t.Fatalf("no marker: %v", err)
	}
	if _, _, err := claimDataDir(dir); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second claim while held: %v", err)
	}
	// What the first process leaves: a job directory and a merge's run.
	if err := os.MkdirAll(filepath.Join(dir, "job-1", "pregel-0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merge-123.run"), []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	release()
	release, n, err = claimDataDir(dir)
	if err != nil || n != 2 {
		t.Fatalf("claim after the first released: removed %d, %v", n, err)
	}
	release()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != dataDirMarker && e.Name() != dataDirLock {
			t.Errorf("left in the data dir: %s", e.Name())
		}
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("the sentinel beside the data dir: %v", err)
	}
	// A directory of someone else's files is refused, and kept.
	foreign := filepath.Join(root, "home")
	if err := os.MkdirAll(filepath.Join(foreign, "photos"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := claimDataDir(foreign); !errors.Is(err, ErrDataDirForeign) {
		t.Fatalf("foreign dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "photos")); err != nil {
		t.Fatalf("foreign dir touched: %v", err)
	}
}
