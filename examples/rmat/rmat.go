// Package rmat generates R-MAT graphs (Chakrabarti, Zhan, Faloutsos 2004)
// with the Graph500 parameters as a Superstep job:
//
//	superstep run rmat --scale S --edge-factor F --out DIR [--seed N]
//
// It writes edge-factor x 2^scale edges as TSV lines `src<TAB>dst`, vertex
// IDs being integers in [0, 2^scale). Each edge is drawn by descending
// `scale` levels of the adjacency matrix, choosing a quadrant with
// probabilities a=0.57, b=0.19, c=0.19, d=0.05. Edge i depends only on the
// seed and i, so the output is the same for any number of partitions or
// workers. (Graph500's vertex permutation and probability noise are not
// applied: vertex 0 is the highest-degree one.)
package rmat

import (
	"errors"
	"math/rand/v2"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/superstep/superstep/bsp"
)

// Graph500 quadrant probabilities.
const (
	A = 0.57
	B = 0.19
	C = 0.19
)

// Job is the registered rmat job.
var Job = bsp.Register("rmat", build,
	bsp.WithDescription("generate an R-MAT graph (Graph500 parameters) as src<TAB>dst edges"),
	bsp.WithFlags(func(fs *pflag.FlagSet) {
		fs.Int("scale", 16, "log2 of the number of vertices")
		fs.Int("edge-factor", 16, "edges per vertex")
		fs.Uint64("seed", 1, "random seed")
		fs.String("out", "", "output directory (required)")
		fs.Bool("overwrite", false, "replace the output directory if it exists")
	}))

func build(p *bsp.Plan, a bsp.Args) error {
	scale, ef := a.Int("scale"), a.Int("edge-factor")
	seed, _ := a.Flags().GetUint64("seed")
	switch {
	case a.String("out") == "":
		return errors.New("rmat: --out is required")
	case scale < 1 || scale > 40:
		return errors.New("rmat: --scale must be in [1, 40]")
	case ef < 1:
		return errors.New("rmat: --edge-factor must be at least 1")
	}
	var opts []bsp.Option
	if a.Bool("overwrite") {
		opts = append(opts, bsp.Overwrite())
	}
	bsp.WriteText(Edges(p, scale, ef, seed, p.DefaultPartitions()), a.String("out"), opts...)
	return nil
}

// Edges is the dataset of the graph's edge lines in `parts` partitions.
func Edges(p *bsp.Plan, scale, edgeFactor int, seed uint64, parts int) bsp.Dataset[string] {
	n := int64(edgeFactor) << scale
	var ranges [][2]int64
	for i := int64(0); i < int64(parts); i++ {
		if lo, hi := n*i/int64(parts), n*(i+1)/int64(parts); hi > lo {
			ranges = append(ranges, [2]int64{lo, hi})
		}
	}
	return bsp.FlatMap(bsp.FromSlice(p, ranges, len(ranges)), func(r [2]int64, emit func(string)) {
		var buf []byte
		for i := r[0]; i < r[1]; i++ {
			src, dst := Edge(seed, scale, i)
			buf = strconv.AppendUint(buf[:0], src, 10)
			buf = append(buf, '\t')
			buf = strconv.AppendUint(buf, dst, 10)
			emit(string(buf))
		}
	})
}

// Edge returns edge i of the graph with the given seed and scale.
func Edge(seed uint64, scale int, i int64) (src, dst uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	for range scale {
		src, dst = src<<1, dst<<1
		switch u := r.Float64(); {
		case u < A:
		case u < A+B:
			dst |= 1
		case u < A+B+C:
			src |= 1
		default:
			src |= 1
			dst |= 1
		}
	}
	return src, dst
}
