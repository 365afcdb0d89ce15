package baseline

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
)

// Graph is a directed graph in compressed sparse row form: the out-edges
// of vertex v are Dst[Off[v]:Off[v+1]], with duplicate edges removed.
// Names maps dense vertex numbers back to the IDs of the input.
type Graph struct {
	Names []string
	Off   []int64
	Dst   []int32
}

// ReadEdges reads `src<TAB>dst` lines (other fields after a second tab are
// ignored) from the files into a Graph. Vertices are every ID that appears,
// numbered in byte order of their IDs; duplicate edges count once.
func ReadEdges(files []string) (*Graph, error) {
	ids := map[string]int32{}
	var names []string
	id := func(s []byte) int32 {
		if v, ok := ids[string(s)]; ok {
			return v
		}
		v := int32(len(names))
		names = append(names, string(s))
		ids[string(s)] = v
		return v
	}
	var src, dst []int32
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		for line := 1; ; line++ {
			b, err := r.ReadSlice('\n')
			if len(b) > 0 {
				b = bytes.TrimRight(b, "\r\n")
				if len(b) > 0 {
					s, rest, ok := bytes.Cut(b, []byte{'\t'})
					d, _, _ := bytes.Cut(rest, []byte{'\t'})
					if !ok || len(s) == 0 || len(d) == 0 {
						f.Close()
						return nil, fmt.Errorf("%s:%d: want src<TAB>dst", path, line)
					}
					src, dst = append(src, id(s)), append(dst, id(d))
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		f.Close()
	}
	// Renumber vertices in byte order of their IDs, so results are ordered.
	order := make([]int32, len(names))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return compareIDs(names[a], names[b]) })
	renum := make([]int32, len(names))
	sorted := make([]string, len(names))
	for newID, old := range order {
		renum[old] = int32(newID)
		sorted[newID] = names[old]
	}
	n := len(names)
	off := make([]int64, n+1)
	for _, s := range src {
		off[renum[s]+1]++
	}
	for v := range n {
		off[v+1] += off[v]
	}
	adj := make([]int32, len(src))
	pos := slices.Clone(off[:n])
	for i, s := range src {
		v := renum[s]
		adj[pos[v]] = renum[dst[i]]
		pos[v]++
	}
	// Sort and deduplicate each adjacency list, compacting in place.
	w := int64(0)
	newOff := make([]int64, n+1)
	for v := range n {
		l := adj[off[v]:off[v+1]]
		slices.Sort(l)
		l = slices.Compact(l)
		copy(adj[w:], l)
		w += int64(len(l))
		newOff[v+1] = w
	}
	return &Graph{Names: sorted, Off: newOff, Dst: adj[:w]}, nil
}

// compareIDs orders vertex IDs numerically when both are integers, else by
// bytes.
func compareIDs(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return bytes.Compare([]byte(a), []byte(b))
}

// PageRank computes PageRank with the semantics of networkx.pagerank:
// uniform start and teleport, the rank of dangling vertices spread
// uniformly, stopping when the L1 change is below n*tol or after maxIter
// iterations. It returns the ranks and the iterations run.
func PageRank(g *Graph, damping, tol float64, maxIter int) ([]float64, int) {
	n := len(g.Names)
	if n == 0 {
		return nil, 0
	}
	x := make([]float64, n)
	last := make([]float64, n)
	for i := range x {
		x[i] = 1 / float64(n)
	}
	for it := 1; it <= maxIter; it++ {
		x, last = last, x
		dangling := 0.0
		for v := range n {
			if g.Off[v] == g.Off[v+1] {
				dangling += last[v]
			}
		}
		base := (damping*dangling + 1 - damping) / float64(n)
		for i := range x {
			x[i] = base
		}
		for v := range n {
			lo, hi := g.Off[v], g.Off[v+1]
			if lo == hi {
				continue
			}
			share := damping * last[v] / float64(hi-lo)
			for _, d := range g.Dst[lo:hi] {
				x[d] += share
			}
		}
		diff := 0.0
		for i := range x {
			diff += math.Abs(x[i] - last[i])
		}
		if diff < float64(n)*tol {
			return x, it
		}
	}
	return x, maxIter
}
