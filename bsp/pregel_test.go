package bsp_test

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/superstep/superstep/bsp"
)

type edge = bsp.Edge[int64, struct{}]

func sortedKV[K cmp.Ordered, V any](kvs []bsp.KV[K, V]) []bsp.KV[K, V] {
	slices.SortFunc(kvs, func(a, b bsp.KV[K, V]) int { return cmp.Compare(a.Key, b.Key) })
	return kvs
}

// TestPregelAggregators: in superstep 0 every vertex adds its ID to sum,
// min, max, count and a user-defined aggregator (the longest ID string); in
// superstep 1 every vertex reads the reduced values, which must be the same
// everywhere and equal the hand-computed ones.
func TestPregelAggregators(t *testing.T) {
	forLayouts(t, func(t *testing.T, l layout) {
		sum, lo, hi := bsp.SumAgg[int64]("sum"), bsp.MinAgg[int64]("min"), bsp.MaxAgg[int64]("max")
		count := bsp.CountAgg("count")
		longest := bsp.NewAggregator("longest", func(a, b string) string {
			if len(a) != len(b) {
				return map[bool]string{true: a, false: b}[len(a) > len(b)]
			}
			return min(a, b)
		})
		unused := bsp.MaxAgg[float64]("unused")
		var edges []edge
		for i := int64(1); i <= 100; i++ {
			edges = append(edges, edge{Src: i, Dst: i%100 + 1})
		}
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[int64, string]] {
			return bsp.Pregel(bsp.Dataset[bsp.KV[int64, string]]{}, bsp.FromSlice(p, edges, 3),
				bsp.VertexProgram[int64, string, struct{}, int64]{
					Aggregators: []bsp.Aggregator{sum, lo, hi, count, longest, unused},
					Compute: func(v *bsp.Vertex[int64, string, struct{}, int64], _ []int64) {
						if v.Superstep() == 0 {
							sum.Add(v, v.ID)
							lo.Add(v, v.ID)
							hi.Add(v, v.ID)
							count.Add(v, 1)
							longest.Add(v, fmt.Sprint(v.ID))
							return
						}
						_, set := unused.Get(v)
						v.Value = fmt.Sprintf("%d %d %d %d %s %v %d", sum.Value(v), lo.Value(v), hi.Value(v),
							count.Value(v), longest.Value(v), set, v.NumVertices())
						v.VoteToHalt()
					},
					MaxSupersteps: 5,
				})
		})
		if len(got) != 100 {
			t.Fatalf("%d vertices", len(got))
		}
		for _, kv := range got {
			if kv.Value != "5050 1 100 100 100 false 100" {
				t.Fatalf("vertex %d saw %q", kv.Key, kv.Value)
			}
		}
	})
}

// TestPregelCombinerAndHalting passes a token down a chain: every vertex
// halts at once and wakes only when a message arrives; each records the
// superstep it woke in. A vertex with several in-edges gets one combined
// message with a combiner and all of them without.
func TestPregelCombinerAndHalting(t *testing.T) {
	// 1→2→...→10, and 1..5 → 20 (a fan-in of 5).
	var edges []edge
	for i := int64(1); i < 10; i++ {
		edges = append(edges, edge{Src: i, Dst: i + 1})
	}
	for i := int64(1); i <= 5; i++ {
		edges = append(edges, edge{Src: i, Dst: 20})
	}
	type val struct {
		Woke  []int
		Inbox []int64
	}
	for _, combine := range []bool{false, true} {
		forLayouts(t, func(t *testing.T, l layout) {
			prog := bsp.VertexProgram[int64, val, struct{}, int64]{
				Compute: func(v *bsp.Vertex[int64, val, struct{}, int64], msgs []int64) {
					if v.Superstep() > 0 {
						v.Value.Woke = append(v.Value.Woke, v.Superstep())
						v.Value.Inbox = append(v.Value.Inbox, msgs...)
					}
					if v.Superstep() == 0 && v.ID == 1 || len(msgs) > 0 {
						if v.ID <= 5 {
							v.Send(20, v.ID)
						}
						if v.ID < 10 {
							v.Send(v.ID+1, v.ID)
						}
					}
					v.VoteToHalt()
				},
				MaxSupersteps: 50,
			}
			if combine {
				prog.Combine = func(a, b int64) int64 { return a + b }
			}
			got := sortedKV(collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[int64, val]] {
				return bsp.Pregel(bsp.Dataset[bsp.KV[int64, val]]{}, bsp.FromSlice(p, edges, 2), prog)
			}))
			if len(got) != 11 {
				t.Fatalf("%d vertices", len(got))
			}
			for _, kv := range got[:10] {
				i := kv.Key
				want := fmt.Sprint([]int{int(i - 1)}, []int64{i - 1})
				if i == 1 {
					want = "[] []"
				}
				if s := fmt.Sprint(kv.Value.Woke, kv.Value.Inbox); s != want {
					t.Fatalf("vertex %d: woke/inbox %s, want %s", i, s, want)
				}
			}
			// Vertex 20 hears from vertex i in superstep i: one message each
			// time, so combining changes nothing there...
			if s := fmt.Sprint(got[10].Value.Woke); s != "[1 2 3 4 5]" {
				t.Fatalf("vertex 20 woke in %s", s)
			}
			if s := fmt.Sprint(got[10].Value.Inbox); s != "[1 2 3 4 5]" {
				t.Fatalf("vertex 20 got %s", s)
			}
		})
	}
}

// TestPregelCombinerMerges sends many messages to one vertex in one
// superstep: with a combiner it sees one message (their sum), without it
// sees all of them.
func TestPregelCombinerMerges(t *testing.T) {
	var edges []edge
	for i := int64(1); i <= 300; i++ {
		edges = append(edges, edge{Src: i, Dst: 0})
	}
	for _, combine := range []bool{false, true} {
		forLayouts(t, func(t *testing.T, l layout) {
			prog := bsp.VertexProgram[int64, string, struct{}, int64]{
				Compute: func(v *bsp.Vertex[int64, string, struct{}, int64], msgs []int64) {
					if v.Superstep() == 0 {
						v.SendToNeighbors(v.ID)
					} else if v.ID == 0 {
						var s int64
						for _, m := range msgs {
							s += m
						}
						v.Value = fmt.Sprint(len(msgs), s)
					}
					v.VoteToHalt()
				},
				MaxSupersteps: 10,
			}
			want := "300 45150"
			if combine {
				prog.Combine = func(a, b int64) int64 { return a + b }
				want = "1 45150"
			}
			got := sortedKV(collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[int64, string]] {
				return bsp.Pregel(bsp.Dataset[bsp.KV[int64, string]]{}, bsp.FromSlice(p, edges, 4), prog)
			}))
			if got[0].Key != 0 || got[0].Value != want {
				t.Fatalf("vertex 0: %q, want %q", got[0].Value, want)
			}
		})
	}
}

// TestPregelMasterAndMaxSupersteps: a master stops the iteration once an
// aggregate passes a threshold; without it the iteration stops at
// MaxSupersteps.
func TestPregelMasterAndMaxSupersteps(t *testing.T) {
	edges := []bsp.Edge[string, struct{}]{{Src: "a", Dst: "b"}, {Src: "b", Dst: "a"}}
	for _, c := range []struct {
		master bool
		want   int64
	}{{true, 4}, {false, 7}} {
		total := bsp.SumAgg[int64]("total")
		prog := bsp.VertexProgram[string, int64, struct{}, int64]{
			Aggregators: []bsp.Aggregator{total},
			Compute: func(v *bsp.Vertex[string, int64, struct{}, int64], _ []int64) {
				v.Value++ // never halts
				total.Add(v, v.Value)
			},
			MaxSupersteps: 7,
		}
		if c.master {
			// After superstep k each vertex holds k+1, total 2(k+1): stop
			// before superstep 4, when the total of superstep 3 is 8.
			prog.Master = func(m *bsp.Master) bool { return total.Value(m) < 8 }
		}
		got := collect(t, layouts[1], func(p *bsp.Plan) bsp.Dataset[bsp.KV[string, int64]] {
			return bsp.Pregel(bsp.Dataset[bsp.KV[string, int64]]{}, bsp.FromSlice(p, edges, 1), prog)
		})
		for _, kv := range got {
			if kv.Value != c.want {
				t.Fatalf("master %v: vertex %s ran %d supersteps, want %d", c.master, kv.Key, kv.Value, c.want)
			}
		}
	}
}

// TestPregelVertexValues: given vertex values are used, vertices only in
// edges get Init's, and the result feeds ordinary operators.
func TestPregelVertexValues(t *testing.T) {
	verts := []bsp.KV[string, int]{{Key: "a", Value: 10}, {Key: "lonely", Value: 7}}
	edges := []bsp.Edge[string, int]{{Src: "a", Dst: "b", Value: 1}, {Src: "b", Dst: "c", Value: 2}}
	got := collect(t, layouts[2], func(p *bsp.Plan) bsp.Dataset[string] {
		out := bsp.Pregel(bsp.FromSlice(p, verts, 2), bsp.FromSlice(p, edges, 2), bsp.VertexProgram[string, int, int, int]{
			Init: func(id string) int { return len(id) * 100 },
			Compute: func(v *bsp.Vertex[string, int, int, int], msgs []int) {
				for _, m := range msgs {
					v.Value += m
				}
				if v.Superstep() == 0 {
					for _, e := range v.Edges() {
						v.Send(e.Dst, e.Value)
					}
				}
				v.VoteToHalt()
			},
			MaxSupersteps: 5,
		})
		return bsp.Sort(bsp.Map(out, func(kv bsp.KV[string, int]) string { return fmt.Sprintf("%s=%d", kv.Key, kv.Value) }))
	})
	if s := strings.Join(got, " "); s != "a=10 b=101 c=102 lonely=7" {
		t.Fatalf("got %s", s)
	}
}

func TestPregelErrors(t *testing.T) {
	run := func(verts []bsp.KV[string, int], edges []bsp.Edge[string, int], compute func(v *bsp.Vertex[string, int, int, int], _ []int)) error {
		p := bsp.NewPlan(2)
		var vd bsp.Dataset[bsp.KV[string, int]]
		if verts != nil {
			vd = bsp.FromSlice(p, verts, 1)
		}
		bsp.Collect(bsp.Pregel(vd, bsp.FromSlice(p, edges, 1), bsp.VertexProgram[string, int, int, int]{
			Compute: compute, MaxSupersteps: 3}))
		_, err := execute(t, p, layouts[0])
		return err
	}
	edges := []bsp.Edge[string, int]{{Src: "a", Dst: "b"}}
	err := run(nil, edges, func(v *bsp.Vertex[string, int, int, int], _ []int) {
		if v.Superstep() == 0 {
			v.Send("nobody", 1)
		}
	})
	if err == nil || !strings.Contains(err.Error(), "a message was sent to vertex nobody, which does not exist") {
		t.Fatalf("message to a missing vertex: %v", err)
	}
	err = run([]bsp.KV[string, int]{{Key: "a"}, {Key: "a"}}, edges, func(*bsp.Vertex[string, int, int, int], []int) {})
	if err == nil || !strings.Contains(err.Error(), "vertex a appears twice") {
		t.Fatalf("duplicate vertex: %v", err)
	}
	p := bsp.NewPlan(2)
	bsp.Collect(bsp.Pregel(bsp.Dataset[bsp.KV[string, int]]{}, bsp.FromSlice(p, edges, 1), bsp.VertexProgram[string, int, int, int]{}))
	if _, err := bsp.Compile(t.Context(), p, bsp.CompileOptions{JobID: "x"}); err == nil || !strings.Contains(err.Error(), "Compute") {
		t.Fatalf("no Compute: %v", err)
	}
	p = bsp.NewPlan(2)
	a1, a2 := bsp.SumAgg[int]("same"), bsp.SumAgg[int]("same")
	bsp.Collect(bsp.Pregel(bsp.Dataset[bsp.KV[string, int]]{}, bsp.FromSlice(p, edges, 1), bsp.VertexProgram[string, int, int, int]{
		Compute: func(*bsp.Vertex[string, int, int, int], []int) {}, MaxSupersteps: 1, Aggregators: []bsp.Aggregator{a1, a2}}))
	if _, err := bsp.Compile(t.Context(), p, bsp.CompileOptions{JobID: "x"}); err == nil || !strings.Contains(err.Error(), `two aggregators named "same"`) {
		t.Fatalf("duplicate aggregator: %v", err)
	}
}

// TestPregelDistinctEdges: parallel edges are kept once (the first, in
// input order) with DistinctEdges, and all of them without.
func TestPregelDistinctEdges(t *testing.T) {
	edges := []bsp.Edge[int64, int]{{Src: 1, Dst: 2, Value: 10}, {Src: 1, Dst: 3, Value: 11}, {Src: 1, Dst: 2, Value: 12}, {Src: 1, Dst: 1, Value: 13}, {Src: 1, Dst: 3, Value: 14}}
	for _, distinct := range []bool{false, true} {
		got := collect(t, layouts[1], func(p *bsp.Plan) bsp.Dataset[bsp.KV[int64, string]] {
			return bsp.Pregel(bsp.Dataset[bsp.KV[int64, string]]{}, bsp.FromSlice(p, edges, 1), bsp.VertexProgram[int64, string, int, int]{
				Compute: func(v *bsp.Vertex[int64, string, int, int], _ []int) {
					v.Value = fmt.Sprint(v.Edges())
					v.VoteToHalt()
				},
				DistinctEdges: distinct,
				MaxSupersteps: 2,
			})
		})
		want := "[{2 10} {3 11} {2 12} {1 13} {3 14}]"
		if distinct {
			want = "[{2 10} {3 11} {1 13}]"
		}
		for _, kv := range got {
			if kv.Key == 1 && kv.Value != want {
				t.Fatalf("distinct %v: edges of 1 = %s, want %s", distinct, kv.Value, want)
			}
		}
	}
}

func TestStaleMessageOutputs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"job/pregel-3/ss000000-map00001-a0.ssf", "job/pregel-3/ss000001-map00000-a2.ssf",
		"job/pregel-3/ss000002-map00000-a0.ssf", "job/pregel-3/state-00000.ssf", "other/pregel-3/ss000000-map00000-a0.ssf"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	var got []string
	for _, p := range bsp.StaleMessageOutputs(dir, "job", 2) {
		got = append(got, filepath.Base(p))
	}
	slices.Sort(got)
	if s := strings.Join(got, " "); s != "ss000000-map00001-a0.ssf ss000001-map00000-a2.ssf" {
		t.Fatalf("stale outputs: %s", s)
	}
}
