package bsp

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/superstep/superstep/internal/codec"
	"github.com/superstep/superstep/shuffle"
)

// The Pregel edge load. Map tasks send every edge to its source's partition
// in input order, unsorted, plus one existence row per destination (to the
// destination's partition). A loading task reads its partition's rows in map
// task and run order, so every vertex sees its out-edges in input order, and
// builds the dense partition in memory: vertices numbered in encoded-key
// order, out-edges as CSR arrays, every edge's destination resolved once to a
// slot of the partition's routing (see routing). Nothing is sorted but the
// vertex keys and the distinct destinations. When the partition outgrows the
// task's memory budget the task starts over with an external sort of the same
// rows (sortedWriter runs in a scratch file) and builds a spilled partition
// from the merged, sorted stream.

// edgeRow is a row of the edge load shuffle.
type edgeRow[K, E any] = shuffleRow[pregelEdgeRow[K, E]]

// dstCacheSize is the number of destinations an edgeWriter remembers having
// announced (a direct-mapped cache: a forgotten one is announced again,
// which is redundant but harmless).
const dstCacheSize = 1 << 16

// edgeWriter is the map side of the edge load: per-partition blocks of rows
// in arrival order.
type edgeWriter[K, E any] struct {
	tc    *taskCtx
	out   shuffleOut
	kr    *keyer[K]
	bs    []*codec.Builder[edgeRow[K, E]]
	row   edgeRow[K, E]
	limit int // block bytes
	seen  []string
}

func newEdgeWriter[K, E any](tc *taskCtx, out shuffleOut, kr *keyer[K]) (*edgeWriter[K, E], error) {
	c, err := codec.For[edgeRow[K, E]]()
	if err != nil {
		return nil, err
	}
	w := &edgeWriter[K, E]{tc: tc, out: out, kr: kr.clone(), bs: make([]*codec.Builder[edgeRow[K, E]], out.n),
		seen: make([]string, dstCacheSize)}
	// Every partition holds a block under construction: keep them all within
	// half the budget.
	w.limit = int(min(int64(blockBytes), max(tc.env.MemoryBudget/int64(2*out.n), 16<<10)))
	for i := range w.bs {
		w.bs[i] = c.NewBuilder(tc.env.Mem)
		tc.onClose(w.bs[i].Release)
	}
	return w, nil
}

func (w *edgeWriter[K, E]) append(key string, r pregelEdgeRow[K, E]) {
	p := w.out.part.Partition(bytesOf(key))
	w.row.Key, w.row.Value = bytesOf(key), r
	b := w.bs[p]
	b.Append(&w.row)
	if b.Bytes() >= w.limit || b.Len() >= blockRows {
		w.tc.fail(w.flush(p))
	}
}

func (w *edgeWriter[K, E]) add(e Edge[K, E]) {
	w.append(w.kr.view(e.Src), pregelEdgeRow[K, E]{Dst: e.Dst, Value: e.Value})
	dk := w.kr.view(e.Dst)
	h := xxhash.Sum64String(dk) & (dstCacheSize - 1)
	if w.seen[h] == dk {
		return
	}
	w.seen[h] = strings.Clone(dk)
	w.append(dk, pregelEdgeRow[K, E]{Rev: true})
}

func (w *edgeWriter[K, E]) flush(p int) error {
	b := w.bs[p]
	if b.Len() == 0 {
		return nil
	}
	rec := b.NewRecord()
	defer rec.Release()
	return w.out.w.Write(p, rec)
}

func (w *edgeWriter[K, E]) finish() error {
	for p := range w.bs {
		if err := w.flush(p); err != nil {
			return err
		}
	}
	if err := w.out.w.FinishRun(); err != nil {
		return err
	}
	return w.tc.closeShuffleOut(w.out)
}

// errOverBudget stops a dense load that outgrew the memory budget.
var errOverBudget = fmt.Errorf("bsp: Pregel partition over the memory budget")

// routing lets an in-memory partition send messages along its edges without
// hashing or sorting: the distinct destinations are sorted once, in shuffle
// order (partition, then key), and every edge knows its destination's slot.
// Sender and receiver agree on this order: the messages from one partition
// to another are the values of a contiguous range of slots.
type routing struct {
	slotKey  []string
	slotPart []int32
	edgeSlot []int32
	// partStart[q] is the first slot of partition q; partStart has one entry
	// per partition plus the end.
	partStart []int32
}

// newRouting sorts the destinations slotKey (numbered in first-use order by
// edgeSlot) into shuffle order and renumbers edgeSlot to match; it keeps
// both slices.
func newRouting(p shuffle.Partitioner, slotKey []string, edgeSlot []int32) *routing {
	n := len(slotKey)
	parts := make([]int32, n)
	perm := make([]int32, n)
	for i, k := range slotKey {
		parts[i], perm[i] = int32(p.Partition(bytesOf(k))), int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		if c := cmp.Compare(parts[a], parts[b]); c != 0 {
			return c
		}
		return strings.Compare(slotKey[a], slotKey[b])
	})
	rt := &routing{slotKey: make([]string, n), slotPart: make([]int32, n), edgeSlot: edgeSlot,
		partStart: make([]int32, p.NumPartitions()+1)}
	renum := make([]int32, n)
	for s, i := range perm {
		rt.slotKey[s], rt.slotPart[s], renum[i] = slotKey[i], parts[i], int32(s)
	}
	for j, s := range edgeSlot {
		edgeSlot[j] = renum[s]
	}
	for q, s := 0, 0; q < len(rt.partStart); q++ {
		for s < n && int(rt.slotPart[s]) < q {
			s++
		}
		rt.partStart[q] = int32(s)
	}
	return rt
}

// slots numbers destinations in first-use order.
type slots struct {
	index map[string]int32
	keys  []string
}

// of returns dk's slot; dk may alias a scratch buffer.
func (s *slots) of(dk string) (int32, bool) {
	if i, ok := s.index[dk]; ok {
		return i, false
	}
	k := strings.Clone(dk)
	i := int32(len(s.keys))
	s.index[k] = i
	s.keys = append(s.keys, k)
	return i, true
}

// loadDense builds the partition in memory from the stage's shuffle input.
// It returns errOverBudget, having built nothing, when the partition does not
// fit the task's memory budget.
func (r *pregelRun[K, V, E, M]) loadDense() error {
	tc := r.tc
	openers, err := tc.env.Inputs.Runs(tc.ctx, r.node, r.edgeSide, r.partNo)
	if err != nil {
		return err
	}
	budget := tc.env.MemoryBudget
	var (
		vidx  = map[string]int32{}
		vkeys []string
		esrc  []int32
		edges []OutEdge[K, E]
		used  int64
	)
	ec, err := codec.For[OutEdge[K, E]]()
	if err != nil {
		return err
	}
	eest := newSizeEstimate(tc, ec)
	vertex := func(key []byte) int32 {
		if i, ok := vidx[string(key)]; ok {
			return i
		}
		k := string(key)
		i := int32(len(vkeys))
		vidx[k] = i
		vkeys = append(vkeys, k)
		used += int64(len(k)) + 64
		return i
	}
	err = eachRow(tc, openers, func(row *edgeRow[K, E]) error {
		i := vertex(row.Key)
		if !row.Value.Rev {
			esrc = append(esrc, i)
			edges = append(edges, OutEdge[K, E]{Dst: row.Value.Dst, Value: row.Value.Value})
			used += 8 + eest.of(edges[len(edges)-1])
		}
		if used > budget {
			return errOverBudget
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := len(vkeys)
	vals := make([]V, n)
	have := make([]bool, n)
	if r.hasVertices {
		vopen, err := tc.env.Inputs.Runs(tc.ctx, r.node, 0, r.partNo)
		if err != nil {
			return err
		}
		err = eachRow(tc, vopen, func(row *shuffleRow[V]) error {
			i := vertex(row.Key)
			if int(i) >= len(vals) {
				var zero V
				vals, have = append(vals, zero), append(have, false)
			}
			if have[i] {
				var id K
				if err := r.kr.decode(row.Key, &id); err != nil {
					return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
				}
				return fmt.Errorf("Pregel: vertex %v appears twice in the vertex dataset", id)
			}
			vals[i], have[i] = row.Value, true
			if used > budget {
				return errOverBudget
			}
			return nil
		})
		if err != nil {
			return err
		}
		n = len(vkeys)
	}
	// Number the vertices in key order.
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(vkeys[a], vkeys[b]) })
	rank := make([]int32, n)
	for f, i := range order {
		rank[i] = int32(f)
	}
	p := &pregelPart[K, V, E]{superstep: -1, n: int64(n), keys: make([]string, n), ids: make([]K, n),
		vals: make([]V, n), halted: make([]bool, n), edgeOff: make([]int64, n+1)}
	for f, i := range order {
		p.keys[f] = vkeys[i]
		if err := r.kr.decode(bytesOf(vkeys[i]), &p.ids[f]); err != nil {
			return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
		}
		switch {
		case have[i]:
			p.vals[f] = vals[i]
		case r.prog.Init != nil:
			p.vals[f] = r.prog.Init(p.ids[f])
		}
	}
	vals, have, vidx, vkeys = nil, nil, nil, nil
	// CSR, stable: each vertex's edges in arrival order.
	for _, s := range esrc {
		p.edgeOff[rank[s]+1]++
	}
	for f := range n {
		p.edgeOff[f+1] += p.edgeOff[f]
	}
	pos := slices.Clone(p.edgeOff[:n])
	p.edges = make([]OutEdge[K, E], len(edges))
	for j, s := range esrc {
		f := rank[s]
		p.edges[pos[f]] = edges[j]
		pos[f]++
	}
	edges, esrc = nil, nil
	// Destinations to slots; parallel edges dropped if asked.
	dst := slots{index: map[string]int32{}}
	edgeSlot := make([]int32, len(p.edges))
	var last []int32 // DistinctEdges: last[slot] is 1 + the last vertex that used it
	out := int64(0)
	for f := range n {
		lo, hi := p.edgeOff[f], p.edgeOff[f+1]
		p.edgeOff[f] = out
		for j := lo; j < hi; j++ {
			s, _ := dst.of(r.kr.view(p.edges[j].Dst))
			if r.prog.DistinctEdges {
				for int(s) >= len(last) {
					last = append(last, 0)
				}
				if last[s] == int32(f)+1 {
					continue
				}
				last[s] = int32(f) + 1
			}
			p.edges[out], edgeSlot[out] = p.edges[j], s
			out++
		}
	}
	p.edgeOff[n] = out
	p.edges, edgeSlot = slices.Clip(p.edges[:out]), edgeSlot[:out]
	p.route = newRouting(r.partitioner(), dst.keys, edgeSlot)
	r.part = p
	return nil
}

// partitioner is the hash partitioner of the stage's messages.
func (r *pregelRun[K, V, E, M]) partitioner() shuffle.Partitioner {
	return shuffle.NewHashPartitioner(r.tc.prog.plan.nodes[r.node].wide.partitions)
}

// loadSorted builds the partition from the stage's shuffle input sorted by
// an external sort (a scratch file of sorted runs): the path of partitions
// that do not fit the memory budget.
func (r *pregelRun[K, V, E, M]) loadSorted() error {
	tc := r.tc
	openers, err := tc.env.Inputs.Runs(tc.ctx, r.node, r.edgeSide, r.partNo)
	if err != nil {
		return err
	}
	path := filepath.Join(r.localDir(), fmt.Sprintf("load-%05d-a%d.ssf", r.partNo, tc.spec.Attempt))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	fw, err := shuffle.NewFileWriter(path, 1, shuffle.WriterOptions{Compression: messageCompression(tc.env.Compression)})
	if err != nil {
		return err
	}
	defer os.Remove(path)
	tc.onClose(func() { _ = fw.Abort() })
	sw, err := newSortedWriter[pregelEdgeRow[K, E]](tc, shuffleOut{w: fw, part: shuffle.NewHashPartitioner(1), n: 1}, false, false)
	if err != nil {
		return err
	}
	err = eachRow(tc, openers, func(row *edgeRow[K, E]) error {
		sw.add(string(row.Key), true, row.Value)
		return tc.err
	})
	if err == nil {
		err = sw.writeRun()
	}
	if err != nil {
		return err
	}
	ix, err := fw.Close()
	if err != nil {
		return err
	}
	tc.report.SpillBytes += ix.Bytes - sw.spilled // the whole scratch file is spill; spill counted its early runs
	fr, err := shuffle.OpenFile(path)
	if err != nil {
		return err
	}
	tc.onClose(func() { _ = fr.Close() })
	var runs []RunOpener
	for _, run := range fr.Index().Runs[0] {
		runs = append(runs, func(context.Context) (shuffle.RecordIterator, error) {
			return shuffle.NewRunIterator(shuffle.FileBlockSource(fr), run, tc.env.Mem), nil
		})
	}
	er, err := openSortedFrom[pregelEdgeRow[K, E]](tc, runs, false)
	if err != nil {
		return err
	}
	return r.buildSorted(er)
}
