package baseline

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/superstep/superstep/examples/rmat"
)

// TestPageRankHandComputed: a -> b, b -> c, c -> a, a -> c (and a duplicate
// a -> b) with damping 0.85 and no dangling vertex. The fixed point
// r = (1-0.85)/3 + 0.85 (A^T D^-1) r gives, with 0.05 = 0.15/3,
// ra = .05 + .85 rc, rb = .05 + .85 ra/2, rc = .05 + .85 (ra/2 + rb).
func TestPageRankHandComputed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.tsv")
	os.WriteFile(path, []byte("a\tb\nb\tc\nc\ta\na\tc\na\tb\n"), 0o644)
	g, err := ReadEdges([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Dst) != 4 {
		t.Fatalf("%d edges after removing the duplicate, want 4", len(g.Dst))
	}
	r, _ := PageRank(g, 0.85, 1e-15, 10000)
	// Solve the 3x3 system by substitution: ra = .05 + .85 rc,
	// rc = .05 + .85 (ra/2 + .05 + .85 ra/2) = .0925 + .78625 ra.
	ra := (0.05 + 0.85*0.0925) / (1 - 0.85*0.78625)
	rb := 0.05 + 0.85*ra/2
	rc := 0.0925 + 0.78625*ra
	if math.Abs(ra+rb+rc-1) > 1e-12 {
		t.Fatalf("hand-computed ranks sum to %v", ra+rb+rc)
	}
	for i, want := range []float64{ra, rb, rc} {
		if math.Abs(r[i]-want) > 1e-12 {
			t.Fatalf("rank of %s = %.15f, want %.15f", g.Names[i], r[i], want)
		}
	}
}

// TestPageRankMatchesNetworkx compares the baseline with networkx on an
// R-MAT graph (dangling vertices, self-loops and duplicate edges included).
func TestPageRankMatchesNetworkx(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import networkx").Run(); err != nil {
		t.Skip("networkx is not installed (apt-get install python3-networkx); CI installs it")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "edges.tsv")
	f, _ := os.Create(path)
	w := bufio.NewWriter(f)
	const scale, ef = 10, 8
	for i := int64(0); i < ef<<scale; i++ {
		s, d := rmat.Edge(7, scale, i)
		fmt.Fprintf(w, "%d\t%d\n", s, d)
	}
	w.Flush()
	f.Close()
	g, err := ReadEdges([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	ranks, iters := PageRank(g, 0.85, 1e-12, 1000)
	script := `
import sys, networkx as nx
g = nx.DiGraph()
for line in open(sys.argv[1]):
    s, d = line.split()
    g.add_edge(s, d)
for v, r in nx.pagerank(g, alpha=0.85, tol=1e-12, max_iter=1000).items():
    print(v, repr(r))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).Output()
	if err != nil {
		t.Fatalf("networkx: %v", err)
	}
	want := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		v, r, _ := strings.Cut(line, " ")
		want[v], _ = strconv.ParseFloat(r, 64)
	}
	if len(want) != len(g.Names) {
		t.Fatalf("networkx has %d vertices, the baseline %d", len(want), len(g.Names))
	}
	worst := 0.0
	for i, name := range g.Names {
		worst = max(worst, math.Abs(ranks[i]-want[name]))
	}
	t.Logf("%d vertices, %d edges, %d iterations, max |diff| %.2g", len(g.Names), len(g.Dst), iters, worst)
	if worst > 1e-9 {
		t.Fatalf("ranks differ from networkx by up to %g", worst)
	}
}
