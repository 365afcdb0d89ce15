package bsp

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/superstep/superstep/internal/codec"
	"github.com/superstep/superstep/shuffle"
	"github.com/superstep/superstep/storage"
)

// pregelPart is one resident vertex partition, sorted by encoded key. It
// lives in memory (compact slices) while it fits the task's memory budget;
// beyond that it lives in a state file on the worker's disk (file set, the
// slices empty), which every superstep streams and rewrites.
type pregelPart[K, V, E any] struct {
	superstep int  // the last superstep applied
	dirty     bool // a superstep failed half-way through it
	n         int64

	keys    []string
	ids     []K
	vals    []V
	halted  []bool
	edgeOff []int64 // out-edges of vertex i: edges[edgeOff[i]:edgeOff[i+1]]
	edges   []OutEdge[K, E]

	file string // the state file when spilled

	route *routing // the edges' destinations; nil when spilled

	// inbound[t] maps the slots that task t's routing gives this partition
	// to vertex indices (in-memory exchange, see pregel_plane.go).
	inbound []inbound
}

type inbound struct {
	route *routing
	idx   []int32
}

// messageFileFormat names a message output: superstep, partition, attempt.
const messageFileFormat = "ss%06d-map%05d-a%d.ssf"

// StaleMessageOutputs lists the message outputs under workDir of the job's
// Pregel stages from supersteps before `before`. Once superstep k runs, the
// outputs of supersteps before k-1 are read by nobody (a rollback restores
// from checkpoint files), so executors delete them to bound disk use and
// open files over long iterations.
func StaleMessageOutputs(workDir, jobID string, before int) []string {
	m, _ := filepath.Glob(filepath.Join(workDir, jobID, "pregel-*", "ss*-map*-a*.ssf"))
	var out []string
	for _, p := range m {
		var ss, part, attempt int
		if n, _ := fmt.Sscanf(filepath.Base(p), messageFileFormat, &ss, &part, &attempt); n == 3 && ss < before {
			out = append(out, p)
		}
	}
	return out
}

// denseOut holds the combined messages along edges of one superstep, by
// slot.
type denseOut[M any] struct {
	acc []M
	has []bool
}

// checkpointRow is one vertex in a state or checkpoint file.
type checkpointRow[K, V, E any] struct {
	Key    []byte
	ID     K
	Value  V
	Halted bool
	Edges  []OutEdge[K, E]
}

// vrow is the vertex being visited by scan.
type vrow[K, V, E any] struct {
	key      []byte
	id       K
	val      V
	halted   bool
	idx      int // the vertex's index in an in-memory partition
	edges    []OutEdge[K, E]
	edgeSlot []int32 // the edges' routing slots; nil for a spilled partition
}

// pregelRun is one task of a Pregel stage: one superstep of one partition.
type pregelRun[K, V, E, M any] struct {
	tc          *taskCtx
	prog        *VertexProgram[K, V, E, M]
	kr          *keyer[K]
	node        int
	partNo      int
	hasVertices bool
	edgeSide    int

	superstep int
	part      *pregelPart[K, V, E]
	aggs      *aggState
	sw        *sortedWriter[M]
	dense     *denseOut[M]
	sent      int64
	keyed     int64          // messages sent by key (not along an edge)
	blocks    []*msgBlock[M] // the senders' published blocks, when all are in this process
}

func (r *pregelRun[K, V, E, M]) residentKey() string {
	return r.tc.prog.Spec.JobID + "/" + strconv.Itoa(r.tc.spec.Stage) + "/" + strconv.Itoa(r.partNo)
}

func (r *pregelRun[K, V, E, M]) checkpointDir(superstep int) string {
	return storage.Join(r.tc.stage.Iterate.CheckpointDir, fmt.Sprintf("ss-%06d", superstep))
}

// localDir holds the job's Pregel files on this worker (message outputs and
// spilled partitions); it goes with the job's other files.
func (r *pregelRun[K, V, E, M]) localDir() string {
	tc := r.tc
	return filepath.Join(tc.env.WorkDir, tc.prog.Spec.JobID, fmt.Sprintf("pregel-%d", r.node))
}

func (r *pregelRun[K, V, E, M]) statePath() string {
	return filepath.Join(r.localDir(), fmt.Sprintf("state-%05d.ssf", r.partNo))
}

func (r *pregelRun[K, V, E, M]) run(open func() (any, error)) error {
	tc := r.tc
	spec := tc.spec
	r.superstep = spec.Superstep
	var err error
	if r.aggs, err = newAggState(r.prog.Aggregators); err != nil {
		return err
	}
	tokens, err := r.aggs.load(spec.Aggregates)
	if err != nil {
		return err
	}
	res := tc.env.Resident
	key := r.residentKey()
	var msgs []RunOpener
	switch {
	case spec.Superstep == 0:
		if err := r.load(); err != nil {
			return err
		}
	case spec.Restore:
		if msgs, err = r.restore(spec.Superstep - 1); err != nil {
			return err
		}
	default:
		var st any
		ok := false
		if res != nil {
			st, ok = res.Get(key)
		}
		part, _ := st.(*pregelPart[K, V, E])
		if !ok || part == nil || part.dirty || part.superstep != spec.Superstep-1 {
			have := "none"
			if part != nil {
				have = fmt.Sprintf("superstep %d (dirty %v)", part.superstep, part.dirty)
			}
			return fmt.Errorf("%w: partition %d needs superstep %d, this process has %s", ErrStateLost, r.partNo, spec.Superstep-1, have)
		}
		r.part = part
	}
	final := spec.Final
	if spec.Superstep > 0 && r.prog.Master != nil {
		m := &Master{superstep: spec.Superstep, aggs: r.aggs}
		if !r.prog.Master(m) {
			final = true
		}
		if m.err != nil {
			return m.err
		}
	}
	if final {
		// No task of the last superstep reads messages.
		messagePlane.prune(r.planeJob(), spec.Superstep)
		if err := r.emit(open); err != nil {
			return err
		}
		if res != nil {
			res.Delete(key)
		}
		if r.part.file != "" {
			_ = os.Remove(r.part.file)
		}
		return nil
	}
	if spec.Superstep > 0 && !spec.Restore {
		if r.blocks = r.publishedBlocks(tokens); r.blocks == nil {
			if msgs, err = tc.env.Inputs.Runs(tc.ctx, r.node, MessageSide, r.partNo); err != nil {
				return err
			}
		}
	}
	r.part.dirty = true
	if res != nil {
		res.Put(key, r.part) // so a failed attempt is seen as dirty, not stale
	}
	rep := &IterReport{Superstep: spec.Superstep}
	if rep.Active, err = r.compute(msgs); err != nil {
		return err
	}
	if tc.err != nil {
		return tc.err
	}
	if err := r.writeDense(); err != nil {
		return err
	}
	if err := r.sw.finish(); err != nil {
		return err
	}
	rep.Messages = r.sent
	vc := r.aggs.cur[0].(*cellOf[int64])
	vc.V, vc.Set = r.part.n, true
	token := ""
	if r.dense != nil && r.keyed == 0 {
		token = messagePlane.put(r.planeJob(), spec.Superstep, &msgBlock[M]{route: r.part.route, acc: r.dense.acc, has: r.dense.has})
	}
	if rep.Aggregates, err = r.aggs.encode(token); err != nil {
		return fmt.Errorf("Pregel aggregates: %w", err)
	}
	if every := tc.stage.Iterate.CheckpointEvery; every > 0 && spec.Superstep%every == 0 {
		if err := r.checkpoint(); err != nil {
			return fmt.Errorf("Pregel checkpoint of superstep %d: %w", spec.Superstep, err)
		}
		rep.Checkpoint = true
	}
	r.part.superstep, r.part.dirty = spec.Superstep, false
	tc.report.Iter = rep
	return nil
}

// partBuilder assembles a partition vertex by vertex, in key order, in
// memory until its estimated size passes the task's memory budget and in a
// state file after that.
type partBuilder[K, V, E, M any] struct {
	r    *pregelRun[K, V, E, M]
	p    *pregelPart[K, V, E]
	dst  slots   // the edges' destinations, in first-use order
	slot []int32 // the edges' slots in dst
	vest *sizeEstimate[V]
	eest *sizeEstimate[OutEdge[K, E]]
	used int64
	sw   *stateWriter[K, V, E]
}

func (r *pregelRun[K, V, E, M]) newBuilder(superstep int) (*partBuilder[K, V, E, M], error) {
	vc, err := codec.For[V]()
	if err != nil {
		return nil, err
	}
	ec, err := codec.For[OutEdge[K, E]]()
	if err != nil {
		return nil, err
	}
	return &partBuilder[K, V, E, M]{r: r, p: &pregelPart[K, V, E]{superstep: superstep, edgeOff: []int64{0}},
		dst: slots{index: map[string]int32{}}, vest: newSizeEstimate(r.tc, vc), eest: newSizeEstimate(r.tc, ec)}, nil
}

// add appends a vertex; key may be kept.
func (b *partBuilder[K, V, E, M]) add(key string, id K, val V, halted bool, edges []OutEdge[K, E]) error {
	p := b.p
	p.n++
	if b.sw != nil {
		return b.sw.add(bytesOf(key), id, val, halted, edges)
	}
	p.keys = append(p.keys, key)
	p.ids = append(p.ids, id)
	p.vals = append(p.vals, val)
	p.halted = append(p.halted, halted)
	b.used += int64(len(key)) + 48 + b.vest.of(val)
	for _, e := range edges {
		s, added := b.dst.of(b.r.kr.view(e.Dst))
		if added {
			b.used += int64(len(b.dst.keys[s])) + 64
		}
		p.edges = append(p.edges, e)
		b.slot = append(b.slot, s)
		b.used += 4 + b.eest.of(e)
	}
	p.edgeOff = append(p.edgeOff, int64(len(p.edges)))
	if b.used > b.r.tc.env.MemoryBudget {
		return b.spill()
	}
	return nil
}

// spill moves what was built so far into a state file; the rest streams
// there.
func (b *partBuilder[K, V, E, M]) spill() error {
	r := b.r
	r.tc.report.Spills++
	sw, err := r.newStateWriter(r.statePath())
	if err != nil {
		return err
	}
	sw.spill = true
	b.sw = sw
	p := b.p
	for i := range p.keys {
		if err := sw.add(bytesOf(p.keys[i]), p.ids[i], p.vals[i], p.halted[i], p.edges[p.edgeOff[i]:p.edgeOff[i+1]]); err != nil {
			return err
		}
	}
	n := p.n
	*p = pregelPart[K, V, E]{superstep: p.superstep, n: n}
	b.dst, b.slot = slots{}, nil
	return nil
}

func (b *partBuilder[K, V, E, M]) finish() (*pregelPart[K, V, E], error) {
	if b.sw != nil {
		path, err := b.sw.commit()
		if err != nil {
			return nil, err
		}
		b.p.file = path
	} else {
		b.p.route = newRouting(b.r.partitioner(), b.dst.keys, b.slot)
	}
	return b.p, nil
}

// load builds the partition from the stage's shuffle input: the edge side
// and the vertex side (if any). See pregel_load.go.
func (r *pregelRun[K, V, E, M]) load() error {
	in := r.tc.report.RecordsIn
	err := r.loadDense()
	if errors.Is(err, errOverBudget) {
		r.tc.report.RecordsIn = in // loadSorted reads the input again
		r.tc.report.Spills++
		err = r.loadSorted()
	}
	return err
}

// buildSorted builds the partition from edge rows in key order (er) and
// the vertex side, merged by key, spilling it to a state file past the
// memory budget.
func (r *pregelRun[K, V, E, M]) buildSorted(er *sortedReader[pregelEdgeRow[K, E]]) error {
	tc := r.tc
	eg := &grouper[pregelEdgeRow[K, E]]{r: er, tc: tc}
	var vg *grouper[V]
	if r.hasVertices {
		vr, err := openSorted[V](tc, r.node, 0, r.partNo, false)
		if err != nil {
			return err
		}
		vg = &grouper[V]{r: vr, tc: tc}
	}
	b, err := r.newBuilder(-1)
	if err != nil {
		return err
	}
	var (
		edges []OutEdge[K, E]
		dd    dedup
	)
	eok := eg.nextGroup()
	vok := vg != nil && vg.nextGroup()
	for (eok || vok) && !tc.stopped() {
		var key []byte
		switch {
		case !vok:
			key = eg.key
		case !eok:
			key = vg.key
		default:
			key = eg.key
			if bytes.Compare(vg.key, eg.key) < 0 {
				key = vg.key
			}
		}
		ks := string(key)
		var id K
		if err := r.kr.decode(key, &id); err != nil {
			return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
		}
		var val V
		have := false
		if vok && bytes.Equal(vg.key, key) {
			for v := range vg.values {
				if have {
					return fmt.Errorf("Pregel: vertex %v appears twice in the vertex dataset", id)
				}
				val, have = v, true
			}
			vg.skipRest()
			vok = vg.nextGroup()
		}
		if !have && r.prog.Init != nil {
			val = r.prog.Init(id)
		}
		edges = edges[:0]
		if eok && bytes.Equal(eg.key, key) {
			for e := range eg.values {
				if !e.Rev {
					edges = append(edges, OutEdge[K, E]{Dst: e.Dst, Value: e.Value})
				}
			}
			eg.skipRest()
			eok = eg.nextGroup()
		}
		if r.prog.DistinctEdges {
			edges = r.distinctEdges(edges, &dd)
		}
		if err := b.add(ks, id, val, false, edges); err != nil {
			return err
		}
	}
	if tc.err != nil {
		return tc.err
	}
	if eg.err != nil {
		return eg.err
	}
	if vg != nil && vg.err != nil {
		return vg.err
	}
	r.part, err = b.finish()
	return err
}

// dedup is scratch space for distinctEdges.
type dedup struct {
	keys []byte
	offs []int
	idx  []int
	keep []bool
}

// distinctEdges keeps the first edge to each destination, in order.
func (r *pregelRun[K, V, E, M]) distinctEdges(edges []OutEdge[K, E], d *dedup) []OutEdge[K, E] {
	if len(edges) < 2 {
		return edges
	}
	d.keys, d.offs, d.idx = d.keys[:0], d.offs[:0], d.idx[:0]
	for i, e := range edges {
		d.offs = append(d.offs, len(d.keys))
		d.keys = append(d.keys, r.kr.view(e.Dst)...)
		d.idx = append(d.idx, i)
	}
	d.offs = append(d.offs, len(d.keys))
	key := func(i int) []byte { return d.keys[d.offs[i]:d.offs[i+1]] }
	slices.SortFunc(d.idx, func(a, b int) int {
		if c := bytes.Compare(key(a), key(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	d.keep = slices.Grow(d.keep[:0], len(edges))[:len(edges)]
	for j, i := range d.idx {
		d.keep[i] = j == 0 || !bytes.Equal(key(d.idx[j-1]), key(i))
	}
	out := edges[:0]
	for i, e := range edges {
		if d.keep[i] {
			out = append(out, e)
		}
	}
	return out
}

// scan visits every vertex in key order. Unless readOnly, changes fn makes
// to the row's value and halted flag are kept (for a spilled partition by
// rewriting its state file).
func (r *pregelRun[K, V, E, M]) scan(readOnly bool, fn func(row *vrow[K, V, E]) error) error {
	p := r.part
	var row vrow[K, V, E]
	if p.file == "" {
		for i := range p.keys {
			row.idx, row.key, row.id, row.val, row.halted = i, bytesOf(p.keys[i]), p.ids[i], p.vals[i], p.halted[i]
			row.edges, row.edgeSlot = p.edges[p.edgeOff[i]:p.edgeOff[i+1]], p.route.edgeSlot[p.edgeOff[i]:p.edgeOff[i+1]]
			if err := fn(&row); err != nil {
				return err
			}
			if !readOnly {
				p.vals[i], p.halted[i] = row.val, row.halted
			}
		}
		return nil
	}
	var sw *stateWriter[K, V, E]
	if !readOnly {
		var err error
		if sw, err = r.newStateWriter(p.file); err != nil {
			return err
		}
		sw.spill = true
		defer sw.abort()
	}
	err := r.readState(p.file, func(cr *checkpointRow[K, V, E]) error {
		row.key, row.id, row.val, row.halted, row.edges, row.edgeSlot = cr.Key, cr.ID, cr.Value, cr.Halted, cr.Edges, nil
		if err := fn(&row); err != nil {
			return err
		}
		if sw != nil {
			return sw.add(row.key, row.id, row.val, row.halted, row.edges)
		}
		return nil
	})
	if err != nil || sw == nil {
		return err
	}
	_, err = sw.commit()
	return err
}

// send buffers one message for the shuffle, combining when it can. owned
// says key stays valid (an interned edge key or a string ID).
func (r *pregelRun[K, V, E, M]) send(key string, owned bool, m M) {
	r.sent++
	r.keyed++
	if r.prog.Combine != nil {
		if i, ok := r.sw.lookup(key); ok {
			r.sw.vals[i] = r.prog.Combine(r.sw.vals[i], m)
			return
		}
	}
	r.sw.add(key, owned, m)
}

// compute runs the vertex program over the partition, delivering the
// messages of msgs (merged in key order, like the vertices). It returns the
// vertices left active.
func (r *pregelRun[K, V, E, M]) compute(msgs []RunOpener) (int64, error) {
	tc := r.tc
	path := filepath.Join(r.localDir(), fmt.Sprintf(messageFileFormat, tc.spec.Superstep, r.partNo, tc.spec.Attempt))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	parts := tc.prog.plan.nodes[r.node].wide.partitions
	fw, err := shuffle.NewFileWriter(path, parts, shuffle.WriterOptions{Compression: messageCompression(tc.env.Compression)})
	if err != nil {
		return 0, err
	}
	tc.onClose(func() { _ = fw.Abort() })
	tc.report.MapOutput = &MapOutput{Node: r.node, Side: MessageSide, Part: r.partNo, Path: path}
	out := shuffleOut{w: fw, part: shuffle.NewHashPartitioner(parts), n: parts}
	if r.sw, err = newSortedWriter[M](tc, out, r.prog.Combine != nil, false); err != nil {
		return 0, err
	}
	if p := r.part; r.prog.Combine != nil && p.file == "" {
		r.dense = &denseOut[M]{acc: make([]M, len(p.route.slotKey)), has: make([]bool, len(p.route.slotKey))}
	}
	var g *grouper[M]
	gok := false
	if len(msgs) > 0 {
		mr, err := openSortedFrom[M](tc, msgs, false)
		if err != nil {
			return 0, err
		}
		g = &grouper[M]{r: mr, tc: tc}
		gok = g.nextGroup()
	}
	var (
		inAcc []M
		inHas []bool
	)
	if r.blocks != nil {
		if inAcc, inHas, err = r.gather(); err != nil {
			return 0, err
		}
	}
	v := &Vertex[K, V, E, M]{r: r}
	var (
		inbox  []M
		active int64
		seen   int
	)
	err = r.scan(false, func(row *vrow[K, V, E]) error {
		inbox = inbox[:0]
		if inHas != nil && inHas[row.idx] {
			inbox = append(inbox, inAcc[row.idx])
		}
		if gok && bytes.Compare(g.key, row.key) < 0 {
			return r.unknownTarget(g.key)
		}
		if gok && bytes.Equal(g.key, row.key) {
			for m := range g.values {
				if r.prog.Combine != nil && len(inbox) == 1 {
					inbox[0] = r.prog.Combine(inbox[0], m)
				} else {
					inbox = append(inbox, m)
				}
			}
			g.skipRest()
			if g.err != nil {
				return g.err
			}
			gok = g.nextGroup()
		}
		if seen++; seen&1023 == 0 && tc.stopped() {
			return tc.err
		}
		if row.halted && len(inbox) == 0 {
			return nil
		}
		v.ID, v.Value, v.halt, v.edges, v.edgeSlot = row.id, row.val, false, row.edges, row.edgeSlot
		r.prog.Compute(v, inbox)
		row.val, row.halted = v.Value, v.halt
		if !v.halt {
			active++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if gok {
		return 0, r.unknownTarget(g.key)
	}
	if g != nil && g.err != nil {
		return 0, g.err
	}
	return active, nil
}

// writeDense writes the densely combined messages as one sorted run of the
// message output (the sorted writer adds its own runs after it).
func (r *pregelRun[K, V, E, M]) writeDense() error {
	d := r.dense
	if d == nil {
		return nil
	}
	rt := r.part.route
	sink, err := newRowSink[M](r.tc, false)
	if err != nil {
		return err
	}
	out := r.sw.out
	cur, rows := int32(-1), 0
	for s, ok := range d.has {
		if !ok {
			continue
		}
		if p := rt.slotPart[s]; p != cur {
			if cur >= 0 {
				if err := sink.flush(out, int(cur)); err != nil {
					return err
				}
			}
			cur = p
		}
		sink.append(rt.slotKey[s], &d.acc[s])
		rows++
		if sink.full() {
			if err := sink.flush(out, int(cur)); err != nil {
				return err
			}
		}
	}
	if rows == 0 {
		return nil
	}
	if err := sink.flush(out, int(cur)); err != nil {
		return err
	}
	return out.w.FinishRun()
}

func (r *pregelRun[K, V, E, M]) unknownTarget(key []byte) error {
	var id K
	if err := r.kr.decode(key, &id); err != nil {
		return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
	}
	return fmt.Errorf("Pregel superstep %d: a message was sent to vertex %v, which does not exist", r.superstep-1, id)
}

// emit feeds the final vertex values into the stage's chain and output.
func (r *pregelRun[K, V, E, M]) emit(open func() (any, error)) error {
	down, err := open()
	if err != nil {
		return err
	}
	out := down.(func(KV[K, V]))
	seen := 0
	err = r.scan(true, func(row *vrow[K, V, E]) error {
		out(KV[K, V]{Key: row.id, Value: row.val})
		if seen++; seen&1023 == 0 && r.tc.stopped() {
			return r.tc.err
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.tc.report.Iter = &IterReport{Superstep: r.superstep, Final: true}
	return nil
}

// checkpoint writes the partition's state and a copy of its message output
// under the superstep's checkpoint directory. Each file appears atomically.
func (r *pregelRun[K, V, E, M]) checkpoint() error {
	tc := r.tc
	dir := r.checkpointDir(r.superstep)
	if storage.Scheme(dir) != "" {
		return r.checkpointObjects(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	suffix := fmt.Sprintf(".a%d.tmp", tc.spec.Attempt)
	statePath := filepath.Join(dir, fmt.Sprintf("state-%05d.ssf", r.partNo))
	if r.part.file != "" {
		if err := copyFileAtomic(r.part.file, statePath, suffix); err != nil {
			return err
		}
	} else {
		sw, err := r.newStateWriter(statePath)
		if err != nil {
			return err
		}
		defer sw.abort()
		err = r.scan(true, func(row *vrow[K, V, E]) error {
			return sw.add(row.key, row.id, row.val, row.halted, row.edges)
		})
		if err != nil {
			return err
		}
		if _, err := sw.commit(); err != nil {
			return err
		}
	}
	msgPath := filepath.Join(dir, fmt.Sprintf("msgs-%05d.ssf", r.partNo))
	return copyFileAtomic(tc.report.MapOutput.Path, msgPath, suffix)
}

// checkpointObjects is checkpoint into an object store (s3://): the state
// and message files are written locally as always, then uploaded; each
// object appears whole on its upload's Close.
func (r *pregelRun[K, V, E, M]) checkpointObjects(dir string) error {
	tc := r.tc
	statePath := storage.Join(dir, fmt.Sprintf("state-%05d.ssf", r.partNo))
	src := r.part.file
	if src == "" {
		local := filepath.Join(tc.env.WorkDir, tc.prog.Spec.JobID, "checkpoint-upload",
			fmt.Sprintf("state-%05d-s%d-a%d.ssf", r.partNo, r.superstep, tc.spec.Attempt))
		sw, err := r.newStateWriter(local)
		if err != nil {
			return err
		}
		defer sw.abort()
		err = r.scan(true, func(row *vrow[K, V, E]) error {
			return sw.add(row.key, row.id, row.val, row.halted, row.edges)
		})
		if err != nil {
			return err
		}
		if src, err = sw.commit(); err != nil {
			return err
		}
		defer os.Remove(src)
	}
	if err := uploadFile(tc.ctx, src, statePath); err != nil {
		return err
	}
	return uploadFile(tc.ctx, tc.report.MapOutput.Path, storage.Join(dir, fmt.Sprintf("msgs-%05d.ssf", r.partNo)))
}

// uploadFile copies the local file src to the object dst.
func uploadFile(ctx context.Context, src, dst string) error {
	fsys, err := storage.For(dst)
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	w, err := fsys.Create(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		_ = w.Abort()
		return fmt.Errorf("checkpoint %s: %w", dst, err)
	}
	return w.Close()
}

// checkpointFile is the local path of a checkpoint file: itself, or, in an
// object store, a download into the work directory that is removed when
// the task ends.
func (r *pregelRun[K, V, E, M]) checkpointFile(name string) (string, error) {
	if storage.Scheme(name) == "" {
		return name, nil
	}
	tc := r.tc
	fsys, err := storage.For(name)
	if err != nil {
		return "", err
	}
	local := filepath.Join(tc.env.WorkDir, tc.prog.Spec.JobID, "checkpoint-download",
		fmt.Sprintf("p%05d-a%d-%s", r.partNo, tc.spec.Attempt, storage.Base(name)))
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return "", err
	}
	rc, err := fsys.OpenRange(tc.ctx, name, 0, -1)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.Create(local)
	if err != nil {
		return "", err
	}
	tc.onClose(func() { _ = os.Remove(local) })
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return local, nil
}

// restore loads the partition from the checkpoint of superstep c and returns
// the openers of the messages in flight after it (every task's, for this
// partition, in task order).
func (r *pregelRun[K, V, E, M]) restore(c int) ([]RunOpener, error) {
	tc := r.tc
	dir := r.checkpointDir(c)
	b, err := r.newBuilder(c)
	if err != nil {
		return nil, err
	}
	statePath, err := r.checkpointFile(storage.Join(dir, fmt.Sprintf("state-%05d.ssf", r.partNo)))
	if err != nil {
		return nil, fmt.Errorf("Pregel: restoring superstep %d: %w", c, err)
	}
	err = r.readState(statePath, func(row *checkpointRow[K, V, E]) error {
		return b.add(string(row.Key), row.ID, row.Value, row.Halted, row.Edges)
	})
	if err != nil {
		return nil, fmt.Errorf("Pregel: restoring superstep %d: %w", c, err)
	}
	if r.part, err = b.finish(); err != nil {
		return nil, err
	}
	var openers []RunOpener
	for t := range tc.stage.Tasks {
		msgPath, err := r.checkpointFile(storage.Join(dir, fmt.Sprintf("msgs-%05d.ssf", t)))
		if err != nil {
			return nil, fmt.Errorf("Pregel: restoring the messages of superstep %d: %w", c, err)
		}
		mf, err := shuffle.OpenFile(msgPath)
		if err != nil {
			return nil, fmt.Errorf("Pregel: restoring the messages of superstep %d: %w", c, err)
		}
		tc.onClose(func() { _ = mf.Close() })
		ix := mf.Index()
		if r.partNo >= len(ix.Runs) {
			return nil, fmt.Errorf("Pregel: checkpoint %s has %d partitions", mf.Path(), len(ix.Runs))
		}
		for _, run := range ix.Runs[r.partNo] {
			openers = append(openers, func(context.Context) (shuffle.RecordIterator, error) {
				return shuffle.NewRunIterator(shuffle.FileBlockSource(mf), run, tc.env.Mem), nil
			})
		}
	}
	return openers, nil
}

// stateWriter writes vertices to a state or checkpoint file: a one-partition
// shuffle file (compressed, checksummed blocks) written under a temporary
// name and renamed into place by commit.
type stateWriter[K, V, E any] struct {
	path, tmp string
	fw        *shuffle.FileWriter
	b         *codec.Builder[checkpointRow[K, V, E]]
	row       checkpointRow[K, V, E]
	done      bool
	spill     bool // the state of a spilled partition: its bytes count as spill bytes
	report    *TaskReport
}

func (r *pregelRun[K, V, E, M]) newStateWriter(path string) (*stateWriter[K, V, E], error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	c, err := codec.For[checkpointRow[K, V, E]]()
	if err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.s%d-a%d.tmp", path, r.superstep, r.tc.spec.Attempt)
	fw, err := shuffle.NewFileWriter(tmp, 1, shuffle.WriterOptions{Compression: messageCompression(r.tc.env.Compression)})
	if err != nil {
		return nil, err
	}
	return &stateWriter[K, V, E]{path: path, tmp: tmp, fw: fw, b: c.NewBuilder(r.tc.env.Mem), report: &r.tc.report}, nil
}

func (w *stateWriter[K, V, E]) add(key []byte, id K, val V, halted bool, edges []OutEdge[K, E]) error {
	w.row.Key, w.row.ID, w.row.Value, w.row.Halted, w.row.Edges = key, id, val, halted, edges
	w.b.Append(&w.row)
	if w.b.Bytes() >= blockBytes || w.b.Len() >= blockRows {
		return w.flush()
	}
	return nil
}

func (w *stateWriter[K, V, E]) flush() error {
	if w.b.Len() == 0 {
		return nil
	}
	rec := w.b.NewRecord()
	defer rec.Release()
	return w.fw.Write(0, rec)
}

// commit closes the file and renames it into place.
func (w *stateWriter[K, V, E]) commit() (string, error) {
	if err := w.flush(); err != nil {
		return "", err
	}
	ix, err := w.fw.Close()
	if err != nil {
		return "", err
	}
	if w.spill {
		w.report.SpillBytes += ix.Bytes
	}
	if err := os.Rename(w.tmp, w.path); err != nil {
		return "", err
	}
	w.done = true
	w.b.Release()
	return w.path, nil
}

// abort drops an uncommitted file; it is a no-op after commit.
func (w *stateWriter[K, V, E]) abort() {
	if !w.done {
		w.done = true
		_ = w.fw.Abort()
		_ = os.Remove(w.tmp)
		w.b.Release()
	}
}

// readState calls fn for every vertex of a state or checkpoint file, in
// order. The row is reused between calls.
func (r *pregelRun[K, V, E, M]) readState(path string, fn func(*checkpointRow[K, V, E]) error) error {
	tc := r.tc
	fr, err := shuffle.OpenFile(path)
	if err != nil {
		return err
	}
	defer fr.Close()
	cd, err := codec.For[checkpointRow[K, V, E]]()
	if err != nil {
		return err
	}
	var row checkpointRow[K, V, E]
	for _, run := range fr.Index().Runs[0] {
		it := shuffle.NewRunIterator(shuffle.FileBlockSource(fr), run, tc.env.Mem)
		for it.Next(tc.ctx) {
			rd, err := cd.NewReader(it.Record())
			if err != nil {
				_ = it.Close()
				return fmt.Errorf("%s: %w", path, err)
			}
			for i := 0; i < rd.Len(); i++ {
				rd.Read(i, &row)
				if err := fn(&row); err != nil {
					_ = it.Close()
					return err
				}
			}
		}
		err := it.Err()
		_ = it.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

func copyFileAtomic(src, dst, tmpSuffix string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + tmpSuffix
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// messageCompression is the block compression of message outputs: LZ4
// whenever compression is on. Messages are written and read once, a
// superstep apart, and are mostly keys and numbers: zstd's extra ratio does
// not pay for its time there.
func messageCompression(c shuffle.Compression) shuffle.Compression {
	if c == shuffle.None {
		return c
	}
	return shuffle.LZ4
}
