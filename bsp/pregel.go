package bsp

import (
	"cmp"
	"encoding/json"
	"fmt"
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
	// DistinctEdges keeps one edge from a vertex to each destination (the
	// first): parallel edges count once, as in a simple graph.
	DistinctEdges bool
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
	halt  bool
	edges []OutEdge[K, E]
	// edgeSlot are the edges' routing slots (see routing); nil for a
	// spilled partition.
	edgeSlot []int32
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
	if v.edgeSlot != nil {
		if d := r.dense; d != nil {
			r.sent += int64(len(v.edgeSlot))
			for _, s := range v.edgeSlot {
				if d.has[s] {
					d.acc[s] = r.prog.Combine(d.acc[s], m)
				} else {
					d.acc[s], d.has[s] = m, true
				}
			}
			return
		}
		keys := r.part.route.slotKey
		for _, s := range v.edgeSlot {
			r.send(keys[s], true, m)
		}
		return
	}
	for _, e := range v.edges {
		r.send(r.kr.view(e.Dst), r.kr.stable(), m)
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
// order, so every task sees the same values. It returns what each task
// named of its published message block (see pregel_plane.go): its token, or
// "" for none.
func (s *aggState) load(partials [][]byte) ([]string, error) {
	for _, c := range s.prev {
		c.reset()
	}
	tokens := make([]string, len(partials))
	for t, b := range partials {
		var cells []json.RawMessage
		if err := json.Unmarshal(b, &cells); err != nil {
			return nil, fmt.Errorf("%w: aggregates of task %d: %w", ErrBadSpec, t, err)
		}
		if len(cells) != len(s.prev)+1 {
			return nil, fmt.Errorf("%w: task %d sent %d aggregates, want %d", ErrBadSpec, t, len(cells)-1, len(s.prev))
		}
		for i, c := range cells[:len(s.prev)] {
			if err := s.prev[i].merge(c); err != nil {
				return nil, fmt.Errorf("%w: aggregate %d of task %d: %w", ErrBadSpec, i, t, err)
			}
		}
		if err := json.Unmarshal(cells[len(s.prev)], &tokens[t]); err != nil {
			return nil, fmt.Errorf("%w: message block of task %d: %w", ErrBadSpec, t, err)
		}
	}
	return tokens, nil
}

// encode encodes this task's partials and the token of its published
// message block ("" for none) as a JSON array: the cells, then the token.
func (s *aggState) encode(token string) ([]byte, error) {
	return json.Marshal(append(anySlice(s.cur), token))
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// pregelEdgeRow is an edge in the load shuffle, keyed by its source; Rev rows
// are keyed by the destination and only say that the vertex exists.
type pregelEdgeRow[K, E any] struct {
	Dst   K
	Value E
	Rev   bool
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
		ew, err := newEdgeWriter[K, E](tc, out, kr)
		if err != nil {
			tc.fail(err)
			return func(Edge[K, E]) {}, func() error { return err }
		}
		return ew.add, ew.finish
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		return fmt.Errorf("%w: a Pregel node read outside an iterate stage", ErrBadSpec)
	}
	w.iter = func(tc *taskCtx, part int, open func() (any, error)) error {
		r := &pregelRun[K, V, E, M]{tc: tc, prog: &prog, kr: kr.clone(), node: tc.stage.Input.Node,
			hasVertices: vertices.plan != nil, edgeSide: edgeSide, partNo: part}
		return r.run(open)
	}
	n := &node{kind: kindWide, op: "Pregel", parents: parents, wide: w,
		detail: fmt.Sprintf("max %d supersteps, checkpoint every %d", prog.MaxSupersteps, every)}
	return newDataset[KV[K, V]](p, n)
}
