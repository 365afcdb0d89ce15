package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/superstep/superstep/bench/baseline"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/graph"
	"github.com/superstep/superstep/examples/rmat"
)

// PageRank COST settings (McSherry, Isard, Murray 2015): a fixed number of
// iterations on an R-MAT graph. The tolerance is small enough that neither
// the baseline nor the job stops early.
const (
	pagerankIters   = 20
	pagerankTol     = 1e-300
	pagerankDamping = 0.85
	pagerankSeed    = 1
	// defaultScale and defaultEdgeFactor are the graph of the COST paper's
	// size class: 2^20 vertices, 16 edges each.
	defaultScale      = 20
	defaultEdgeFactor = 16
	// rankTolerance is the largest absolute difference allowed between a
	// rank of the job and the baseline's (the summation orders differ).
	rankTolerance = 1e-12
)

// pagerankScale is the R-MAT scale for --size s: --pagerank-scale if set,
// else the preset's (tiny 10, small 14, default 20, large 22), else 20.
func pagerankScale(s string, override int) int64 {
	if override > 0 {
		return int64(override)
	}
	if n, ok := map[string]int64{"tiny": 10, "small": 14, "default": defaultScale, "large": 22}[strings.ToLower(s)]; ok {
		return n
	}
	return defaultScale
}

// pagerankWL ranks the vertices of an R-MAT graph: the baseline is
// baseline.ReadEdges and baseline.PageRank on one thread, the job is
// examples/graph's pagerank with --int-ids.
type pagerankWL struct {
	scale, edgeFactor int

	edgeDir  string   // the rmat job's output directory
	files    []string // its part files
	bytes    int64
	distinct int64     // distinct edges: messages per iteration
	want     []float64 // rank by vertex ID; NaN for IDs without an edge

	// lastRead and lastCompute are the phases of the latest Baseline run.
	lastRead, lastCompute time.Duration
}

func (p *pagerankWL) Name() string { return "pagerank" }

// Prepare generates the graph of the given scale with the rmat job and
// computes the baseline's ranks that every output must match.
func (p *pagerankWL) Prepare(ctx context.Context, dir string, scale int64) error {
	if scale < 1 || scale > 30 {
		return fmt.Errorf("pagerank: scale %d outside [1, 30]", scale)
	}
	if p.edgeFactor < 1 {
		p.edgeFactor = defaultEdgeFactor
	}
	p.scale = int(scale)
	p.edgeDir = filepath.Join(dir, fmt.Sprintf("rmat-s%d-ef%d", p.scale, p.edgeFactor))
	if _, err := os.Stat(p.edgeDir); err != nil {
		cfg := local.DefaultConfig()
		cfg.WorkDir = filepath.Join(dir, "rmat-work")
		ex, err := local.New(cfg)
		if err != nil {
			return err
		}
		args := []string{"--scale", strconv.Itoa(p.scale), "--edge-factor", strconv.Itoa(p.edgeFactor),
			"--seed", strconv.Itoa(pagerankSeed), "--out", p.edgeDir}
		if _, err := executeJob(ctx, ex, rmat.Job.Name, args, 2*cfg.Slots); err != nil {
			return fmt.Errorf("generating the R-MAT graph: %w", err)
		}
	}
	files, err := filepath.Glob(filepath.Join(p.edgeDir, "part-*"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no part files", p.edgeDir)
	}
	p.files, p.bytes = files, 0
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			return err
		}
		p.bytes += info.Size()
	}
	g, err := baseline.ReadEdges(p.files)
	if err != nil {
		return err
	}
	ranks, iters := baseline.PageRank(g, pagerankDamping, pagerankTol, pagerankIters)
	if iters != pagerankIters {
		return fmt.Errorf("pagerank: the baseline stopped after %d iterations, want %d", iters, pagerankIters)
	}
	p.distinct = int64(len(g.Dst))
	p.want = make([]float64, 1<<p.scale)
	for i := range p.want {
		p.want[i] = math.NaN()
	}
	for v, name := range g.Names {
		id, err := strconv.Atoi(name)
		if err != nil || id < 0 || id >= len(p.want) {
			return fmt.Errorf("pagerank: vertex %q outside [0, 2^%d)", name, p.scale)
		}
		p.want[id] = ranks[v]
	}
	return nil
}

// Input is the generated edge count (duplicates included) and the edge
// files' size.
func (p *pagerankWL) Input() (int64, int64) { return int64(p.edgeFactor) << p.scale, p.bytes }

// Messages is what the job's 20 iterations consume: one rank share per
// distinct edge per iteration, before map-side combining (bsp.Result does
// not carry the tasks' IterReport.Messages).
func (p *pagerankWL) Messages() int64 { return p.distinct * pagerankIters }

// Baseline reads the graph, runs 20 iterations and writes vertex<TAB>rank
// lines as the job does; it records the read and compute phases.
func (p *pagerankWL) Baseline(_ context.Context, out string) error {
	t0 := time.Now()
	g, err := baseline.ReadEdges(p.files)
	if err != nil {
		return err
	}
	t1 := time.Now()
	ranks, iters := baseline.PageRank(g, pagerankDamping, pagerankTol, pagerankIters)
	p.lastRead, p.lastCompute = t1.Sub(t0), time.Since(t1)
	if iters != pagerankIters {
		return fmt.Errorf("pagerank: the baseline stopped after %d iterations, want %d", iters, pagerankIters)
	}
	return writePart(out, func(f io.Writer) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		var line []byte
		for v, r := range ranks {
			line = append(line[:0], g.Names[v]...)
			line = append(line, '\t')
			line = strconv.AppendFloat(line, r, 'g', -1, 64)
			line = append(line, '\n')
			bw.Write(line)
		}
		return bw.Flush()
	})
}

// phases reports the read and compute times of the latest Baseline run.
func (p *pagerankWL) phases() (read, compute time.Duration) { return p.lastRead, p.lastCompute }

func (p *pagerankWL) JobArgs(out string) (string, []string) {
	return graph.PageRankJob.Name, []string{"--edges", p.edgeDir, "--out", out, "--int-ids",
		"--max-iter", strconv.Itoa(pagerankIters), "--tol", strconv.FormatFloat(pagerankTol, 'g', -1, 64),
		"--damping", strconv.FormatFloat(pagerankDamping, 'g', -1, 64)}
}

// Validate checks that out has one rank per vertex of the graph, each
// within rankTolerance of the baseline's.
func (p *pagerankWL) Validate(_ context.Context, out string) error {
	parts, err := filepath.Glob(filepath.Join(out, "part-*"))
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return fmt.Errorf("%s: no part files", out)
	}
	seen := make([]bool, len(p.want))
	n := 0
	for _, path := range parts {
		if err := p.validatePart(path, seen, &n); err != nil {
			return err
		}
	}
	want := 0
	for _, r := range p.want {
		if !math.IsNaN(r) {
			want++
		}
	}
	if n != want {
		return fmt.Errorf("pagerank: %d vertices in the output, want %d", n, want)
	}
	return nil
}

func (p *pagerankWL) validatePart(path string, seen []bool, n *int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		id, err1 := strconv.Atoi(k)
		r, err2 := strconv.ParseFloat(v, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("%s:%d: want vertex<TAB>rank, got %q", path, line, sc.Text())
		}
		if id < 0 || id >= len(p.want) || math.IsNaN(p.want[id]) {
			return fmt.Errorf("%s:%d: vertex %d is not in the graph", path, line, id)
		}
		if seen[id] {
			return fmt.Errorf("%s:%d: vertex %d appears twice", path, line, id)
		}
		seen[id] = true
		*n++
		if d := math.Abs(r - p.want[id]); !(d <= rankTolerance) {
			return fmt.Errorf("%s:%d: vertex %d has rank %g, the baseline %g (difference %g > %g)",
				path, line, id, r, p.want[id], d, rankTolerance)
		}
	}
	return sc.Err()
}
