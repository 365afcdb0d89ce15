package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// workload is a job the harness runs, with the flags of its input; --out is
// added per run.
type workload struct {
	name  string
	flags []string
}

// repoRoot is the module's root directory (the bundled corpora live there).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// prepareInputs writes the generated inputs under dir and returns the four
// workloads: wordcount over seeded Zipf text, terasort over generated
// records, PageRank over the bundled SQLite link graph and webindex over
// the bundled SQLite documentation.
func prepareInputs(ctx context.Context, bin, dir string, seed uint64, parts int) ([]workload, error) {
	text := filepath.Join(dir, "text")
	if err := writeText(text, seed); err != nil {
		return nil, err
	}
	gen := filepath.Join(dir, "records")
	if err := runCLI(ctx, bin, "run", "terasort", "--workers", "0", "--generate", "200000",
		"--partitions", strconv.Itoa(parts), "--out", gen, "--progress", "none"); err != nil {
		return nil, err
	}
	root := repoRoot()
	p := strconv.Itoa(parts)
	return []workload{
		{"wordcount", []string{"--input", text, "--partitions", p}},
		{"terasort", []string{"--input", gen, "--partitions", p}},
		{"pagerank", []string{"--edges", filepath.Join(root, "examples/graph/testdata/sqlite-links.tsv"),
			"--partitions", p, "--checkpoint-every", "4"}},
		{"webindex", []string{"--input", filepath.Join(root, "examples/webindex/testdata/sqlite-doc.tar.gz"),
			"--base-url", "https://sqlite.org/", "--partitions", p}},
	}, nil
}

// writeText writes 24 files of Zipf-distributed words (about 6 MB).
func writeText(dir string, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x7e47))
	zipf := rand.NewZipf(rng, 1.1, 1, 50000)
	for f := range 24 {
		var b bytes.Buffer
		for line := 0; b.Len() < 256<<10; line++ {
			for w := range 4 + rng.IntN(12) {
				if w > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "w%x", zipf.Uint64())
			}
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("text-%02d.txt", f)), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runCLI runs the superstep binary and returns its stderr in the error.
func runCLI(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("superstep %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// reference runs w in-process (no cluster, no faults) into out.
func reference(ctx context.Context, bin string, w workload, out string) error {
	args := append([]string{"run", w.name, "--workers", "0", "--progress", "none", "--out", out}, w.flags...)
	return runCLI(ctx, bin, args...)
}

// compareDirs returns "" when got holds the same files with the same bytes
// as want, and otherwise what differs first.
func compareDirs(got, want string) string {
	a, err := readTree(got)
	if err != nil {
		return err.Error()
	}
	b, err := readTree(want)
	if err != nil {
		return err.Error()
	}
	if _, ok := a["_SUCCESS"]; !ok {
		return "no _SUCCESS in " + got
	}
	names := func(m map[string][]byte) []string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		slices.Sort(s)
		return s
	}
	if an, bn := names(a), names(b); !slices.Equal(an, bn) {
		return fmt.Sprintf("files %v, want %v", an, bn)
	}
	for name, wb := range b {
		if gb := a[name]; !bytes.Equal(gb, wb) {
			return fmt.Sprintf("%s: %d bytes differ from the reference's %d (first difference at line %d)",
				name, len(gb), len(wb), firstDiffLine(gb, wb))
		}
	}
	return ""
}

func readTree(dir string) (map[string][]byte, error) {
	m := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		m[rel] = b
		return nil
	})
	return m, err
}

func firstDiffLine(a, b []byte) int {
	sa, sb := bufio.NewScanner(bytes.NewReader(a)), bufio.NewScanner(bytes.NewReader(b))
	sa.Buffer(nil, 1<<26)
	sb.Buffer(nil, 1<<26)
	for n := 1; ; n++ {
		oa, ob := sa.Scan(), sb.Scan()
		if !oa || !ob || !bytes.Equal(sa.Bytes(), sb.Bytes()) {
			return n
		}
	}
}

// runOutput runs the superstep binary and returns its stdout.
func runOutput(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("superstep %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
