package bsp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/superstep/superstep/internal/codec"
	"github.com/superstep/superstep/shuffle"
)

// Pregel-style iteration (Malewicz et al., SIGMOD 2010): a vertex program
// runs superstep after superstep over a graph whose vertex partitions stay
// resident in the process that ran the previous superstep; only messages
// cross the shuffle. IterateSpec documents how executors drive it.

// Edge is a directed edge of a graph with a value (use struct{} for none).
type Edge[K, E any] struct {
	Src   K
	Dst   K
	Value E
}

// OutEdge is an edge as its source vertex sees it.
type OutEdge[K, E any] struct {
	Dst   K
	Value E
}

// DefaultCheckpointEvery is how often (in supersteps) a vertex program
// checkpoints when VertexProgram.CheckpointEvery is 0.
const DefaultCheckpointEvery = 10

// VertexProgram is what a Pregel iteration runs.
type VertexProgram[K, V, E, M any] struct {
	// Compute runs once per superstep for every vertex that is active or
	// has messages: it may read and update v.Value, read v.Edges(), send
	// messages, add to aggregators and vote to halt. With a Combine
	// function msgs holds at most one message. msgs is only valid during
	// the call.
	Compute func(v *Vertex[K, V, E, M], msgs []M)
	// Init gives the value of a vertex that appears only in edges (or of
	// every vertex when no vertex dataset is given); nil means the zero V.
	Init func(id K) V
	// Combine, if set, merges two messages to the same vertex; it must be
	// associative and commutative. It runs before the shuffle and on
	// receipt.
	Combine func(a, b M) M
	// Aggregators lists the aggregators the program uses.
	Aggregators []Aggregator
	// Master, if set, runs before every superstep after the first with the
	// aggregates of the superstep before; returning false ends the
	// iteration (a convergence test).
	Master func(m *Master) bool
	// MaxSupersteps bounds the iteration (required, at least 1).
	MaxSupersteps int
	// CheckpointEvery says how often the vertex state and the messages in
	// flight are written to the checkpoint directory: 0 means
	// DefaultCheckpointEvery, a negative value never.
	CheckpointEvery int
}

// Vertex is a vertex during Compute.
type Vertex[K, V, E, M any] struct {
	ID    K
	Value V

	r     *pregelRun[K, V, E, M]
	i     int // index in the partition
	halt  bool
	edges []OutEdge[K, E]
}

// Superstep returns the current superstep, counted from 0.
func (v *Vertex[K, V, E, M]) Superstep() int { return v.r.superstep }

// NumVertices returns the number of vertices of the graph; it is 0 in
// superstep 0 (the graph is still being loaded).
func (v *Vertex[K, V, E, M]) NumVertices() int64 { return v.r.aggs.numVertices() }

// Edges returns the vertex's out-edges in input order. The slice must not be
// modified.
func (v *Vertex[K, V, E, M]) Edges() []OutEdge[K, E] { return v.edges }

// Send sends m to the vertex to, which must exist; it is delivered in the
// next superstep.
func (v *Vertex[K, V, E, M]) Send(to K, m M) {
	r := v.r
	r.send(r.kr.view(to), r.kr.stable(), m)
}

// SendToNeighbors sends m along every out-edge.
func (v *Vertex[K, V, E, M]) SendToNeighbors(m M) {
	r := v.r
	p := r.part
	for j := p.edgeOff[v.i]; j < p.edgeOff[v.i+1]; j++ {
		r.send(p.edgeKey[j], true, m)
	}
}

// VoteToHalt deactivates the vertex until a message arrives for it.
func (v *Vertex[K, V, E, M]) VoteToHalt() { v.halt = true }

func (v *Vertex[K, V, E, M]) aggregates() *aggState { return v.r.aggs }

// Master is what VertexProgram.Master sees between supersteps.
type Master struct {
	superstep int
	aggs      *aggState
	err       error
}

// Fail ends the job with err (for instance when an aggregate shows the input
// was unusable). Every task decides alike, so the job fails deterministically.
func (m *Master) Fail(err error) {
	if m.err == nil {
		m.err = err
	}
}

// Superstep returns the superstep about to run.
func (m *Master) Superstep() int { return m.superstep }

// NumVertices returns the number of vertices of the graph.
func (m *Master) NumVertices() int64 { return m.aggs.numVertices() }

func (m *Master) aggregates() *aggState { return m.aggs }

// Aggregating is a Vertex or a Master: where aggregators are read and added
// to.
type Aggregating interface{ aggregates() *aggState }

// Aggregator is a value reduced over all vertices at every barrier. Create
// one with NewAggregator, SumAgg, MinAgg, MaxAgg or CountAgg and list it in
// VertexProgram.Aggregators.
type Aggregator interface {
	aggName() string
	newCell() aggCell
}

// Agg is a typed aggregator: values added during superstep k are reduced
// with its function and visible through Value in superstep k+1 (and to the
// master before it).
type Agg[T any] struct {
	name   string
	reduce func(a, b T) T
}

// NewAggregator returns an aggregator that reduces with fn, which must be
// associative and commutative. T must encode to JSON and back exactly (for
// floats, encoding/json does).
func NewAggregator[T any](name string, fn func(a, b T) T) *Agg[T] {
	return &Agg[T]{name: name, reduce: fn}
}

// Number is the element type of Sum aggregators.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// SumAgg returns an aggregator that adds.
func SumAgg[T Number](name string) *Agg[T] {
	return NewAggregator(name, func(a, b T) T { return a + b })
}

// MinAgg returns an aggregator that keeps the smallest value.
func MinAgg[T cmp.Ordered](name string) *Agg[T] {
	return NewAggregator(name, func(a, b T) T { return min(a, b) })
}

// MaxAgg returns an aggregator that keeps the largest value.
func MaxAgg[T cmp.Ordered](name string) *Agg[T] {
	return NewAggregator(name, func(a, b T) T { return max(a, b) })
}

// CountAgg returns an aggregator that counts; add 1 per thing counted.
func CountAgg(name string) *Agg[int64] { return SumAgg[int64](name) }

// Add adds x to the aggregator's value for the current superstep.
func (a *Agg[T]) Add(at Aggregating, x T) {
	c := at.aggregates().cell(a).(*cellOf[T])
	if c.Set {
		c.V = a.reduce(c.V, x)
	} else {
		c.V, c.Set = x, true
	}
}

// Get returns the aggregator's value from the previous superstep and whether
// anything was added to it.
func (a *Agg[T]) Get(at Aggregating) (T, bool) {
	c := at.aggregates().prevCell(a).(*cellOf[T])
	return c.V, c.Set
}

// Value is Get without the flag: the zero T when nothing was added.
func (a *Agg[T]) Value(at Aggregating) T {
	v, _ := a.Get(at)
	return v
}

func (a *Agg[T]) aggName() string  { return a.name }
func (a *Agg[T]) newCell() aggCell { return &cellOf[T]{reduce: a.reduce} }

type aggCell interface {
	merge(json.RawMessage) error
	reset()
}

type cellOf[T any] struct {
	Set    bool `json:"set"`
	V      T    `json:"v"`
	reduce func(a, b T) T
}

func (c *cellOf[T]) merge(b json.RawMessage) error {
	var o cellOf[T]
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	switch {
	case !o.Set:
	case c.Set:
		c.V = c.reduce(c.V, o.V)
	default:
		c.V, c.Set = o.V, true
	}
	return nil
}

func (c *cellOf[T]) reset() {
	var zero T
	c.V, c.Set = zero, false
}

// aggState holds a task's aggregators: the reduced values of the previous
// superstep and this task's partials of the current one. Cell 0 is the
// built-in vertex count.
type aggState struct {
	index map[Aggregator]int
	prev  []aggCell
	cur   []aggCell
}

var vertexCount = CountAgg("superstep.vertices")

func newAggState(aggs []Aggregator) (*aggState, error) {
	s := &aggState{index: map[Aggregator]int{}}
	seen := map[string]bool{}
	for i, a := range append([]Aggregator{vertexCount}, aggs...) {
		if seen[a.aggName()] {
			return nil, fmt.Errorf("%w: two aggregators named %q", ErrPlan, a.aggName())
		}
		seen[a.aggName()] = true
		s.index[a] = i
		s.prev = append(s.prev, a.newCell())
		s.cur = append(s.cur, a.newCell())
	}
	return s, nil
}

func (s *aggState) lookup(a Aggregator) int {
	i, ok := s.index[a]
	if !ok {
		panic(fmt.Sprintf("bsp: aggregator %q is not listed in VertexProgram.Aggregators", a.aggName()))
	}
	return i
}

func (s *aggState) cell(a Aggregator) aggCell     { return s.cur[s.lookup(a)] }
func (s *aggState) prevCell(a Aggregator) aggCell { return s.prev[s.lookup(a)] }
func (s *aggState) numVertices() int64            { return s.prev[0].(*cellOf[int64]).V }

// load reduces the partials of every task of the previous superstep, in task
// order, so every task sees the same values.
func (s *aggState) load(partials [][]byte) error {
	for _, c := range s.prev {
		c.reset()
	}
	for t, b := range partials {
		var cells []json.RawMessage
		if err := json.Unmarshal(b, &cells); err != nil {
			return fmt.Errorf("%w: aggregates of task %d: %w", ErrBadSpec, t, err)
		}
		if len(cells) != len(s.prev) {
			return fmt.Errorf("%w: task %d sent %d aggregates, want %d", ErrBadSpec, t, len(cells), len(s.prev))
		}
		for i, c := range cells {
			if err := s.prev[i].merge(c); err != nil {
				return fmt.Errorf("%w: aggregate %d of task %d: %w", ErrBadSpec, i, t, err)
			}
		}
	}
	return nil
}

func (s *aggState) encode() ([]byte, error) { return json.Marshal(s.cur) }

// pregelEdgeRow is an edge in the load shuffle, keyed by its source; Rev rows
// are keyed by the destination and only say that the vertex exists.
type pregelEdgeRow[K, E any] struct {
	Dst   K
	Value E
	Rev   bool
}

// pregelPart is one resident vertex partition, sorted by encoded key.
type pregelPart[K, V, E any] struct {
	superstep int  // the last superstep applied
	dirty     bool // a superstep failed half-way through it
	keys      []string
	ids       []K
	vals      []V
	halted    []bool
	edgeOff   []int32 // out-edges of vertex i: edges[edgeOff[i]:edgeOff[i+1]]
	edges     []OutEdge[K, E]
	edgeKey   []string // encoded destination keys, shared between equal ones
}

// checkpointRow is one vertex in a checkpoint file.
type checkpointRow[K, V, E any] struct {
	Key    []byte
	ID     K
	Value  V
	Halted bool
	Edges  []OutEdge[K, E]
}

// Pregel runs prog over the graph of vertices and edges and returns the final
// vertex values, hash partitioned by ID and sorted by encoded ID within each
// partition. vertices may be the zero Dataset: the vertices are then the IDs
// that appear in edges, valued by prog.Init. Every edge endpoint is a vertex;
// a message sent to a vertex that does not exist fails the job. Vertex IDs
// are keys (see KV): integers and strings are typical.
func Pregel[K, V, E, M any](vertices Dataset[KV[K, V]], edges Dataset[Edge[K, E]], prog VertexProgram[K, V, E, M], opts ...Option) Dataset[KV[K, V]] {
	p := edges.plan
	if vertices.plan != nil {
		samePlan(p, vertices.plan)
	}
	o := p.options(opts)
	kr := newKeyer[K](p, "Pregel")
	checkCodec[shuffleRow[V]](p, "Pregel vertex")
	checkCodec[shuffleRow[pregelEdgeRow[K, E]]](p, "Pregel edge")
	checkCodec[shuffleRow[M]](p, "Pregel message")
	checkCodec[checkpointRow[K, V, E]](p, "Pregel checkpoint")
	if _, err := newAggState(prog.Aggregators); err != nil {
		p.fail(err)
	}
	switch {
	case prog.Compute == nil:
		p.fail(fmt.Errorf("%w: Pregel needs a Compute function", ErrPlan))
	case prog.MaxSupersteps < 1:
		p.fail(fmt.Errorf("%w: Pregel needs MaxSupersteps >= 1, got %d", ErrPlan, prog.MaxSupersteps))
	}
	every := prog.CheckpointEvery
	switch {
	case every == 0:
		every = DefaultCheckpointEvery
	case every < 0:
		every = 0
	}
	parents := []*node{edges.n}
	edgeSide := 0
	if vertices.plan != nil {
		parents = []*node{vertices.n, edges.n}
		edgeSide = 1
	}
	w := &wideOp{shuffle: shuffleHashSorted, partitions: o.partitions, key: typeName[K](),
		iterate: &IterateSpec{MaxSupersteps: prog.MaxSupersteps, CheckpointEvery: every}}
	vertexWrite := keyedWrite[K, V](kr)
	w.write = func(tc *taskCtx, side int, out shuffleOut) (any, func() error) {
		if side != edgeSide {
			return vertexWrite(tc, side, out)
		}
		sw, err := newSortedWriter[pregelEdgeRow[K, E]](tc, out, false, false)
		if err != nil {
			tc.fail(err)
			return func(Edge[K, E]) {}, func() error { return err }
		}
		k := kr.clone()
		return func(e Edge[K, E]) {
			sw.add(k.view(e.Src), false, pregelEdgeRow[K, E]{Dst: e.Dst, Value: e.Value})
			sw.add(k.view(e.Dst), false, pregelEdgeRow[K, E]{Rev: true})
		}, sw.finish
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		return fmt.Errorf("%w: a Pregel node read outside an iterate stage", ErrBadSpec)
	}
	w.iter = func(tc *taskCtx, part int, open func() (any, error)) error {
		r := &pregelRun[K, V, E, M]{tc: tc, prog: &prog, kr: kr.clone(), part: nil, node: tc.stage.Input.Node,
			hasVertices: vertices.plan != nil, edgeSide: edgeSide, partNo: part}
		return r.run(open)
	}
	n := &node{kind: kindWide, op: "Pregel", parents: parents, wide: w,
		detail: fmt.Sprintf("max %d supersteps, checkpoint every %d", prog.MaxSupersteps, every)}
	return newDataset[KV[K, V]](p, n)
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
	sent      int64
}

func (r *pregelRun[K, V, E, M]) residentKey() string {
	return r.tc.prog.Spec.JobID + "/" + strconv.Itoa(r.tc.spec.Stage) + "/" + strconv.Itoa(r.partNo)
}

func (r *pregelRun[K, V, E, M]) checkpointDir(superstep int) string {
	return filepath.Join(r.tc.stage.Iterate.CheckpointDir, fmt.Sprintf("ss-%06d", superstep))
}

func (r *pregelRun[K, V, E, M]) run(open func() (any, error)) error {
	tc := r.tc
	spec := tc.spec
	r.superstep = spec.Superstep
	var err error
	if r.aggs, err = newAggState(r.prog.Aggregators); err != nil {
		return err
	}
	if err := r.aggs.load(spec.Aggregates); err != nil {
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
		if msgs, err = tc.env.Inputs.Runs(tc.ctx, r.node, MessageSide, r.partNo); err != nil {
			return err
		}
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
		if res != nil {
			res.Delete(key)
		}
		return r.emit(open)
	}
	r.part.dirty = true
	if res != nil {
		res.Put(key, r.part) // so a failed attempt is seen as dirty, not stale
	}
	if err := r.compute(msgs); err != nil {
		return err
	}
	if tc.err != nil {
		return tc.err
	}
	if err := r.sw.finish(); err != nil {
		return err
	}
	rep := &IterReport{Superstep: spec.Superstep, Messages: r.sent}
	for _, h := range r.part.halted {
		if !h {
			rep.Active++
		}
	}
	r.aggs.cur[0].(*cellOf[int64]).V, r.aggs.cur[0].(*cellOf[int64]).Set = int64(len(r.part.keys)), true
	if rep.Aggregates, err = r.aggs.encode(); err != nil {
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

// load builds the partition from the stage's shuffle input: the vertex side
// (if any) and the edge side, merged by key.
func (r *pregelRun[K, V, E, M]) load() error {
	tc := r.tc
	er, err := openSorted[pregelEdgeRow[K, E]](tc, r.node, r.edgeSide, r.partNo, false)
	if err != nil {
		return err
	}
	eg := &grouper[pregelEdgeRow[K, E]]{r: er, tc: tc}
	var vg *grouper[V]
	if r.hasVertices {
		vr, err := openSorted[V](tc, r.node, 0, r.partNo, false)
		if err != nil {
			return err
		}
		vg = &grouper[V]{r: vr, tc: tc}
	}
	p := &pregelPart[K, V, E]{superstep: -1, edgeOff: []int32{0}}
	intern := map[string]string{}
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
		if eok && bytes.Equal(eg.key, key) {
			for e := range eg.values {
				if e.Rev {
					continue
				}
				dk := r.kr.view(e.Dst)
				s, ok := intern[dk]
				if !ok {
					s = strings.Clone(dk) // dk aliases the keyer's buffer
					intern[s] = s
				}
				p.edges = append(p.edges, OutEdge[K, E]{Dst: e.Dst, Value: e.Value})
				p.edgeKey = append(p.edgeKey, s)
			}
			eg.skipRest()
			eok = eg.nextGroup()
		}
		if len(p.edges) > 1<<31-1 {
			return fmt.Errorf("Pregel: partition %d has more than 2^31 edges", r.partNo)
		}
		p.keys = append(p.keys, ks)
		p.ids = append(p.ids, id)
		p.vals = append(p.vals, val)
		p.halted = append(p.halted, false)
		p.edgeOff = append(p.edgeOff, int32(len(p.edges)))
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
	r.part = p
	return nil
}

// send buffers one message for the shuffle, combining when it can. owned
// says key stays valid (an interned edge key or a string ID).
func (r *pregelRun[K, V, E, M]) send(key string, owned bool, m M) {
	r.sent++
	if r.prog.Combine != nil {
		if i, ok := r.sw.lookup(key); ok {
			r.sw.vals[i] = r.prog.Combine(r.sw.vals[i], m)
			return
		}
	}
	r.sw.add(key, owned, m)
}

// msgPath is where this attempt writes the messages of its superstep.
func (r *pregelRun[K, V, E, M]) msgPath() string {
	tc := r.tc
	return filepath.Join(tc.env.WorkDir, tc.prog.Spec.JobID, fmt.Sprintf("pregel-%d", r.node),
		fmt.Sprintf("ss%06d-map%05d-a%d.ssf", tc.spec.Superstep, r.partNo, tc.spec.Attempt))
}

// compute runs the vertex program over the partition, delivering the
// messages of msgs (merged in key order, like the vertices).
func (r *pregelRun[K, V, E, M]) compute(msgs []RunOpener) error {
	tc := r.tc
	path := r.msgPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	parts := tc.prog.plan.nodes[r.node].wide.partitions
	fw, err := shuffle.NewFileWriter(path, parts, shuffle.WriterOptions{Compression: tc.env.Compression})
	if err != nil {
		return err
	}
	tc.onClose(func() { _ = fw.Abort() })
	tc.report.MapOutput = &MapOutput{Node: r.node, Side: MessageSide, Part: r.partNo, Path: path}
	out := shuffleOut{w: fw, part: shuffle.NewHashPartitioner(parts), n: parts}
	if r.sw, err = newSortedWriter[M](tc, out, r.prog.Combine != nil, false); err != nil {
		return err
	}
	var g *grouper[M]
	gok := false
	if len(msgs) > 0 {
		mr, err := openSortedFrom[M](tc, msgs, false)
		if err != nil {
			return err
		}
		g = &grouper[M]{r: mr, tc: tc}
		gok = g.nextGroup()
	}
	p := r.part
	v := &Vertex[K, V, E, M]{r: r}
	var inbox []M
	for i := range p.keys {
		inbox = inbox[:0]
		key := bytesOf(p.keys[i])
		if gok && bytes.Compare(g.key, key) < 0 {
			return r.unknownTarget(g.key)
		}
		if gok && bytes.Equal(g.key, key) {
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
		if p.halted[i] && len(inbox) == 0 {
			continue
		}
		v.ID, v.Value, v.i, v.halt = p.ids[i], p.vals[i], i, false
		v.edges = p.edges[p.edgeOff[i]:p.edgeOff[i+1]]
		r.prog.Compute(v, inbox)
		p.vals[i], p.halted[i] = v.Value, v.halt
		if i&1023 == 0 && tc.stopped() {
			return tc.err
		}
	}
	if gok {
		return r.unknownTarget(g.key)
	}
	if g != nil && g.err != nil {
		return g.err
	}
	return nil
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
	p := r.part
	for i := range p.keys {
		out(KV[K, V]{Key: p.ids[i], Value: p.vals[i]})
		if i&1023 == 0 && r.tc.stopped() {
			return r.tc.err
		}
	}
	r.tc.report.Iter = &IterReport{Superstep: r.superstep, Final: true}
	return nil
}

// checkpoint writes the partition's state and a copy of its message output
// under the superstep's checkpoint directory. Each file appears atomically.
func (r *pregelRun[K, V, E, M]) checkpoint() error {
	tc := r.tc
	dir := r.checkpointDir(r.superstep)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	statePath := filepath.Join(dir, fmt.Sprintf("state-%05d.ssf", r.partNo))
	tmp := statePath + fmt.Sprintf(".a%d.tmp", tc.spec.Attempt)
	fw, err := shuffle.NewFileWriter(tmp, 1, shuffle.WriterOptions{Compression: tc.env.Compression})
	if err != nil {
		return err
	}
	c, err := codec.For[checkpointRow[K, V, E]]()
	if err != nil {
		_ = fw.Abort()
		return err
	}
	b := c.NewBuilder(tc.env.Mem)
	defer b.Release()
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		rec := b.NewRecord()
		defer rec.Release()
		return fw.Write(0, rec)
	}
	p := r.part
	var row checkpointRow[K, V, E]
	for i := range p.keys {
		row.Key, row.ID, row.Value, row.Halted = bytesOf(p.keys[i]), p.ids[i], p.vals[i], p.halted[i]
		row.Edges = p.edges[p.edgeOff[i]:p.edgeOff[i+1]]
		b.Append(&row)
		if b.Bytes() >= blockBytes || b.Len() >= blockRows {
			if err := flush(); err != nil {
				_ = fw.Abort()
				return err
			}
		}
	}
	if err := flush(); err != nil {
		_ = fw.Abort()
		return err
	}
	if _, err := fw.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, statePath); err != nil {
		return err
	}
	msgPath := filepath.Join(dir, fmt.Sprintf("msgs-%05d.ssf", r.partNo))
	return copyFileAtomic(tc.report.MapOutput.Path, msgPath, fmt.Sprintf(".a%d.tmp", tc.spec.Attempt))
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
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// restore loads the partition from the checkpoint of superstep c and returns
// the openers of the messages in flight after it (every task's, for this
// partition, in task order).
func (r *pregelRun[K, V, E, M]) restore(c int) ([]RunOpener, error) {
	tc := r.tc
	dir := r.checkpointDir(c)
	fr, err := shuffle.OpenFile(filepath.Join(dir, fmt.Sprintf("state-%05d.ssf", r.partNo)))
	if err != nil {
		return nil, fmt.Errorf("Pregel: restoring superstep %d: %w", c, err)
	}
	tc.onClose(func() { _ = fr.Close() })
	cd, err := codec.For[checkpointRow[K, V, E]]()
	if err != nil {
		return nil, err
	}
	p := &pregelPart[K, V, E]{superstep: c, edgeOff: []int32{0}}
	intern := map[string]string{}
	var row checkpointRow[K, V, E]
	for _, run := range fr.Index().Runs[0] {
		it := shuffle.NewRunIterator(shuffle.FileBlockSource(fr), run, tc.env.Mem)
		for it.Next(tc.ctx) {
			rd, err := cd.NewReader(it.Record())
			if err != nil {
				_ = it.Close()
				return nil, fmt.Errorf("Pregel: restoring superstep %d: %w", c, err)
			}
			for i := 0; i < rd.Len(); i++ {
				rd.Read(i, &row)
				p.keys = append(p.keys, string(row.Key))
				p.ids = append(p.ids, row.ID)
				p.vals = append(p.vals, row.Value)
				p.halted = append(p.halted, row.Halted)
				for _, e := range row.Edges {
					dk := r.kr.view(e.Dst)
					s, ok := intern[dk]
					if !ok {
						s = strings.Clone(dk) // dk aliases the keyer's buffer
						intern[s] = s
					}
					p.edges = append(p.edges, e)
					p.edgeKey = append(p.edgeKey, s)
				}
				p.edgeOff = append(p.edgeOff, int32(len(p.edges)))
			}
		}
		err := it.Err()
		_ = it.Close()
		if err != nil {
			return nil, fmt.Errorf("Pregel: restoring superstep %d: %w", c, err)
		}
	}
	r.part = p
	var openers []RunOpener
	tasks := tc.stage.Tasks
	for t := range tasks {
		mf, err := shuffle.OpenFile(filepath.Join(dir, fmt.Sprintf("msgs-%05d.ssf", t)))
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
