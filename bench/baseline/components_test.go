package baseline

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestComponents checks the union-find against a hand-computed labelling:
// {1,2,3} joined through 2->1 and 3->2, {10,11} by 11->10, and 7 alone with
// a self-loop.
func TestComponents(t *testing.T) {
	p := filepath.Join(t.TempDir(), "edges.tsv")
	if err := os.WriteFile(p, []byte("3\t2\n2\t1\n11\t10\n7\t7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := ReadEdges([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	labels := Components(g)
	var got []string
	for v, l := range labels {
		got = append(got, g.Names[v]+":"+g.Names[l])
	}
	want := []string{"1:1", "2:1", "3:1", "7:7", "10:10", "11:10"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
