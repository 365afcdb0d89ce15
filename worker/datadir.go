package worker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/superstep/superstep/internal/security"
)

// A worker's data dir belongs to one worker process at a time, and to
// workers only. Every process has a new worker ID, so what an earlier
// process left there (the job directories of an incarnation the
// coordinator declared dead, a killed merge's temporary runs) is of use to
// no one: no coordinator will ask that ID for a file again. A new process
// therefore clears it, which is the only way those files are ever removed
// when the earlier process was killed before its jobs' deletes reached it.
//
// Clearing a directory is only safe if it is ours: the first worker to use
// a directory requires it to be empty and leaves a marker file in it; a
// later one clears only a directory holding that marker, and refuses a
// directory with anything else in it.
const (
	dataDirMarker = ".superstep-worker-data"
	dataDirLock   = ".superstep-worker.lock"
)

// OwnEntry reports whether name, an entry of a data dir, is the worker's
// own bookkeeping (its marker or its lock) rather than a job's files.
func OwnEntry(name string) bool { return name == dataDirMarker || name == dataDirLock }

// ErrDataDirInUse means another live worker process holds the data dir.
var ErrDataDirInUse = errors.New("worker: the data dir is in use by another worker process")

// ErrDataDirForeign means the data dir holds files that no worker made.
var ErrDataDirForeign = errors.New("worker: the data dir is not empty and was not made by a worker")

// claimDataDir creates dir if needed, locks it for this process and clears
// what an earlier worker process left in it. It returns the lock's release
// and how many entries it removed.
func claimDataDir(dir string) (release func(), removed int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("worker: data dir: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, dataDirLock))
	if errors.Is(err, errLocked) {
		return nil, 0, fmt.Errorf("%w: %s (two workers must not share one --data-dir)", ErrDataDirInUse, dir)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("worker: data dir %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		unlock()
		return nil, 0, fmt.Errorf("worker: data dir: %w", err)
	}
	var other []string
	marked := false
	for _, e := range ents {
		switch e.Name() {
		case dataDirMarker:
			marked = true
		case dataDirLock, "lost+found": // lost+found: a fresh ext4 volume's root
		default:
			other = append(other, e.Name())
		}
	}
	if !marked {
		if len(other) > 0 {
			unlock()
			shown := strings.Join(other[:min(len(other), 3)], ", ")
			if len(other) > 3 {
				shown += fmt.Sprintf(" and %d more", len(other)-3)
			}
			return nil, 0, fmt.Errorf("%w: %s holds %s; give an empty or new directory", ErrDataDirForeign, dir, shown)
		}
		if err := os.WriteFile(filepath.Join(dir, dataDirMarker), []byte("the data dir of a superstep worker: its contents are removed when a worker starts\n"), 0o644); err != nil {
			unlock()
			return nil, 0, fmt.Errorf("worker: data dir: %w", err)
		}
		return unlock, 0, nil
	}
	for _, name := range other {
		if err := security.RemoveAllInside(dir, filepath.Join(dir, name)); err != nil {
			unlock()
			return nil, removed, fmt.Errorf("worker: clearing what an earlier worker left in the data dir: %w", err)
		}
		removed++
	}
	return unlock, removed, nil
}
