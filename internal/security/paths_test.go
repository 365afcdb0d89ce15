package security

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
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

func spec(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckSpec(t *testing.T) {
	base := t.TempDir()
	rs := Roots{filepath.Join(base, "in"), filepath.Join(base, "out")}
	type m = map[string]any
	stage := func(path string) m {
		return m{"input": m{"splits": []m{{"files": []m{{"path": path}}}}}}
	}
	good := spec(t, m{"stages": []m{stage(filepath.Join(base, "in", "a"))}, "sinks": []m{{"dir": filepath.Join(base, "out", "wc")}}})
	if err := rs.CheckSpec("j", good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"input /etc/passwd":  spec(t, m{"stages": []m{stage("/etc/passwd")}}),
		"output outside":     spec(t, m{"stages": []m{stage(filepath.Join(base, "in", "a"))}, "sinks": []m{{"dir": filepath.Join(base, "elsewhere")}}}),
		"checkpoint outside": spec(t, m{"stages": []m{{"iterate": m{"checkpoint_dir": filepath.Join(base, "ck", "j", "stage-0")}}}}),
		"malformed":          []byte("{"),
	} {
		if err := rs.CheckSpec("j", b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Without roots only the shape of a checkpoint directory is checked:
	// executors remove it recursively.
	for dir, ok := range map[string]bool{"/tmp/ck/j/stage-0": true, "/home": false, "/tmp/ck/other/stage-0": false, "/tmp/ck/j/stage-1": false} {
		err := Roots(nil).CheckSpec("j", spec(t, m{"stages": []m{{"iterate": m{"checkpoint_dir": dir}}}}))
		if (err == nil) != ok {
			t.Errorf("checkpoint dir %s: %v, want ok=%v", dir, err, ok)
		}
	}
}
