package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// objectStore hides Local's directory rename, so that Commit takes the
// object-store path (parts moved one by one, _SUCCESS last).
type objectStore struct{ FS }

// stage writes the attempt files of parts (name → contents) the way sink
// tasks do, and returns the Output and the Parts to commit.
func stage(t *testing.T, parts map[string]string) (Output, []Part) {
	t.Helper()
	root := t.TempDir()
	o := Output{Dir: filepath.Join(root, "out"), Temp: filepath.Join(root, ".out.superstep-j1")}
	var ps []Part
	for name, data := range parts {
		src := filepath.Join(o.Temp, AttemptsDir, name+"-a0", name)
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, Part{Src: src, Name: name, Size: int64(len(data))})
	}
	slices.SortFunc(ps, func(a, b Part) int { return strings.Compare(a.Name, b.Name) })
	return o, ps
}

func commitAll(ctx context.Context, fsys FS, o Output, ps []Part) error {
	for _, p := range ps {
		if err := CommitPart(ctx, fsys, o, p); err != nil {
			return err
		}
	}
	return Commit(ctx, fsys, o, ps)
}

// dirNames lists dir's entries (nil when dir does not exist).
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestCommit(t *testing.T) {
	for _, fsys := range []FS{Local{}, objectStore{Local{}}} {
		t.Run(strings.TrimPrefix(strings.TrimPrefix(filepathType(fsys), "storage."), "*"), func(t *testing.T) {
			ctx := context.Background()
			o, ps := stage(t, map[string]string{"part-00000.txt": "a\nb\n", "part-00001.txt": "", "part-00002.txt": "c\n"})
			if err := commitAll(ctx, fsys, o, ps); err != nil {
				t.Fatal(err)
			}
			if got := dirNames(t, o.Dir); !slices.Equal(got, []string{"_SUCCESS", "part-00000.txt", "part-00001.txt", "part-00002.txt"}) {
				t.Fatalf("output holds %v", got)
			}
			if got := dirNames(t, o.Temp); got != nil {
				t.Fatalf("staging directory left behind: %v", got)
			}
			b, err := os.ReadFile(filepath.Join(o.Dir, "part-00000.txt"))
			if err != nil || string(b) != "a\nb\n" {
				t.Fatalf("part 0 = %q, %v", b, err)
			}
			m, err := ReadManifest(ctx, fsys, o.Dir)
			if err != nil {
				t.Fatal(err)
			}
			want := []ManifestPart{{"part-00000.txt", 4}, {"part-00001.txt", 0}, {"part-00002.txt", 2}}
			if !slices.Equal(m.Parts, want) {
				t.Fatalf("manifest %+v, want %+v", m.Parts, want)
			}
			// A new leader repeats the commit: recognised, not redone.
			if err := commitAll(ctx, fsys, o, ps); err != nil {
				t.Fatalf("repeated commit: %v", err)
			}
		})
	}
}

func filepathType(fsys FS) string {
	if _, ok := fsys.(objectStore); ok {
		return "copy"
	}
	return "rename"
}

// A part that never reached storage the coordinator can see (a worker's
// private disk) fails the commit with ErrPartMissing, and no output appears.
func TestCommitMissingPart(t *testing.T) {
	ctx := context.Background()
	o, ps := stage(t, map[string]string{"part-00000.txt": "x\n", "part-00001.txt": "y\n"})
	if err := os.Remove(ps[1].Src); err != nil {
		t.Fatal(err)
	}
	err := commitAll(ctx, Local{}, o, ps)
	var pe *PartError
	if !errors.Is(err, ErrPartMissing) || !errors.As(err, &pe) || pe.Src != ps[1].Src {
		t.Fatalf("commit with a lost part: %v", err)
	}
	if !strings.Contains(err.Error(), "part-00001.txt") {
		t.Fatalf("error does not name the part: %v", err)
	}
	if names := dirNames(t, o.Dir); names != nil {
		t.Fatalf("a failed commit left an output: %v", names)
	}
	// Committing the job without the part's task commit fails too.
	if err := Commit(ctx, Local{}, o, ps); !errors.Is(err, ErrPartMissing) {
		t.Fatalf("job commit with a lost part: %v", err)
	}
	if err := Abort(ctx, Local{}, o); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, filepath.Dir(o.Dir)); names != nil {
		t.Fatalf("abort left %v", names)
	}
}

func TestCommitWrongSize(t *testing.T) {
	ctx := context.Background()
	o, ps := stage(t, map[string]string{"part-00000.txt": "x\n"})
	ps[0].Size = 3 // the task said it wrote 3 bytes
	if err := CommitPart(ctx, Local{}, o, ps[0]); !errors.Is(err, ErrPartSize) {
		t.Fatalf("commit of a short part: %v", err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "part-00000.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("short part published: %v", err)
	}
}

// A part truncated after its task committed is caught at the job commit.
func TestCommitTruncatedAfterTaskCommit(t *testing.T) {
	ctx := context.Background()
	o, ps := stage(t, map[string]string{"part-00000.txt": "hello\n"})
	if err := CommitPart(ctx, Local{}, o, ps[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(o.Temp, "part-00000.txt"), 2); err != nil {
		t.Fatal(err)
	}
	if err := Commit(ctx, Local{}, o, ps); !errors.Is(err, ErrPartSize) {
		t.Fatalf("commit of a truncated part: %v", err)
	}
	if dirNames(t, o.Dir) != nil {
		t.Fatal("a truncated output was published")
	}
}

// A file named over the network must stay below the attempts directory.
func TestCommitPartOutsideAttempts(t *testing.T) {
	ctx := context.Background()
	o, ps := stage(t, map[string]string{"part-00000.txt": "x\n"})
	victim := filepath.Join(filepath.Dir(o.Dir), "precious")
	if err := os.WriteFile(victim, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{victim, filepath.Join(o.Temp, AttemptsDir, "..", "..", "precious"), filepath.Join(o.Temp, AttemptsDir)} {
		p := ps[0]
		p.Src = src
		if err := CommitPart(ctx, Local{}, o, p); !errors.Is(err, ErrBadName) {
			t.Fatalf("commit of %s: %v", src, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("the file outside was moved: %v", err)
	}
	p := ps[0]
	p.Name = "../escape"
	if err := CommitPart(ctx, Local{}, o, p); !errors.Is(err, ErrBadName) {
		t.Fatalf("part name with a slash: %v", err)
	}
}

// Every I/O step of the commit failing, one at a time, on both publishing
// paths: the commit reports the error, and the output either does not
// appear or appears whole with its _SUCCESS (never partial looking whole).
func TestCommitInjectedFaults(t *testing.T) {
	ctx := context.Background()
	for _, copyPath := range []bool{false, true} {
		for _, op := range []Op{OpCreate, OpWrite, OpClose, OpStat, OpList, OpRename, OpRemove, OpMkdirAll, OpCopy} {
			for nth := 1; nth <= 4; nth++ {
				o, ps := stage(t, map[string]string{"part-00000.txt": "a\n", "part-00001.txt": "bb\n"})
				seen := 0
				in := NewInjector(Local{}, Rule{Op: op, Times: 1, Match: func(string) bool { seen++; return seen == nth }})
				var fsys FS = in
				if copyPath {
					fsys = objectStore{in}
				}
				err := commitAll(ctx, fsys, o, ps)
				if in.Injected() == 0 {
					if err != nil {
						t.Fatalf("copy=%v %s #%d: nothing injected but %v", copyPath, op, nth, err)
					}
					continue
				}
				_, statErr := os.Stat(filepath.Join(o.Dir, SuccessName))
				if err == nil {
					t.Fatalf("copy=%v %s #%d: injected error swallowed", copyPath, op, nth)
				}
				if !errors.Is(err, ErrInjected) {
					t.Fatalf("copy=%v %s #%d: %v does not match ErrInjected", copyPath, op, nth, err)
				}
				if statErr == nil {
					// Published before the fault (cleanup failed): it must be whole.
					if got := dirNames(t, o.Dir); !slices.Equal(got, []string{"_SUCCESS", "part-00000.txt", "part-00001.txt"}) {
						t.Fatalf("copy=%v %s #%d: published output holds %v", copyPath, op, nth, got)
					}
				}
				// The retry after the fault (the coordinator repeats the commit) completes.
				var again FS = Local{}
				if copyPath {
					again = objectStore{Local{}}
				}
				if err := commitAll(ctx, again, o, ps); err != nil {
					t.Fatalf("copy=%v %s #%d: retry: %v", copyPath, op, nth, err)
				}
				if got := dirNames(t, o.Dir); !slices.Equal(got, []string{"_SUCCESS", "part-00000.txt", "part-00001.txt"}) {
					t.Fatalf("copy=%v %s #%d: retried output holds %v", copyPath, op, nth, got)
				}
			}
		}
	}
}

func TestCommitOverwrite(t *testing.T) {
	ctx := context.Background()
	for _, fsys := range []FS{Local{}, objectStore{Local{}}} {
		o, ps := stage(t, map[string]string{"part-00000.txt": "new\n"})
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"part-00000.txt", "part-00001.txt", "_SUCCESS"} {
			if err := os.WriteFile(filepath.Join(o.Dir, f), []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := commitAll(ctx, fsys, o, ps); !errors.Is(err, ErrOutputExists) {
			t.Fatalf("%s: commit over an existing output: %v", filepathType(fsys), err)
		}
		o.Overwrite = true
		if err := Commit(ctx, fsys, o, ps); err != nil {
			t.Fatal(err)
		}
		if got := dirNames(t, o.Dir); !slices.Equal(got, []string{"_SUCCESS", "part-00000.txt"}) {
			t.Fatalf("%s: overwritten output holds %v", filepathType(fsys), got)
		}
	}
}
