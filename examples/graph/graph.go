// Package graph holds the Pregel graph jobs:
//
//	superstep run pagerank   --edges FILE_OR_GLOB --out DIR [--damping 0.85] [--tol 1e-6] [--max-iter 100]
//	superstep run components --edges FILE_OR_GLOB --out DIR
//	superstep run sssp       --edges FILE_OR_GLOB --source V --out DIR
//
// Edges are text lines `src<TAB>dst` (sssp: `src<TAB>dst<TAB>weight`);
// blank lines and lines starting with '#' are skipped (the SNAP format's
// comments). Vertex IDs are strings; with --int-ids they are parsed as
// 64-bit integers (faster, and ordered numerically). The vertices are every
// ID that appears in an edge. A malformed line fails the job with its file
// and line number.
package graph

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/superstep/superstep/bsp"
)

func commonFlags(fs *pflag.FlagSet) {
	fs.StringSlice("edges", nil, "edge files, directories or globs (required); "+bsp.ListingHelp)
	fs.String("out", "", "output directory (required)")
	fs.Bool("int-ids", false, "vertex IDs are 64-bit integers")
	fs.Int("checkpoint-every", bsp.DefaultCheckpointEvery, "checkpoint every N supersteps (0: never)")
	fs.Bool("overwrite", false, "replace the output directory if it exists")
}

// PageRankJob ranks vertices with networkx's pagerank semantics.
var PageRankJob = bsp.Register("pagerank", buildPageRank,
	bsp.WithDescription("PageRank of a directed graph; output vertex<TAB>rank"),
	bsp.WithFlags(func(fs *pflag.FlagSet) {
		commonFlags(fs)
		fs.Float64("damping", 0.85, "damping factor (networkx alpha)")
		fs.Float64("tol", 1e-6, "stop when the L1 change of the ranks is below N*tol")
		fs.Int("max-iter", 100, "stop after this many iterations even without convergence")
	}))

// ComponentsJob labels weakly connected components.
var ComponentsJob = bsp.Register("components", buildComponents,
	bsp.WithDescription("weakly connected components; output vertex<TAB>smallest vertex ID of its component"),
	bsp.WithFlags(commonFlags))

// SSSPJob computes single-source shortest paths.
var SSSPJob = bsp.Register("sssp", buildSSSP,
	bsp.WithDescription("single-source shortest paths over non-negative weights; output vertex<TAB>distance for reachable vertices"),
	bsp.WithFlags(func(fs *pflag.FlagSet) {
		commonFlags(fs)
		fs.String("source", "", "the source vertex (required)")
		fs.Int("max-iter", 10000, "stop after this many supersteps")
	}))

func required(name string, a bsp.Args) error {
	if len(a.Strings("edges")) == 0 || a.String("out") == "" {
		return fmt.Errorf("%s: --edges and --out are required", name)
	}
	return nil
}

func sinkOpts(a bsp.Args) []bsp.Option {
	if a.Bool("overwrite") {
		return []bsp.Option{bsp.Overwrite()}
	}
	return nil
}

func checkpointEvery(a bsp.Args) int {
	if n := a.Int("checkpoint-every"); n > 0 {
		return n
	}
	return -1
}

// ParseEdge parses `src<TAB>dst`, or with weighted `src<TAB>dst<TAB>weight`.
func ParseEdge[K any](line string, weighted bool, id func(string) (K, error)) (e bsp.Edge[K, float64], skip bool, err error) {
	if line == "" || line[0] == '#' {
		return e, true, nil
	}
	line = strings.TrimSuffix(line, "\r")
	want := 2
	if weighted {
		want = 3
	}
	var fields [3]string
	n := 0
	for rest := line; ; n++ {
		i := strings.IndexByte(rest, '\t')
		if i < 0 || n == want-1 {
			if n < len(fields) {
				fields[n] = rest
			}
			n++
			if i >= 0 {
				n += strings.Count(rest, "\t")
			}
			break
		}
		fields[n], rest = rest[:i], rest[i+1:]
	}
	if n != want {
		return e, false, fmt.Errorf("want %d tab-separated fields, got %d", want, n)
	}
	if e.Src, err = id(fields[0]); err != nil {
		return e, false, fmt.Errorf("source vertex: %w", err)
	}
	if e.Dst, err = id(fields[1]); err != nil {
		return e, false, fmt.Errorf("destination vertex: %w", err)
	}
	if weighted {
		w, err := strconv.ParseFloat(fields[2], 64)
		switch {
		case err != nil:
			return e, false, fmt.Errorf("weight %q is not a number", fields[2])
		case w < 0 || math.IsNaN(w) || math.IsInf(w, 0):
			return e, false, fmt.Errorf("weight %q: weights must be finite and non-negative", fields[2])
		}
		e.Value = w
	}
	return e, false, nil
}

func stringID(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty vertex ID")
	}
	return s, nil
}

func intID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a 64-bit integer", s)
	}
	return n, nil
}

// Edges reads an edge list.
func Edges[K any](p *bsp.Plan, weighted bool, id func(string) (K, error), paths ...string) bsp.Dataset[bsp.Edge[K, float64]] {
	return bsp.ParseLines(p, func(line string, emit func(bsp.Edge[K, float64])) error {
		e, skip, err := ParseEdge(line, weighted, id)
		if err == nil && !skip {
			emit(e)
		}
		return err
	}, paths...)
}

func format[K any](k K) string {
	switch k := any(k).(type) {
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	}
	return fmt.Sprint(k)
}

func writeTSV[K, V any](d bsp.Dataset[bsp.KV[K, V]], val func(V) string, a bsp.Args) {
	bsp.WriteText(bsp.Map(d, func(kv bsp.KV[K, V]) string { return format(kv.Key) + "\t" + val(kv.Value) }),
		a.String("out"), sinkOpts(a)...)
}

func buildPageRank(p *bsp.Plan, a bsp.Args) error {
	if err := required("pagerank", a); err != nil {
		return err
	}
	d, tol, iters := a.Float64("damping"), a.Float64("tol"), a.Int("max-iter")
	switch {
	case d < 0 || d > 1:
		return fmt.Errorf("pagerank: --damping must be in [0, 1], got %g", d)
	case tol <= 0:
		return fmt.Errorf("pagerank: --tol must be positive, got %g", tol)
	case iters < 1:
		return fmt.Errorf("pagerank: --max-iter must be at least 1, got %d", iters)
	}
	cfg := PageRankConfig{Damping: d, Tol: tol, MaxIter: iters, CheckpointEvery: checkpointEvery(a)}
	rank := func(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
	if a.Bool("int-ids") {
		writeTSV(PageRank(bsp.Dataset[bsp.KV[int64, float64]]{}, Edges(p, false, intID, a.Strings("edges")...), cfg), rank, a)
	} else {
		writeTSV(PageRank(bsp.Dataset[bsp.KV[string, float64]]{}, Edges(p, false, stringID, a.Strings("edges")...), cfg), rank, a)
	}
	return nil
}

// PageRankConfig are PageRank's parameters (networkx's names).
type PageRankConfig struct {
	Damping         float64
	Tol             float64
	MaxIter         int
	CheckpointEvery int
}

// PageRank ranks the vertices of a directed graph as networkx.pagerank does:
// duplicate edges count once, a dangling vertex's rank is spread uniformly,
// and the iteration stops when the L1 change is below N*Tol or after MaxIter
// iterations. The vertices are those of vertices (which may be the zero
// Dataset; their values are ignored) and every edge endpoint. Superstep 0
// counts the vertices, superstep 1 sets every rank to 1/N, and superstep
// i+1 runs iteration i.
func PageRank[K any](vertices bsp.Dataset[bsp.KV[K, float64]], edges bsp.Dataset[bsp.Edge[K, float64]], cfg PageRankConfig) bsp.Dataset[bsp.KV[K, float64]] {
	dangling := bsp.SumAgg[float64]("dangling")
	delta := bsp.SumAgg[float64]("delta")
	d := cfg.Damping
	prog := bsp.VertexProgram[K, float64, float64, float64]{
		Compute: func(v *bsp.Vertex[K, float64, float64, float64], msgs []float64) {
			n := float64(v.NumVertices())
			switch v.Superstep() {
			case 0:
				return // the vertex count is not known yet
			case 1:
				v.Value = 1 / n
			default:
				sum := 0.0
				for _, m := range msgs {
					sum += m
				}
				next := d*(sum+dangling.Value(v)/n) + (1-d)/n
				delta.Add(v, math.Abs(next-v.Value))
				v.Value = next
			}
			if out := len(v.Edges()); out == 0 {
				dangling.Add(v, v.Value)
			} else {
				v.SendToNeighbors(v.Value / float64(out))
			}
		},
		Combine:       func(a, b float64) float64 { return a + b },
		DistinctEdges: true, // duplicate edges count once
		Aggregators:   []bsp.Aggregator{dangling, delta},
		Master: func(m *bsp.Master) bool {
			return m.Superstep() < 3 || delta.Value(m) >= float64(m.NumVertices())*cfg.Tol
		},
		MaxSupersteps:   cfg.MaxIter + 2,
		CheckpointEvery: cfg.CheckpointEvery,
	}
	return bsp.Pregel(vertices, edges, prog)
}

func buildComponents(p *bsp.Plan, a bsp.Args) error {
	if err := required("components", a); err != nil {
		return err
	}
	every := checkpointEvery(a)
	if a.Bool("int-ids") {
		writeTSV(Components(Edges(p, false, intID, a.Strings("edges")...), every), format[int64], a)
	} else {
		writeTSV(Components(Edges(p, false, stringID, a.Strings("edges")...), every), format[string], a)
	}
	return nil
}

// Components labels every vertex with the smallest vertex ID of its weakly
// connected component, by label propagation over the edges taken both ways.
func Components[K cmp.Ordered](edges bsp.Dataset[bsp.Edge[K, float64]], checkpointEvery int) bsp.Dataset[bsp.KV[K, K]] {
	both := bsp.FlatMap(edges, func(e bsp.Edge[K, float64], emit func(bsp.Edge[K, struct{}])) {
		emit(bsp.Edge[K, struct{}]{Src: e.Src, Dst: e.Dst})
		emit(bsp.Edge[K, struct{}]{Src: e.Dst, Dst: e.Src})
	})
	prog := bsp.VertexProgram[K, K, struct{}, K]{
		Init: func(id K) K { return id },
		Compute: func(v *bsp.Vertex[K, K, struct{}, K], msgs []K) {
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
		Combine:         func(a, b K) K { return min(a, b) },
		DistinctEdges:   true, // parallel edges change no label: drop them at load, not in a shuffle
		MaxSupersteps:   math.MaxInt32,
		CheckpointEvery: checkpointEvery,
	}
	return bsp.Pregel(bsp.Dataset[bsp.KV[K, K]]{}, both, prog)
}

func buildSSSP(p *bsp.Plan, a bsp.Args) error {
	if err := required("sssp", a); err != nil {
		return err
	}
	src := a.String("source")
	if src == "" {
		return errors.New("sssp: --source is required")
	}
	every, iters := checkpointEvery(a), a.Int("max-iter")
	dist := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	if a.Bool("int-ids") {
		s, err := intID(src)
		if err != nil {
			return fmt.Errorf("sssp: --source: %w", err)
		}
		writeTSV(SSSP(Edges(p, true, intID, a.Strings("edges")...), s, iters, every), dist, a)
	} else {
		writeTSV(SSSP(Edges(p, true, stringID, a.Strings("edges")...), src, iters, every), dist, a)
	}
	return nil
}

// ErrNoSource is the error of an SSSP job whose source vertex is not in the
// graph.
var ErrNoSource = errors.New("the source vertex is not in the graph")

// SSSP returns the length of the shortest path from source to every vertex
// it reaches, with non-negative edge weights (parallel edges: the lightest
// counts).
func SSSP[K comparable](edges bsp.Dataset[bsp.Edge[K, float64]], source K, maxSupersteps, checkpointEvery int) bsp.Dataset[bsp.KV[K, float64]] {
	found := bsp.CountAgg("source")
	prog := bsp.VertexProgram[K, float64, float64, float64]{
		Init: func(K) float64 { return math.Inf(1) },
		Compute: func(v *bsp.Vertex[K, float64, float64, float64], msgs []float64) {
			best := v.Value
			if v.Superstep() == 0 && v.ID == source {
				best = 0
				found.Add(v, 1)
			}
			for _, m := range msgs {
				best = min(best, m)
			}
			if best < v.Value || (v.Superstep() == 0 && best == 0) {
				v.Value = best
				for _, e := range v.Edges() {
					v.Send(e.Dst, best+e.Value)
				}
			}
			v.VoteToHalt()
		},
		Combine:     func(a, b float64) float64 { return min(a, b) },
		Aggregators: []bsp.Aggregator{found},
		Master: func(m *bsp.Master) bool {
			if m.Superstep() == 1 && found.Value(m) == 0 {
				m.Fail(fmt.Errorf("sssp: %w: %v", ErrNoSource, source))
			}
			return true
		},
		MaxSupersteps:   maxSupersteps,
		CheckpointEvery: checkpointEvery,
	}
	out := bsp.Pregel(bsp.Dataset[bsp.KV[K, float64]]{}, edges, prog)
	return bsp.Filter(out, func(kv bsp.KV[K, float64]) bool { return !math.IsInf(kv.Value, 1) })
}
