package server

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/storage"
)

// sinkJob compiles a two-partition text sink into out and writes the
// attempt files of the parts in onDisk, as the workers would; it returns
// the pending commit the leader carries out.
func sinkJob(t *testing.T, out string, onDisk ...int) pendingCommit {
	t.Helper()
	p := bsp.NewPlan(2)
	bsp.WriteText(bsp.FromSlice(p, []string{"a", "b", "c"}, 2), out)
	prog, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := prog.Spec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sk := prog.Spec.Sinks[0]
	c := pendingCommit{job: "j1", spec: spec}
	for part := range 2 {
		path := filepath.Join(bsp.SinkTempDir(out, "j1"), "_attempts", "a", sk.FileName(part))
		data := []byte{byte('a' + part), '\n'}
		for _, d := range onDisk {
			if d == part {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		c.commits = append(c.commits, coordinator.SinkCommit{Stage: sk.Stage, Task: part, Commit: coordinator.Commit{
			Report: coordinator.TaskReport{SinkFile: &coordinator.SinkFile{Node: sk.Node, Part: part, Path: path, Size: int64(len(data))}}}})
	}
	return c
}

func TestCommitJobPublishesVerifiedParts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := commitJob(context.Background(), sinkJob(t, out, 0, 1)); err != nil {
		t.Fatal(err)
	}
	m, err := storage.ReadManifest(context.Background(), storage.Local{}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parts) != 2 || m.Parts[1].Name != "part-00001.txt" || m.Parts[1].Size != 2 {
		t.Fatalf("manifest %+v", m)
	}
}

// The data-loss bug of issue 13: a part written to a disk the coordinator
// does not see (its attempt file is not here) used to count as "already
// renamed" and the job succeeded with only _SUCCESS in its output.
func TestCommitJobMissingPartFails(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	err := commitJob(context.Background(), sinkJob(t, out, 0))
	var pe *storage.PartError
	if !errors.Is(err, storage.ErrPartMissing) || !errors.As(err, &pe) || filepath.Base(pe.Name) != "part-00001.txt" {
		t.Fatalf("commit with part 1 on another machine: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the output appeared: %v", err)
	}
}
