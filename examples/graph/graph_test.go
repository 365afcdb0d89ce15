package graph_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/superstep/superstep/bench/baseline"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/graph"
	"github.com/superstep/superstep/examples/rmat"
	"github.com/superstep/superstep/internal/parts"
)

const python = "/usr/bin/python3"

// networkx runs testdata/networkx_ref.py; the test skips (saying why) when
// networkx is not installed. CI installs it, so there the tests run.
func networkx(t *testing.T, args ...string) map[string]string {
	t.Helper()
	if err := exec.Command(python, "-c", "import networkx").Run(); err != nil {
		t.Skipf("networkx is not installed (apt-get install python3-networkx): %v", err)
	}
	out, err := exec.Command(python, append([]string{"testdata/networkx_ref.py"}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("networkx: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return parseTSV(t, out)
}

func parseTSV(t *testing.T, b []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad output line %q", line)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("vertex %s appears twice in the output", k)
		}
		m[k] = v
	}
	return m
}

func runJob(t *testing.T, job *bsp.Job, slots int, flags ...string) (map[string]string, []byte) {
	t.Helper()
	cfg := local.DefaultConfig()
	cfg.Slots = slots
	cfg.WorkDir = t.TempDir()
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	flags = append(flags, "--out", out, "--checkpoint-every", "3")
	if _, err := ex.RunJob(context.Background(), job, flags, 4); err != nil {
		t.Fatal(err)
	}
	b, err := parts.Concat(out)
	if err != nil {
		t.Fatal(err)
	}
	return parseTSV(t, b), b
}

// rmatEdges writes an R-MAT graph (with its duplicate edges and self-loops).
func rmatEdges(t *testing.T, scale, ef int) string {
	t.Helper()
	var b strings.Builder
	for i := range int64(ef) << scale {
		s, d := rmat.Edge(7, scale, i)
		fmt.Fprintf(&b, "%d\t%d\n", s, d)
	}
	return write(t, b.String())
}

func write(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "edges.tsv")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// linkGraph is a real link graph: the links between the HTML pages of the
// bundled SQLite documentation (see ../webindex/testdata).
func linkGraph(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/sqlite-links.tsv")
	if err != nil {
		t.Fatal(err)
	}
	return write(t, string(b))
}

func comparePageRank(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d vertices, networkx has %d", len(got), len(want))
	}
	sum, worst := 0.0, 0.0
	for k, ws := range want {
		gs, ok := got[k]
		if !ok {
			t.Fatalf("vertex %s missing", k)
		}
		g, _ := strconv.ParseFloat(gs, 64)
		w, _ := strconv.ParseFloat(ws, 64)
		worst = max(worst, math.Abs(g-w))
		sum += g
	}
	if worst > 1e-9 {
		t.Fatalf("largest rank difference from networkx %g > 1e-9", worst)
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("ranks sum to %v", sum)
	}
	t.Logf("%d vertices, largest difference from networkx %.2g", len(got), worst)
}

func TestPageRankMatchesNetworkx(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edges func(t *testing.T) string
		ids   []string
	}{
		{"rmat-scale10", func(t *testing.T) string { return rmatEdges(t, 10, 8) }, []string{"--int-ids"}},
		{"rmat-string-ids", func(t *testing.T) string { return rmatEdges(t, 8, 4) }, nil},
		{"sqlite-doc-links", linkGraph, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edges := tc.edges(t)
			want := networkx(t, "pagerank", edges, "0.85", "1e-12", "200")
			var first []byte
			for _, slots := range []int{1, 2, 4} {
				got, raw := runJob(t, graph.PageRankJob, slots, append([]string{"--edges", edges, "--tol", "1e-12", "--max-iter", "200"}, tc.ids...)...)
				comparePageRank(t, got, want)
				if first == nil {
					first = raw
				} else if string(raw) != string(first) {
					t.Fatalf("output with %d slots differs from the output with 1", slots)
				}
			}
		})
	}
}

func TestComponentsMatchNetworkx(t *testing.T) {
	// Sparse enough to have many components.
	edges := rmatEdges(t, 11, 1)
	want := networkx(t, "components", edges)
	got, _ := runJob(t, graph.ComponentsJob, 2, "--edges", edges)
	if len(got) != len(want) {
		t.Fatalf("%d vertices, networkx has %d", len(got), len(want))
	}
	labels := map[string]bool{}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("vertex %s: component %q, networkx %q", k, got[k], w)
		}
		labels[w] = true
	}
	if len(labels) < 2 {
		t.Fatalf("the test graph has %d components; it should have several", len(labels))
	}
	t.Logf("%d vertices in %d components", len(got), len(labels))
}

func TestSSSPMatchesNetworkx(t *testing.T) {
	var b strings.Builder
	for i := range int64(4 << 9) {
		s, d := rmat.Edge(3, 9, i)
		fmt.Fprintf(&b, "v%d\tv%d\t%d.%d\n", s, d, i%17, i%10)
	}
	edges := write(t, b.String())
	want := networkx(t, "sssp", edges, "v0")
	got, _ := runJob(t, graph.SSSPJob, 2, "--edges", edges, "--source", "v0")
	if len(got) != len(want) || len(got) < 10 {
		t.Fatalf("%d reachable vertices, networkx has %d", len(got), len(want))
	}
	for k, ws := range want {
		g, _ := strconv.ParseFloat(got[k], 64)
		w, _ := strconv.ParseFloat(ws, 64)
		if math.Abs(g-w) > 1e-9 {
			t.Fatalf("vertex %s: distance %s, networkx %s", k, got[k], ws)
		}
	}
}

func TestBadEdgeInput(t *testing.T) {
	ex, err := local.New(local.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, edges string
		job         *bsp.Job
		flags       []string
		want        string
	}{
		{"field count", "a\tb\nc\n", graph.PageRankJob, nil, "edges.tsv:2: want 2 tab-separated fields, got 1"},
		{"weight", "a\tb\t1\nb\tc\tx\n", graph.SSSPJob, []string{"--source", "a"}, `edges.tsv:2: weight "x" is not a number`},
		{"negative weight", "a\tb\t-1\n", graph.SSSPJob, []string{"--source", "a"}, "edges.tsv:1: weight \"-1\""},
		{"int ids", "1\t2\n3\tx\n", graph.PageRankJob, []string{"--int-ids"}, `edges.tsv:2: destination vertex: "x" is not a 64-bit integer`},
		{"missing source", "a\tb\t1\n", graph.SSSPJob, []string{"--source", "z"}, "the source vertex is not in the graph: z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			flags := append([]string{"--edges", write(t, tc.edges), "--out", out}, tc.flags...)
			_, err := ex.RunJob(context.Background(), tc.job, flags, 2)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("a failed job left its output: %v", err)
			}
		})
	}
}

// TestEdgeCases covers the documented behaviour of self-loops, duplicate
// edges and an empty graph, with hand-computed results.
func TestEdgeCases(t *testing.T) {
	// a→a, a→b twice: duplicates count once, the self-loop is an out-edge.
	// With d = 0.5: a = 0.25 + 0.5(a/2 + b/2), b = 0.25 + 0.5(a/2 + b/2)
	// (b is dangling: its rank is spread uniformly), so a = b = 0.5.
	got, _ := runJob(t, graph.PageRankJob, 2, "--edges", write(t, "a\ta\na\tb\na\tb\n"), "--damping", "0.5", "--tol", "1e-14")
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "a,b" {
		t.Fatalf("vertices %v", keys)
	}
	for _, k := range keys {
		if r, _ := strconv.ParseFloat(got[k], 64); math.Abs(r-0.5) > 1e-12 {
			t.Fatalf("rank of %s = %s, want 0.5", k, got[k])
		}
	}
	// An empty graph (comments only) gives an empty output.
	got, _ = runJob(t, graph.ComponentsJob, 2, "--edges", write(t, "# nothing\n\n"))
	if len(got) != 0 {
		t.Fatalf("empty graph: %v", got)
	}
}

// TestNeverConvergingStopsAtMaxIter runs PageRank with a tolerance it
// cannot reach: it stops after --max-iter iterations, with the ranks of the
// hand-written power iteration (bench/baseline, itself checked against
// networkx) after as many iterations.
func TestNeverConvergingStopsAtMaxIter(t *testing.T) {
	edges := rmatEdges(t, 8, 4)
	g, err := baseline.ReadEdges([]string{edges})
	if err != nil {
		t.Fatal(err)
	}
	want, iters := baseline.PageRank(g, 0.85, 1e-300, 7)
	if iters != 7 {
		t.Fatalf("baseline ran %d iterations", iters)
	}
	got, _ := runJob(t, graph.PageRankJob, 2, "--edges", edges, "--int-ids", "--tol", "1e-300", "--max-iter", "7")
	if len(got) != len(want) {
		t.Fatalf("%d vertices, baseline %d", len(got), len(want))
	}
	for i, name := range g.Names {
		r, _ := strconv.ParseFloat(got[name], 64)
		if math.Abs(r-want[i]) > 1e-12 {
			t.Fatalf("vertex %s: %v, baseline after 7 iterations %v", name, r, want[i])
		}
	}
}

// TestPageRankSpilledPartitions runs PageRank with a memory budget far
// below the graph's size: the vertex partitions live in state files on disk
// and are streamed every superstep, and the output is byte for byte the
// in-memory run's.
func TestPageRankSpilledPartitions(t *testing.T) {
	edges := rmatEdges(t, 13, 16)
	flags := []string{"--edges", edges, "--int-ids", "--tol", "1e-10", "--checkpoint-every", "3"}
	run := func(memory int64) ([]byte, int) {
		cfg := local.DefaultConfig()
		cfg.Slots, cfg.Memory, cfg.WorkDir = 1, memory, t.TempDir()
		ex, err := local.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		res, err := ex.RunJob(context.Background(), graph.PageRankJob, append(flags, "--out", out), 2)
		if err != nil {
			t.Fatal(err)
		}
		spills := res.Stages[len(res.Stages)-1].Spills // the Pregel stage's
		b, err := parts.Concat(out)
		if err != nil {
			t.Fatal(err)
		}
		return b, spills
	}
	want, spills := run(1 << 30)
	if spills != 0 {
		t.Fatalf("%d spills with 1 GiB", spills)
	}
	got, spills := run(1 << 20)
	if spills == 0 {
		t.Fatal("nothing spilled: the test graph is too small for the budget")
	}
	if string(got) != string(want) {
		t.Fatalf("spilled run's output (%d bytes) differs from the in-memory run's (%d bytes)", len(got), len(want))
	}
}
