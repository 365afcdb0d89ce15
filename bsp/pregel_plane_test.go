package bsp_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/superstep/superstep/bsp"
)

// randomGraph returns a seeded random directed graph over sparse int64 IDs,
// with self-loops and parallel edges.
func randomGraph(s uint64, maxVertices int) []edge {
	rng := newRand(s)
	n := 2000 + rng.IntN(maxVertices)
	m := 8*n + rng.IntN(8*n)
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(rng.IntN(10*n)) - int64(n) // negative IDs too
	}
	edges := make([]edge, m)
	for i := range edges {
		// Skewed sources, so that some vertices have many out-edges.
		src := ids[int(float64(n)*math.Pow(rng.Float64(), 3))]
		edges[i] = edge{Src: src, Dst: ids[rng.IntN(n)]}
	}
	return edges
}

type planeRun struct {
	name   string
	slots  int
	memory int64
	plane  bool
}

// runPlanes runs build under every configuration and returns the outputs;
// it checks that the plane was used where on and that spilling happened
// where the budget is tiny. Outputs must be identical, except that spilled
// runs are compared with spilled (when not nil): a sender whose combined
// messages spill in several runs hands the receiver several partial
// combinations, which a float sum rounds differently.
func runPlanes[T any](t *testing.T, spilled func(a, b T) bool, build func(p *bsp.Plan) bsp.Dataset[T]) [][]T {
	t.Helper()
	runs := []planeRun{
		{"plane-1-worker", 1, 64 << 20, true},
		{"plane-2-workers", 2, 128 << 20, true},
		{"plane-3-workers", 3, 192 << 20, true},
		{"plane-4-workers", 4, 256 << 20, true},
		{"files-3-workers", 3, 192 << 20, false},
		{"spilled-4-workers", 4, 1 << 20, true},
	}
	defer bsp.SetMessagePlane(true)
	var outs [][]T
	for _, pr := range runs {
		before := bsp.SetMessagePlane(pr.plane)
		p := bsp.NewPlan(6)
		h := bsp.Collect(build(p))
		res, err := execute(t, p, layout{partitions: 6, slots: pr.slots, memory: pr.memory})
		if err != nil {
			t.Fatalf("%s: %v", pr.name, err)
		}
		hits := bsp.SetMessagePlane(true) - before
		spills := 0
		for _, st := range res.Stages {
			spills += st.Spills
		}
		switch {
		case pr.plane && pr.memory > 1<<20 && hits == 0:
			t.Fatalf("%s: no superstep read the in-memory blocks", pr.name)
		case !pr.plane && hits != 0:
			t.Fatalf("%s: %d supersteps read in-memory blocks with the plane off", pr.name, hits)
		case pr.memory <= 1<<20 && spills == 0:
			t.Fatalf("%s: nothing spilled", pr.name)
		}
		out, err := bsp.ReadCollected(context.Background(), res, h)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		eq := func(a, b T) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
		if pr.memory <= 1<<20 && spilled != nil {
			eq = spilled
		}
		if len(outs) > 1 && !slices.EqualFunc(outs[0], out, eq) {
			t.Fatalf("%s: output differs from %s's", pr.name, runs[0].name)
		}
	}
	return outs
}

// TestPregelPlanesAgree runs min-label propagation (weakly connected
// components) and a PageRank-style sum over seeded random graphs with the
// in-memory message plane, with the message files only, and with spilled
// partitions, on 1 to 4 slots: the outputs are identical, the components
// equal a union-find's, and the ranks equal a sequential power iteration's.
func TestPregelPlanesAgree(t *testing.T) {
	{
		s := seed(t)
		edges := randomGraph(s, 1000)
		for _, e := range edges[:len(edges)/2] { // more edges, so that the small budget spills
			edges = append(edges, edge{Src: e.Dst, Dst: e.Src})
		}
		// Components, checked against union-find.
		both := func(p *bsp.Plan) bsp.Dataset[bsp.Edge[int64, struct{}]] {
			return bsp.FlatMap(bsp.FromSlice(p, edges, 5), func(e edge, emit func(edge)) {
				emit(e)
				emit(edge{Src: e.Dst, Dst: e.Src})
			})
		}
		outs := runPlanes(t, nil, func(p *bsp.Plan) bsp.Dataset[bsp.KV[int64, int64]] {
			return bsp.Pregel(bsp.Dataset[bsp.KV[int64, int64]]{}, both(p), bsp.VertexProgram[int64, int64, struct{}, int64]{
				Init: func(id int64) int64 { return id },
				Compute: func(v *bsp.Vertex[int64, int64, struct{}, int64], msgs []int64) {
					changed := v.Superstep() == 0
					for _, m := range msgs {
						if m < v.Value {
							v.Value, changed = m, true
						}
					}
					if changed {
						v.SendToNeighbors(v.Value)
					}
					v.VoteToHalt()
				},
				Combine:       func(a, b int64) int64 { return min(a, b) },
				MaxSupersteps: 10000,
			})
		})
		parent := map[int64]int64{}
		var find func(x int64) int64
		find = func(x int64) int64 {
			if p, ok := parent[x]; ok && p != x {
				r := find(p)
				parent[x] = r
				return r
			}
			parent[x] = x
			return x
		}
		for _, e := range edges {
			a, b := find(e.Src), find(e.Dst)
			parent[max(a, b)] = min(a, b) // the root is the smallest ID
		}
		got := sortedKV(outs[0])
		if len(got) != len(parent) {
			t.Fatalf("seed %d: %d vertices, union-find has %d", s, len(got), len(parent))
		}
		for _, kv := range got {
			if want := find(kv.Key); kv.Value != want {
				t.Fatalf("seed %d: vertex %d labelled %d, union-find says %d", s, kv.Key, kv.Value, want)
			}
		}

		// PageRank-style sums (no dangling redistribution), checked against
		// a sequential power iteration.
		// Every edge three times: DistinctEdges keeps one, and the load is
		// big enough for the small budget to spill.
		const iters = 12
		tripled := slices.Concat(edges, edges, edges)
		near := func(a, b bsp.KV[int64, float64]) bool {
			return a.Key == b.Key && math.Abs(a.Value-b.Value) <= 1e-12*max(1, math.Abs(a.Value))
		}
		ranks := runPlanes(t, near, func(p *bsp.Plan) bsp.Dataset[bsp.KV[int64, float64]] {
			return bsp.Pregel(bsp.Dataset[bsp.KV[int64, float64]]{}, bsp.FromSlice(p, tripled, 5),
				bsp.VertexProgram[int64, float64, struct{}, float64]{
					Init: func(int64) float64 { return 1 },
					Compute: func(v *bsp.Vertex[int64, float64, struct{}, float64], msgs []float64) {
						if v.Superstep() > 0 {
							sum := 0.0
							for _, m := range msgs {
								sum += m
							}
							v.Value = 0.15 + 0.85*sum
						}
						if n := len(v.Edges()); n > 0 {
							v.SendToNeighbors(v.Value / float64(n))
						}
					},
					Combine:       func(a, b float64) float64 { return a + b },
					DistinctEdges: true,
					MaxSupersteps: iters + 1,
				})
		})[0]
		out := map[int64][]int64{}
		seen := map[[2]int64]bool{}
		rank := map[int64]float64{}
		for _, e := range edges {
			rank[e.Src], rank[e.Dst] = 1, 1
			if !seen[[2]int64{e.Src, e.Dst}] {
				seen[[2]int64{e.Src, e.Dst}] = true
				out[e.Src] = append(out[e.Src], e.Dst)
			}
		}
		for range iters {
			in := map[int64]float64{}
			for v, ds := range out {
				for _, d := range ds {
					in[d] += rank[v] / float64(len(ds))
				}
			}
			for v := range rank {
				rank[v] = 0.15 + 0.85*in[v]
			}
		}
		slices.SortFunc(ranks, func(a, b bsp.KV[int64, float64]) int { return cmp.Compare(a.Key, b.Key) })
		if len(ranks) != len(rank) {
			t.Fatalf("seed %d: %d ranks, want %d", s, len(ranks), len(rank))
		}
		for _, kv := range ranks {
			if d := math.Abs(kv.Value - rank[kv.Key]); d > 1e-9*max(1, rank[kv.Key]) {
				t.Fatalf("seed %d: vertex %d rank %v, sequential %v", s, kv.Key, kv.Value, rank[kv.Key])
			}
		}
	}
}
