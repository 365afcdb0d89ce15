package security

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/superstep/superstep/internal/planspec"
)

func TestInside(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "data")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "job", "x"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink inside the root that points out of it, and a root reached
	// through a symlink.
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	linkRoot := filepath.Join(base, "linkroot")
	if err := os.Symlink(root, linkRoot); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		root, path string
		ok         bool
	}{
		{root, filepath.Join(root, "job"), true},
		{root, filepath.Join(root, "job", "x"), true},
		{root, filepath.Join(root, "not-yet", "deeper"), true},
		{linkRoot, filepath.Join(root, "job"), true},
		{root, filepath.Join(linkRoot, "job"), true},
		{root, root, false},
		{root, root + "/.", false},
		{root, filepath.Join(root, ".."), false},
		{root, root + "/../outside", false},
		{root, base, false},
		{root, "/", false},
		{root, root + "x", false},
		{root, filepath.Join(root, "escape"), false},
		{root, filepath.Join(root, "escape", "sub"), false},
	} {
		err := Inside(c.root, c.path)
		if (err == nil) != c.ok {
			t.Errorf("Inside(%s, %s) = %v, want ok=%v", c.root, c.path, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("Inside(%s, %s): %v does not match ErrOutsideRoot", c.root, c.path, err)
		}
	}
	// RemoveAllInside refuses the escape and leaves its target alone.
	sentinel := filepath.Join(outside, "sentinel")
	os.WriteFile(sentinel, []byte("keep"), 0o644)
	if err := RemoveAllInside(root, filepath.Join(root, "escape")); err == nil {
		t.Fatal("RemoveAllInside followed a symlink out of the root")
	}
	if err := RemoveAllInside(root, filepath.Join(root, "..")); err == nil {
		t.Fatal("RemoveAllInside removed the root's parent")
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("the sentinel beside the root is gone: %v", err)
	}
	if err := RemoveAllInside(root, filepath.Join(root, "job")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "job")); !os.IsNotExist(err) {
		t.Fatalf("the job directory survived: %v", err)
	}
}

func TestRootsAllowed(t *testing.T) {
	base := t.TempDir()
	in, out := filepath.Join(base, "in"), filepath.Join(base, "out")
	os.MkdirAll(in, 0o755)
	os.Symlink("/etc", filepath.Join(in, "etc"))
	rs := Roots{in, out}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{in, true}, {filepath.Join(in, "a.txt"), true}, {filepath.Join(out, "new", "part"), true},
		{"/etc/passwd", false}, {filepath.Join(in, "etc", "passwd"), false}, {filepath.Join(in, "..", "x"), false},
		{base, false}, {in + "2", false},
	} {
		err := rs.Allowed(c.path)
		if (err == nil) != c.ok {
			t.Errorf("Allowed(%s) = %v, want ok=%v", c.path, err, c.ok)
		}
	}
	if err := (Roots{}).Allowed("/etc/passwd"); err != nil {
		t.Fatalf("no roots must allow everything: %v", err)
	}
}

func TestCheckSpec(t *testing.T) {
	base := t.TempDir()
	rs := Roots{filepath.Join(base, "in"), filepath.Join(base, "out")}
	stage := func(path string) planspec.StageSpec {
		return planspec.StageSpec{Input: planspec.InputSpec{Splits: []planspec.Split{{Files: []planspec.FileRange{{Path: path}}}}}}
	}
	iter := func(dir string) planspec.StageSpec {
		return planspec.StageSpec{Iterate: &planspec.IterateSpec{CheckpointDir: dir}}
	}
	good := &planspec.Spec{JobID: "j", Stages: []planspec.StageSpec{stage(filepath.Join(base, "in", "a"))},
		Sinks: []planspec.SinkSpec{{Dir: filepath.Join(base, "out", "wc")}}}
	if err := rs.CheckSpec(good); err != nil {
		t.Fatal(err)
	}
	for name, sp := range map[string]*planspec.Spec{
		"input /etc/passwd": {JobID: "j", Stages: []planspec.StageSpec{stage("/etc/passwd")}},
		"output outside": {JobID: "j", Stages: []planspec.StageSpec{stage(filepath.Join(base, "in", "a"))},
			Sinks: []planspec.SinkSpec{{Dir: filepath.Join(base, "elsewhere")}}},
		"checkpoint outside": {JobID: "j", Stages: []planspec.StageSpec{iter(filepath.Join(base, "ck", "j", "stage-0"))}},
	} {
		if err := rs.CheckSpec(sp); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("%s: %v, want ErrOutsideRoot", name, err)
		}
	}
	// Without roots only the shape of a checkpoint directory is checked:
	// executors remove it recursively.
	for dir, ok := range map[string]bool{"/tmp/ck/j/stage-0": true, "/home": false, "/tmp/ck/other/stage-0": false, "/tmp/ck/j/stage-1": false} {
		err := Roots(nil).CheckSpec(&planspec.Spec{JobID: "j", Stages: []planspec.StageSpec{iter(dir)}})
		if (err == nil) != ok {
			t.Errorf("checkpoint dir %s: %v, want ok=%v", dir, err, ok)
		}
	}
}
