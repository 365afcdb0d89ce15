package bsp

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/superstep/superstep/internal/codec"
)

// Map returns the dataset of fn(x) for every x of d. fn runs inside the task
// that computes each partition; it must not keep references to x beyond the
// call unless x is a value type.
func Map[T, U any](d Dataset[T], fn func(T) U) Dataset[U] {
	return newDataset[U](d.plan, &node{
		kind: kindNarrow, op: "Map", parents: []*node{d.n},
		wrap: func(_ *taskCtx, down any) (any, func()) {
			emit := down.(func(U))
			return func(x T) { emit(fn(x)) }, nil
		},
	})
}

// FlatMap calls fn for every x of d; every value fn passes to emit becomes a
// record of the result. emit must only be called during fn.
func FlatMap[T, U any](d Dataset[T], fn func(x T, emit func(U))) Dataset[U] {
	return newDataset[U](d.plan, &node{
		kind: kindNarrow, op: "FlatMap", parents: []*node{d.n},
		wrap: func(_ *taskCtx, down any) (any, func()) {
			emit := down.(func(U))
			return func(x T) { fn(x, emit) }, nil
		},
	})
}

// MapPartitions calls fn once per partition with the partition's number and
// all its records, in order (held in memory), for computations that need a
// whole partition or a record's position in it, such as numbering.
func MapPartitions[T, U any](d Dataset[T], fn func(part int, in []T, emit func(U))) Dataset[U] {
	return newDataset[U](d.plan, &node{
		kind: kindNarrow, op: "MapPartitions", parents: []*node{d.n},
		wrap: func(tc *taskCtx, down any) (any, func()) {
			emit := down.(func(U))
			var buf []T
			return func(x T) { buf = append(buf, x) }, func() {
				fn(tc.spec.Partition, buf, emit)
				buf = nil
			}
		},
	})
}

// Filter keeps the records for which keep returns true.
func Filter[T any](d Dataset[T], keep func(T) bool) Dataset[T] {
	return newDataset[T](d.plan, &node{
		kind: kindNarrow, op: "Filter", parents: []*node{d.n},
		wrap: func(_ *taskCtx, down any) (any, func()) {
			emit := down.(func(T))
			return func(x T) {
				if keep(x) {
					emit(x)
				}
			}, nil
		},
	})
}

// mapBatchRows is the number of records MapBatches hands to fn at once (the
// last batch of a partition may be shorter).
const mapBatchRows = 8192

// MapBatches gives direct access to Arrow: the records of d are encoded into
// record batches with T's schema and passed to fn, which returns a batch with
// U's schema. fn must not release in and must not keep it after returning
// (Retain it to keep it); the framework releases the batch fn returns. An
// error from fn fails the task.
func MapBatches[T, U any](d Dataset[T], fn func(in arrow.RecordBatch) (arrow.RecordBatch, error)) Dataset[U] {
	in, err := codec.For[T]()
	if err != nil {
		d.plan.fail(fmt.Errorf("MapBatches input: %w", err))
	}
	out, err := codec.For[U]()
	if err != nil {
		d.plan.fail(fmt.Errorf("MapBatches output: %w", err))
	}
	return newDataset[U](d.plan, &node{
		kind: kindNarrow, op: "MapBatches", parents: []*node{d.n},
		wrap: func(tc *taskCtx, down any) (any, func()) {
			emit := down.(func(U))
			b := in.NewBuilder(tc.env.Mem)
			tc.onClose(b.Release)
			var u U
			flush := func() {
				if b.Len() == 0 || tc.err != nil {
					return
				}
				rec := b.NewRecord()
				res, err := fn(rec)
				rec.Release()
				if err != nil {
					tc.fail(fmt.Errorf("MapBatches: %w", err))
					return
				}
				defer res.Release()
				r, err := out.NewReader(res)
				if err != nil {
					tc.fail(fmt.Errorf("MapBatches: returned batch: %w", err))
					return
				}
				for i := 0; i < r.Len(); i++ {
					r.Read(i, &u)
					emit(u)
				}
			}
			return func(x T) {
				b.Append(&x)
				if b.Len() >= mapBatchRows {
					flush()
				}
			}, flush
		},
	})
}
