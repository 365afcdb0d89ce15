package bsp

import (
	"bytes"
	"fmt"
	"iter"
	"reflect"
)

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// CombineByKey aggregates the values of each key: create starts a combiner
// from a key's first value, mergeValue folds in further values, and
// mergeCombiners merges combiners built by different tasks. Combining happens
// on the map side before the shuffle (so only one combiner per key and task
// crosses the network) and again on the reduce side. The result is hash
// partitioned by key and sorted by key within each partition.
func CombineByKey[K, V, C any](d Dataset[KV[K, V]], create func(V) C, mergeValue func(C, V) C,
	mergeCombiners func(C, C) C, opts ...Option) Dataset[KV[K, C]] {
	o := d.plan.options(opts)
	kr := newKeyer[K](d.plan, "CombineByKey")
	checkCodec[shuffleRow[C]](d.plan, "CombineByKey")
	w := &wideOp{shuffle: shuffleHashSorted, partitions: o.partitions, key: typeName[K](), combine: true}
	w.write = func(tc *taskCtx, _ int, out shuffleOut) (any, func() error) {
		sw, err := newSortedWriter[C](tc, out, true, false)
		if err != nil {
			tc.fail(err)
			return func(KV[K, V]) {}, func() error { return err }
		}
		k := kr.clone()
		return func(kv KV[K, V]) {
			key := k.view(kv.Key)
			if i, ok := sw.lookup(key); ok {
				sw.vals[i] = mergeValue(sw.vals[i], kv.Value)
				return
			}
			sw.add(key, false, create(kv.Value))
		}, sw.finish
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		emit := down.(func(KV[K, C]))
		r, err := openSorted[C](tc, tc.stage.Input.Node, 0, part, false)
		if err != nil {
			return err
		}
		k := kr.clone()
		var (
			cur  KV[K, C]
			prev []byte
			have bool
		)
		for r.next(tc.ctx) {
			v, err := r.value()
			if err != nil {
				return err
			}
			if have && bytes.Equal(prev, r.key()) {
				cur.Value = mergeCombiners(cur.Value, *v)
				continue
			}
			if have {
				emit(cur)
			}
			prev = append(prev[:0], r.key()...)
			if err := k.decode(prev, &cur.Key); err != nil {
				return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
			}
			cur.Value, have = *v, true
			if tc.stopped() {
				return nil
			}
		}
		if err := r.err(); err != nil {
			return err
		}
		if have {
			emit(cur)
		}
		return nil
	}
	return newDataset[KV[K, C]](d.plan, &node{kind: kindWide, op: "CombineByKey", parents: []*node{d.n}, wide: w})
}

// ReduceByKey merges the values of each key with fn, which must be
// associative and commutative. Values are combined on the map side before the
// shuffle. The result is hash partitioned and sorted by key in each partition.
func ReduceByKey[K, V any](d Dataset[KV[K, V]], fn func(V, V) V, opts ...Option) Dataset[KV[K, V]] {
	out := CombineByKey(d, func(v V) V { return v }, fn, fn, opts...)
	out.n.op = "ReduceByKey"
	return out
}

// FlatMapGroups calls fn once per distinct key with an iterator over the
// key's values, streamed from the shuffle so a group may be larger than
// memory. Values come in the order of the upstream partitions (for a dataset
// read straight from a source: input order). Keys are hash partitioned and
// each partition's groups come in key order. vals must only be ranged over
// during the call, at most once.
func FlatMapGroups[K, V, O any](d Dataset[KV[K, V]], fn func(key K, vals iter.Seq[V], emit func(O)), opts ...Option) Dataset[O] {
	o := d.plan.options(opts)
	kr := newKeyer[K](d.plan, "FlatMapGroups")
	checkCodec[shuffleRow[V]](d.plan, "FlatMapGroups")
	w := &wideOp{shuffle: shuffleHashSorted, partitions: o.partitions, key: typeName[K]()}
	w.write = keyedWrite[K, V](kr)
	w.read = func(tc *taskCtx, part int, down any) error {
		emit := down.(func(O))
		r, err := openSorted[V](tc, tc.stage.Input.Node, 0, part, false)
		if err != nil {
			return err
		}
		g := &grouper[V]{r: r, tc: tc}
		k := kr.clone()
		var key K
		for g.nextGroup() {
			if err := k.decode(g.key, &key); err != nil {
				return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
			}
			fn(key, g.values, emit)
			g.skipRest()
			if tc.stopped() {
				return nil
			}
		}
		return g.err
	}
	return newDataset[O](d.plan, &node{kind: kindWide, op: "FlatMapGroups", parents: []*node{d.n}, wide: w})
}

// GroupByKey collects the values of each key into a slice (in the order
// FlatMapGroups documents). Each group is held in memory; use FlatMapGroups
// to stream groups larger than memory.
func GroupByKey[K, V any](d Dataset[KV[K, V]], opts ...Option) Dataset[KV[K, []V]] {
	out := FlatMapGroups(d, func(k K, vals iter.Seq[V], emit func(KV[K, []V])) {
		var vs []V
		for v := range vals {
			vs = append(vs, v)
		}
		emit(KV[K, []V]{Key: k, Value: vs})
	}, opts...)
	out.n.op = "GroupByKey"
	return out
}

// keyedWrite is the map side shared by operators that shuffle KV rows
// without combining.
func keyedWrite[K, V any](kr *keyer[K]) func(tc *taskCtx, _ int, out shuffleOut) (any, func() error) {
	return func(tc *taskCtx, _ int, out shuffleOut) (any, func() error) {
		sw, err := newSortedWriter[V](tc, out, false, false)
		if err != nil {
			tc.fail(err)
			return func(KV[K, V]) {}, func() error { return err }
		}
		k := kr.clone()
		return func(kv KV[K, V]) { sw.add(k.view(kv.Key), k.stable(), kv.Value) }, sw.finish
	}
}

// grouper walks a sortedReader group by group.
type grouper[V any] struct {
	r       *sortedReader[V]
	tc      *taskCtx
	key     []byte
	pending bool // the reader is on the first row of the next group
	done    bool
	inGroup bool
	err     error
}

func (g *grouper[V]) advance() bool {
	if g.done {
		return false
	}
	if !g.r.next(g.tc.ctx) {
		g.done = true
		g.err = g.r.err()
		return false
	}
	return true
}

// nextGroup moves to the next key; false at the end or on error.
func (g *grouper[V]) nextGroup() bool {
	if !g.pending && !g.advance() {
		return false
	}
	g.pending = false
	g.key = append(g.key[:0], g.r.key()...)
	g.inGroup = true
	return true
}

// values yields the current group's values.
func (g *grouper[V]) values(yield func(V) bool) {
	if !g.inGroup {
		return
	}
	first := true
	for {
		if !first {
			if !g.advance() {
				g.inGroup = false
				return
			}
			if !bytes.Equal(g.r.key(), g.key) {
				g.pending, g.inGroup = true, false
				return
			}
		}
		first = false
		v, err := g.r.value()
		if err != nil {
			g.err, g.done, g.inGroup = err, true, false
			return
		}
		if !yield(*v) {
			return
		}
	}
}

// skipRest moves past the values fn did not consume. If fn stopped early the
// reader is still on a row of the group, which is consumed here.
func (g *grouper[V]) skipRest() {
	for g.inGroup {
		if !g.advance() {
			g.inGroup = false
			return
		}
		if !bytes.Equal(g.r.key(), g.key) {
			g.pending, g.inGroup = true, false
			return
		}
	}
}

// Join pairs every left value with every right value of the same key (an
// inner join). The right side's values of one key are held in memory while
// the left side's stream past them. The result is hash partitioned by key
// and sorted by key within each partition; for one key, pairs come in left
// order, then right order.
func Join[K, A, B any](left Dataset[KV[K, A]], right Dataset[KV[K, B]], opts ...Option) Dataset[KV[K, Joined[A, B]]] {
	out := joinOp(left, right, false, func(k K, a A, b B, matched bool, emit func(KV[K, Joined[A, B]])) {
		emit(KV[K, Joined[A, B]]{Key: k, Value: Joined[A, B]{Left: a, Right: b}})
	}, opts)
	out.n.op = "Join"
	return out
}

// LeftJoin is Join that also keeps left values without a matching right value
// (with Matched false).
func LeftJoin[K, A, B any](left Dataset[KV[K, A]], right Dataset[KV[K, B]], opts ...Option) Dataset[KV[K, LeftJoined[A, B]]] {
	out := joinOp(left, right, true, func(k K, a A, b B, matched bool, emit func(KV[K, LeftJoined[A, B]])) {
		emit(KV[K, LeftJoined[A, B]]{Key: k, Value: LeftJoined[A, B]{Left: a, Right: b, Matched: matched}})
	}, opts)
	out.n.op = "LeftJoin"
	return out
}

func joinOp[K, A, B, O any](left Dataset[KV[K, A]], right Dataset[KV[K, B]], outer bool,
	mk func(K, A, B, bool, func(O)), opts []Option) Dataset[O] {
	samePlan(left.plan, right.plan)
	o := left.plan.options(opts)
	kr := newKeyer[K](left.plan, "Join")
	checkCodec[shuffleRow[A]](left.plan, "Join left")
	checkCodec[shuffleRow[B]](left.plan, "Join right")
	w := &wideOp{shuffle: shuffleHashSorted, partitions: o.partitions, key: typeName[K]()}
	leftWrite, rightWrite := keyedWrite[K, A](kr), keyedWrite[K, B](kr)
	w.write = func(tc *taskCtx, side int, out shuffleOut) (any, func() error) {
		if side == 0 {
			return leftWrite(tc, side, out)
		}
		return rightWrite(tc, side, out)
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		emit := down.(func(O))
		node := tc.stage.Input.Node
		lr, err := openSorted[A](tc, node, 0, part, false)
		if err != nil {
			return err
		}
		rr, err := openSorted[B](tc, node, 1, part, false)
		if err != nil {
			return err
		}
		lg, rg := &grouper[A]{r: lr, tc: tc}, &grouper[B]{r: rr, tc: tc}
		k := kr.clone()
		var (
			key    K
			rights []B
			zero   B
		)
		lok, rok := lg.nextGroup(), rg.nextGroup()
		for lok && !tc.stopped() {
			c := -1 // no right keys left: a left key without right
			if rok {
				c = bytes.Compare(lg.key, rg.key)
			}
			switch {
			case c > 0: // right key without left: skip it
				rg.skipRest()
				rok = rg.nextGroup()
				continue
			case c == 0:
				rights = rights[:0]
				for b := range rg.values {
					rights = append(rights, b)
				}
				rg.skipRest()
				if err := k.decode(lg.key, &key); err != nil {
					return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
				}
				for a := range lg.values {
					for _, b := range rights {
						mk(key, a, b, true, emit)
					}
				}
				rok = rg.nextGroup()
			default: // left key without right
				if outer {
					if err := k.decode(lg.key, &key); err != nil {
						return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
					}
					for a := range lg.values {
						mk(key, a, zero, false, emit)
					}
				}
			}
			lg.skipRest()
			lok = lg.nextGroup()
		}
		if lg.err != nil {
			return lg.err
		}
		return rg.err
	}
	return newDataset[O](left.plan, &node{kind: kindWide, op: "Join", parents: []*node{left.n, right.n}, wide: w})
}

// SortBy orders the dataset globally by key(x): partition i holds keys
// smaller than those of partition i+1 (a range partitioner built from a
// sample of the keys), and each partition is sorted. Records with equal keys
// keep their input order. The input is read twice: once to sample the keys.
func SortBy[T, K any](d Dataset[T], key func(T) K, opts ...Option) Dataset[T] {
	o := d.plan.options(opts)
	kr := newKeyer[K](d.plan, "SortBy")
	checkCodec[shuffleRow[T]](d.plan, "SortBy")
	w := &wideOp{shuffle: shuffleRangeSorted, partitions: o.partitions, key: typeName[K]()}
	w.sample = func(tc *taskCtx) (any, func() [][]byte) {
		s, k := newSampler(tc), kr.clone()
		return func(x T) {
			s.add(k.view(key(x)))
		}, func() [][]byte { return s.keys }
	}
	w.write = func(tc *taskCtx, _ int, out shuffleOut) (any, func() error) {
		sw, err := newSortedWriter[T](tc, out, false, false)
		if err != nil {
			tc.fail(err)
			return func(T) {}, func() error { return err }
		}
		k := kr.clone()
		return func(x T) {
			sw.add(k.view(key(x)), k.stable(), x)
		}, sw.finish
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		emit := down.(func(T))
		r, err := openSorted[T](tc, tc.stage.Input.Node, 0, part, false)
		if err != nil {
			return err
		}
		for r.next(tc.ctx) && !tc.stopped() {
			v, err := r.value()
			if err != nil {
				return err
			}
			emit(*v)
		}
		return r.err()
	}
	return newDataset[T](d.plan, &node{kind: kindWide, op: "SortBy", parents: []*node{d.n}, wide: w})
}

// Sort orders a dataset of orderable values globally (see SortBy). Only the
// values' key encoding is shuffled.
func Sort[T any](d Dataset[T], opts ...Option) Dataset[T] {
	return keyOnly(d, "Sort", shuffleRangeSorted, false, true, opts)
}

// Distinct keeps one copy of each value; T must be orderable (see KV). The
// result is hash partitioned and sorted within each partition.
func Distinct[T any](d Dataset[T], opts ...Option) Dataset[T] {
	return keyOnly(d, "Distinct", shuffleHashSorted, true, false, opts)
}

// keyOnly implements Sort and Distinct: the shuffle carries only the value's
// key encoding, which decodes back to the value.
func keyOnly[T any](d Dataset[T], op string, kind shuffleKind, dedupe, keepDups bool, opts []Option) Dataset[T] {
	o := d.plan.options(opts)
	kr := newKeyer[T](d.plan, op)
	checkCodec[keyRow](d.plan, op)
	w := &wideOp{shuffle: kind, partitions: o.partitions, key: typeName[T](), combine: dedupe}
	w.sample = func(tc *taskCtx) (any, func() [][]byte) {
		s, k := newSampler(tc), kr.clone()
		return func(x T) { s.add(k.view(x)) }, func() [][]byte { return s.keys }
	}
	w.write = func(tc *taskCtx, _ int, out shuffleOut) (any, func() error) {
		sw, err := newSortedWriter[struct{}](tc, out, dedupe, true)
		if err != nil {
			tc.fail(err)
			return func(T) {}, func() error { return err }
		}
		k := kr.clone()
		return func(x T) {
			key := k.view(x)
			if dedupe {
				if _, ok := sw.lookup(key); ok {
					return
				}
				sw.add(key, false, struct{}{})
				return
			}
			sw.add(key, k.stable(), struct{}{})
		}, sw.finish
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		emit := down.(func(T))
		r, err := openSorted[struct{}](tc, tc.stage.Input.Node, 0, part, true)
		if err != nil {
			return err
		}
		k := kr.clone()
		var (
			prev []byte
			have bool
			x    T
		)
		for r.next(tc.ctx) && !tc.stopped() {
			if !keepDups && have && bytes.Equal(prev, r.key()) {
				continue
			}
			prev, have = append(prev[:0], r.key()...), true
			if err := k.decode(prev, &x); err != nil {
				return fmt.Errorf("%w: %w", ErrMapOutputLost, err)
			}
			emit(x)
		}
		return r.err()
	}
	return newDataset[T](d.plan, &node{kind: kindWide, op: op, parents: []*node{d.n}, wide: w})
}

// Repartition redistributes the records into n partitions, in blocks, round
// robin. Order within a block is kept.
func Repartition[T any](d Dataset[T], n int) Dataset[T] {
	out := Union([]Dataset[T]{d}, Partitions(n))
	out.n.op = "Repartition"
	return out
}

// Union concatenates datasets of the same type into one with the default (or
// given) number of partitions, distributing blocks round robin. A partition
// holds blocks of the first dataset before those of the second, and so on.
func Union[T any](ds []Dataset[T], opts ...Option) Dataset[T] {
	if len(ds) == 0 {
		panic("bsp.Union: no datasets")
	}
	p := ds[0].plan
	parents := make([]*node, len(ds))
	for i, d := range ds {
		samePlan(p, d.plan)
		parents[i] = d.n
	}
	o := p.options(opts)
	checkCodec[T](p, "Union")
	w := &wideOp{shuffle: shuffleUnsorted, partitions: o.partitions}
	w.write = func(tc *taskCtx, _ int, out shuffleOut) (any, func() error) {
		uw, err := newUnsortedWriter[T](tc, out)
		if err != nil {
			tc.fail(err)
			return func(T) {}, func() error { return err }
		}
		return func(x T) { uw.add(&x) }, uw.finish
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		return readUnsorted(tc, tc.prog.plan.nodes[tc.stage.Input.Node], part, down.(func(T)))
	}
	return newDataset[T](p, &node{kind: kindWide, op: "Union", parents: parents, wide: w})
}

// Count is a one-partition dataset holding the number of records of d.
func Count[T any](d Dataset[T]) Dataset[int64] {
	w := &wideOp{shuffle: shuffleUnsorted, partitions: 1}
	w.write = func(tc *taskCtx, _ int, out shuffleOut) (any, func() error) {
		uw, err := newUnsortedWriter[int64](tc, out)
		if err != nil {
			tc.fail(err)
			return func(T) {}, func() error { return err }
		}
		var n int64
		return func(T) { n++ }, func() error {
			uw.add(&n)
			return uw.finish()
		}
	}
	w.read = func(tc *taskCtx, part int, down any) error {
		var total int64
		err := readUnsorted(tc, tc.prog.plan.nodes[tc.stage.Input.Node], part, func(n int64) { total += n })
		if err == nil {
			down.(func(int64))(total)
		}
		return err
	}
	return newDataset[int64](d.plan, &node{kind: kindWide, op: "Count", parents: []*node{d.n}, wide: w})
}
