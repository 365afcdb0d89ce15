package codec

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Builder accumulates values of T into Arrow record batches. It is not
// safe for concurrent use.
type Builder[T any] struct {
	c     *Codec[T]
	rb    *array.RecordBuilder
	apps  []appendFn
	n     int
	bytes int
}

// NewBuilder returns a builder whose buffers come from mem. The caller
// must Release it.
func (c *Codec[T]) NewBuilder(mem memory.Allocator) *Builder[T] {
	rb := array.NewRecordBuilder(mem, c.schema)
	b := &Builder[T]{c: c, rb: rb, apps: make([]appendFn, len(c.fields))}
	for i, f := range c.fields {
		b.apps[i] = f.vc.bind(rb.Field(i))
	}
	return b
}

// Append adds *v as a row. The builder copies what it needs: *v may be
// changed or freed as soon as Append returns. It does not allocate per row
// beyond the amortized growth of the Arrow buffers.
func (b *Builder[T]) Append(v *T) {
	p := unsafe.Pointer(v)
	fields := b.c.fields
	for i, app := range b.apps {
		b.bytes += app(unsafe.Add(p, fields[i].offset))
	}
	b.n++
}

// Len returns the number of rows appended since the last NewRecord.
func (b *Builder[T]) Len() int { return b.n }

// Bytes returns an estimate of the bytes buffered since the last
// NewRecord: fixed widths plus string and []byte lengths plus offsets. It
// costs nothing and is meant for memory budgets.
func (b *Builder[T]) Bytes() int { return b.bytes }

// NewRecord returns the rows appended since the last call as a record
// batch and resets the builder, which stays usable. The caller owns the
// record and must Release it.
func (b *Builder[T]) NewRecord() arrow.RecordBatch {
	b.n, b.bytes = 0, 0
	return b.rb.NewRecordBatch()
}

// Release frees the builder's buffers, including rows not yet taken by
// NewRecord. Records already returned are not affected.
func (b *Builder[T]) Release() { b.rb.Release() }
