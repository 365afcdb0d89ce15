package bsp

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/superstep/superstep/internal/codec"
	"github.com/superstep/superstep/shuffle"
)

// Shuffle blocks are cut at about blockBytes of Arrow data or blockRows rows.
const (
	blockBytes = 1 << 20
	blockRows  = 1 << 16
)

// shuffleRow is the record of a keyed shuffle: order-preserving key bytes
// (column 0, what the shuffle package sorts and merges on) and the payload.
type shuffleRow[V any] struct {
	Key   []byte
	Value V
}

// keyRow is the record of a shuffle whose payload is the key itself.
type keyRow struct {
	Key []byte
}

// keyer turns keys of type K into order-preserving byte strings.
type keyer[K any] struct {
	kc    *codec.KeyCodec[K]
	kind  reflect.Kind
	ident bool
	buf   []byte
	tmp   K // scratch copy, so encoding does not move the caller's key to the heap
}

func newKeyer[K any](p *Plan, what string) *keyer[K] {
	kc, err := codec.KeyFor[K]()
	if err != nil {
		p.fail(fmt.Errorf("%s key: %w", what, err))
		return nil
	}
	return &keyer[K]{kc: kc, kind: reflect.TypeFor[K]().Kind(), ident: kc.IdentityString()}
}

// clone returns a keyer with its own scratch buffer (one per task).
func (k *keyer[K]) clone() *keyer[K] {
	c := *k
	c.buf = nil
	return &c
}

// view returns the key bytes of key as a string that is valid until the next
// call and may alias key's memory; callers clone it before keeping it. It
// takes key by value and never lets its address escape, so calling it on
// the per-record path does not allocate.
func (k *keyer[K]) view(key K) string {
	if k.ident {
		if k.kind == reflect.String {
			return *(*string)(unsafe.Pointer(&key))
		}
		b := *(*[]byte)(unsafe.Pointer(&key))
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	k.tmp = key
	k.buf = k.kc.Append(k.buf[:0], &k.tmp)
	return unsafe.String(unsafe.SliceData(k.buf), len(k.buf))
}

// stable reports whether view returns strings that stay valid and unchanged
// (string keys), so that they can be kept without a copy.
func (k *keyer[K]) stable() bool { return k.ident && k.kind == reflect.String }

func (k *keyer[K]) decode(b []byte, key *K) error { return k.kc.Decode(b, key) }

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// sizeEstimate tracks the average encoded size of values of V by encoding a
// sample of them, so memory budgets account for strings and slices.
type sizeEstimate[V any] struct {
	b     *codec.Builder[V]
	n     int
	avg   float64
	fixed int64
	tmp   V // scratch, so sampling does not move the caller's value to the heap
}

func newSizeEstimate[V any](tc *taskCtx, c *codec.Codec[V]) *sizeEstimate[V] {
	var v V
	e := &sizeEstimate[V]{fixed: int64(unsafe.Sizeof(v))}
	if c != nil {
		e.b = c.NewBuilder(tc.env.Mem)
		tc.onClose(e.b.Release)
	}
	return e
}

// of returns the estimated heap bytes of v.
func (e *sizeEstimate[V]) of(v V) int64 {
	if e.b != nil && e.n&63 == 0 {
		before := e.b.Bytes()
		e.tmp = v
		e.b.Append(&e.tmp)
		d := float64(e.b.Bytes() - before)
		if e.n == 0 {
			e.avg = d
		} else {
			e.avg += (d - e.avg) / 16
		}
		if e.b.Len() >= 1024 {
			e.b.NewRecord().Release()
		}
	}
	e.n++
	return e.fixed + int64(e.avg)
}

// rowSink encodes rows of one shuffle into blocks.
type rowSink[V any] interface {
	append(key string, v *V)
	full() bool
	flush(out shuffleOut, part int) error
}

type kvSink[V any] struct {
	b   *codec.Builder[shuffleRow[V]]
	row shuffleRow[V]
}

func (s *kvSink[V]) append(key string, v *V) {
	s.row.Key = bytesOf(key)
	s.row.Value = *v
	s.b.Append(&s.row)
}
func (s *kvSink[V]) full() bool { return s.b.Bytes() >= blockBytes || s.b.Len() >= blockRows }
func (s *kvSink[V]) flush(out shuffleOut, part int) error {
	if s.b.Len() == 0 {
		return nil
	}
	rec := s.b.NewRecord()
	defer rec.Release()
	return out.w.Write(part, rec)
}

type keySink[V any] struct {
	b   *codec.Builder[keyRow]
	row keyRow
}

func (s *keySink[V]) append(key string, _ *V) {
	s.row.Key = bytesOf(key)
	s.b.Append(&s.row)
}
func (s *keySink[V]) full() bool { return s.b.Bytes() >= blockBytes || s.b.Len() >= blockRows }
func (s *keySink[V]) flush(out shuffleOut, part int) error {
	if s.b.Len() == 0 {
		return nil
	}
	rec := s.b.NewRecord()
	defer rec.Release()
	return out.w.Write(part, rec)
}

func newRowSink[V any](tc *taskCtx, keyOnly bool) (rowSink[V], error) {
	if keyOnly {
		c, err := codec.For[keyRow]()
		if err != nil {
			return nil, err
		}
		b := c.NewBuilder(tc.env.Mem)
		tc.onClose(b.Release)
		return &keySink[V]{b: b}, nil
	}
	c, err := codec.For[shuffleRow[V]]()
	if err != nil {
		return nil, err
	}
	b := c.NewBuilder(tc.env.Mem)
	tc.onClose(b.Release)
	return &kvSink[V]{b: b}, nil
}

// sortedWriter is the map side of a sorted shuffle. It buffers (key, value)
// rows, optionally combining values of equal keys in place, and when the
// buffer passes the task's memory budget it sorts the rows by (partition,
// key) and writes them as one run per partition. Rows with equal keys keep
// their input order, which makes the shuffle deterministic.
type sortedWriter[V any] struct {
	tc      *taskCtx
	out     shuffleOut
	sink    rowSink[V]
	est     *sizeEstimate[V]
	combine bool
	index   map[string]int32 // combine mode: key -> position in keys/vals
	keys    []string
	vals    []V
	used    int64
	limit   int64
	spilled int64 // bytes of the runs spill wrote
}

func newSortedWriter[V any](tc *taskCtx, out shuffleOut, combine, keyOnly bool) (*sortedWriter[V], error) {
	sink, err := newRowSink[V](tc, keyOnly)
	if err != nil {
		return nil, err
	}
	var vc *codec.Codec[V]
	if !keyOnly {
		if vc, err = codec.For[V](); err != nil {
			return nil, err
		}
	}
	w := &sortedWriter[V]{tc: tc, out: out, sink: sink, est: newSizeEstimate(tc, vc), combine: combine,
		limit: max(tc.env.MemoryBudget*3/5, 1<<16)}
	if combine {
		w.index = make(map[string]int32)
	}
	return w, nil
}

// lookup returns the position of key in combine mode.
func (w *sortedWriter[V]) lookup(key string) (int32, bool) {
	i, ok := w.index[key]
	return i, ok
}

// add appends a row. owned says key may be kept as is; otherwise it is copied.
func (w *sortedWriter[V]) add(key string, owned bool, v V) {
	if !owned {
		key = strings.Clone(key)
	}
	if w.combine {
		w.index[key] = int32(len(w.keys))
		w.used += 48
	}
	w.keys = append(w.keys, key)
	w.vals = append(w.vals, v)
	w.used += int64(len(key)) + 16 + w.est.of(v)
	if w.used >= w.limit {
		w.tc.fail(w.spill())
	}
}

// spill writes the buffered rows early because the budget is used up.
func (w *sortedWriter[V]) spill() error {
	w.tc.report.Spills++
	before := w.out.w.Written()
	err := w.writeRun()
	n := w.out.w.Written() - before
	w.spilled += n
	w.tc.report.SpillBytes += n
	return err
}

// writeRun writes the buffered rows as one sorted run per partition.
func (w *sortedWriter[V]) writeRun() error {
	n := len(w.keys)
	if n == 0 {
		return nil
	}
	parts := make([]int32, n)
	perm := make([]int32, n)
	for i, k := range w.keys {
		parts[i] = int32(w.out.part.Partition(bytesOf(k)))
		perm[i] = int32(i)
	}
	// Ordering by (partition, key, arrival) with pdqsort is a stable sort by
	// (partition, key), and much faster than SortStableFunc.
	slices.SortFunc(perm, func(a, b int32) int {
		if c := cmp.Compare(parts[a], parts[b]); c != 0 {
			return c
		}
		if c := strings.Compare(w.keys[a], w.keys[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	cur := int32(-1)
	for _, i := range perm {
		if parts[i] != cur {
			if cur >= 0 {
				if err := w.sink.flush(w.out, int(cur)); err != nil {
					return err
				}
			}
			cur = parts[i]
		}
		w.sink.append(w.keys[i], &w.vals[i])
		if w.sink.full() {
			if err := w.sink.flush(w.out, int(cur)); err != nil {
				return err
			}
		}
	}
	if err := w.sink.flush(w.out, int(cur)); err != nil {
		return err
	}
	if err := w.out.w.FinishRun(); err != nil {
		return err
	}
	clear(w.keys)
	clear(w.vals)
	w.keys, w.vals, w.used = w.keys[:0], w.vals[:0], 0
	if w.combine {
		clear(w.index)
	}
	return nil
}

// finish writes the last run and closes the map output file.
func (w *sortedWriter[V]) finish() error {
	if err := w.writeRun(); err != nil {
		return err
	}
	return w.tc.closeShuffleOut(w.out)
}

// sortedReader merges the runs of one reduce partition of one side and yields
// rows in key order.
type sortedReader[V any] struct {
	m       *shuffle.Merger
	keyOnly bool
	c       *codec.Codec[shuffleRow[V]]
	readers map[arrow.RecordBatch]*codec.Reader[shuffleRow[V]]
	limit   int
	row     shuffleRow[V]
	in      *int64 // the task's records-in counter
}

// mergeFanIn is how many runs a reducer merges at once within its budget:
// each open run holds about one decoded block.
func mergeFanIn(budget int64) int {
	return int(max(4, min(512, budget/(2*blockBytes))))
}

func openSorted[V any](tc *taskCtx, node, side, part int, keyOnly bool) (*sortedReader[V], error) {
	openers, err := tc.env.Inputs.Runs(tc.ctx, node, side, part)
	if err != nil {
		return nil, err
	}
	r, err := openSortedFrom[V](tc, openers, keyOnly)
	if err != nil {
		return nil, err
	}
	r.in = &tc.report.RecordsIn // a stage's shuffle input; Pregel messages (openSortedFrom) are not records in
	return r, nil
}

// openSortedFrom merges the given runs.
func openSortedFrom[V any](tc *taskCtx, openers []RunOpener, keyOnly bool) (*sortedReader[V], error) {
	inputs := make([]func() (shuffle.RecordIterator, error), len(openers))
	for i, o := range openers {
		inputs[i] = func() (shuffle.RecordIterator, error) { return o(tc.ctx) }
	}
	fanIn := mergeFanIn(tc.env.MemoryBudget)
	m, err := shuffle.MergeAll(tc.ctx, inputs, shuffle.MergeOptions{MaxFanIn: fanIn, TempDir: tc.env.WorkDir,
		Compression: tc.env.Compression, Mem: tc.env.Mem, BlockRows: blockRows})
	if err != nil {
		return nil, err
	}
	tc.onClose(func() { _ = m.Close() })
	if n := m.SpillBytes(); n > 0 {
		// Merge passes past the fan-in wrote intermediate runs to disk.
		tc.report.Spills++
		tc.report.SpillBytes += n
	}
	r := &sortedReader[V]{m: m, keyOnly: keyOnly, limit: 2*fanIn + 2, in: new(int64)}
	if !keyOnly {
		if r.c, err = codec.For[shuffleRow[V]](); err != nil {
			return nil, err
		}
		r.readers = make(map[arrow.RecordBatch]*codec.Reader[shuffleRow[V]])
	}
	return r, nil
}

func (r *sortedReader[V]) next(ctx context.Context) bool {
	if !r.m.Next(ctx) {
		return false
	}
	*r.in++
	return true
}
func (r *sortedReader[V]) err() error  { return r.m.Err() }
func (r *sortedReader[V]) key() []byte { return r.m.Key() }

// value decodes the current row's payload.
func (r *sortedReader[V]) value() (*V, error) {
	rec, i := r.m.Row()
	rd, ok := r.readers[rec]
	if !ok {
		if len(r.readers) >= r.limit {
			clear(r.readers)
		}
		var err error
		if rd, err = r.c.NewReader(rec); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMapOutputLost, err)
		}
		r.readers[rec] = rd
	}
	rd.Read(i, &r.row)
	return &r.row.Value, nil
}

// sampler is the map side of a range shuffle's sample stage: a reservoir of
// key bytes, seeded by the task so the sample is deterministic.
type sampler struct {
	rng  *rand.Rand
	size int
	seen int
	keys [][]byte
}

func newSampler(tc *taskCtx) *sampler {
	tasks := max(tc.stage.Tasks, 1)
	size := min(10000, max(100, 60*tc.stage.Output.Partitions/tasks))
	return &sampler{rng: rand.New(rand.NewPCG(uint64(tc.spec.Partition), 0x5eed)), size: size}
}

func (s *sampler) add(key string) {
	s.seen++
	if len(s.keys) < s.size {
		s.keys = append(s.keys, []byte(key))
		return
	}
	if j := s.rng.IntN(s.seen); j < s.size {
		s.keys[j] = append(s.keys[j][:0], key...)
	}
}

// unsortedWriter is the map side of a round-robin shuffle: blocks go to the
// partitions in turn, starting at the task's own partition.
type unsortedWriter[T any] struct {
	tc   *taskCtx
	out  shuffleOut
	b    *codec.Builder[T]
	next int
}

func newUnsortedWriter[T any](tc *taskCtx, out shuffleOut) (*unsortedWriter[T], error) {
	c, err := codec.For[T]()
	if err != nil {
		return nil, err
	}
	b := c.NewBuilder(tc.env.Mem)
	tc.onClose(b.Release)
	return &unsortedWriter[T]{tc: tc, out: out, b: b, next: tc.spec.Partition % out.n}, nil
}

func (w *unsortedWriter[T]) add(v *T) {
	w.b.Append(v)
	if w.b.Bytes() >= blockBytes || w.b.Len() >= blockRows {
		w.tc.fail(w.flush())
	}
}

func (w *unsortedWriter[T]) flush() error {
	if w.b.Len() == 0 {
		return nil
	}
	rec := w.b.NewRecord()
	defer rec.Release()
	err := w.out.w.Write(w.next, rec)
	w.next = (w.next + 1) % w.out.n
	return err
}

func (w *unsortedWriter[T]) finish() error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.tc.closeShuffleOut(w.out)
}

// readUnsorted emits every record of reduce partition part of every side, in
// side, map task and run order.
func readUnsorted[T any](tc *taskCtx, node *node, part int, emit func(T)) error {
	for side := range node.parents {
		openers, err := tc.env.Inputs.Runs(tc.ctx, node.id, side, part)
		if err != nil {
			return err
		}
		if err := eachRow(tc, openers, func(v *T) error { emit(*v); return nil }); err != nil {
			return err
		}
	}
	return nil
}

// eachRow calls fn for every row of the given runs, in order, until the
// task stops; the row is reused between calls and its byte slices alias the
// block.
func eachRow[T any](tc *taskCtx, openers []RunOpener, fn func(*T) error) error {
	c, err := codec.For[T]()
	if err != nil {
		return err
	}
	var v T
	for _, open := range openers {
		it, err := open(tc.ctx)
		if err != nil {
			return err
		}
		for it.Next(tc.ctx) && !tc.stopped() {
			rd, err := c.NewReader(it.Record())
			if err != nil {
				_ = it.Close()
				return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
			}
			tc.report.RecordsIn += int64(rd.Len()) // the stage's input rows (records in)
			for i := 0; i < rd.Len(); i++ {
				rd.Read(i, &v)
				if err := fn(&v); err != nil {
					_ = it.Close()
					return err
				}
			}
		}
		err = it.Err()
		_ = it.Close()
		if err != nil {
			return err
		}
	}
	return tc.err
}
