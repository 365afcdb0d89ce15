package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/superstep/superstep/cli"
	_ "github.com/superstep/superstep/examples/terasort"
	_ "github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/buildbin"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	root := cli.NewRoot(&o, &e)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return o.String(), e.String(), err
}

func TestRunAndExplainWordcount(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("b a b\nc  b\n"), 0o644)
	out := filepath.Join(dir, "out")
	stdout, _, err := run(t, "explain", "wordcount", "--input", in, "--out", out, "--partitions", "3")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"superstep 1", "TextLines", "FlatMap", "ReduceByKey", "map-side combine", "SortBy", "WriteText", "3 partitions"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("explain lacks %q:\n%s", want, stdout)
		}
	}
	_, stderr, err := run(t, "run", "wordcount", "--input", in, "--out", out, "--slots", "2", "--memory", "8MB", "--progress", "plain")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "done in") || !strings.Contains(stderr, "superstep 1/") {
		t.Fatalf("no progress or summary on stderr:\n%s", stderr)
	}
	parts, _ := filepath.Glob(filepath.Join(out, "part-*"))
	var all []byte
	for _, p := range parts {
		x, _ := os.ReadFile(p)
		all = append(all, x...)
	}
	if string(all) != "a\t1\nb\t3\nc\t1\n" {
		t.Fatalf("output %q", all)
	}
}

// binary builds the superstep command once per test process.
func binary(t *testing.T) string {
	t.Helper()
	p, err := buildbin.Superstep()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExitCodes runs the real binary: bad invocations and bad input give a
// one-line error and a non-zero exit code, and leave no output behind.
func TestExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := binary(t)
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "nosuchjob"}, 2, `unknown job "nosuchjob"`},
		{[]string{"run", "wordcount", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"run", "wordcount", "--input", filepath.Join(dir, "missing"), "--out", filepath.Join(dir, "o")}, 1, "missing: no such file or directory"},
		{[]string{"run", "wordcount", "--out", filepath.Join(dir, "o")}, 1, "--input and --out are required"},
		{[]string{"run", "wordcount", "--input", dir, "--out", dir}, 1, "already exists"},
		{[]string{"run", "wordcount", "--input", dir, "--out", filepath.Join(dir, "o"), "--memory", "lots"}, 2, "--memory"},
		{[]string{"run"}, 2, "which job?"},
	}
	for _, c := range cases {
		cmd := exec.Command(bin, c.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); !os.IsNotExist(err) {
		t.Fatalf("a failed run left output behind: %v", err)
	}
}
