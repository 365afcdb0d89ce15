package codec

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
)

// Reader decodes the rows of one record batch into values of T. It is not
// safe for concurrent use.
//
// Values it returns never alias Arrow memory: NewReader copies each string
// and binary column once (rows are substrings and capacity-limited
// sub-slices of that copy), so reading a flat row allocates nothing, while
// slices and pointers are allocated per row.
type Reader[T any] struct {
	c   *Codec[T]
	rds []readFn
	n   int
}

// NewReader returns a reader of rec's rows. rec's schema must fit T: the
// same column names and types in order, recursively; nullability, list
// element names and timestamp units may differ. Otherwise the error
// matches ErrSchemaMismatch.
//
// The caller keeps ownership of rec and must keep it alive until the last
// Read; the reader does not retain or release it. Values already read stay
// valid after rec is released.
func (c *Codec[T]) NewReader(rec arrow.RecordBatch) (*Reader[T], error) {
	if int(rec.NumCols()) != len(c.fields) {
		return nil, fmt.Errorf("%w: %d columns, want %d (%s)", ErrSchemaMismatch, rec.NumCols(), len(c.fields), c.schema)
	}
	r := &Reader[T]{c: c, rds: make([]readFn, len(c.fields)), n: int(rec.NumRows())}
	for i, f := range c.fields {
		got := rec.Schema().Field(i)
		if got.Name != f.name || !compatible(got.Type, f.vc.dt) {
			return nil, fmt.Errorf("%w: column %d is %s %s, want %s %s", ErrSchemaMismatch, i, got.Name, got.Type, f.name, f.vc.dt)
		}
		rd, err := f.vc.read(rec.Column(i))
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.name, err)
		}
		r.rds[i] = rd
	}
	return r, nil
}

// Len returns the number of rows.
func (r *Reader[T]) Len() int { return r.n }

// Read overwrites *v with row i, 0 <= i < Len(); it panics if i is out of
// range. Every field that has a column is set; fields tagged `bsp:"-"`
// are left alone.
func (r *Reader[T]) Read(i int, v *T) {
	p := unsafe.Pointer(v)
	fields := r.c.fields
	for j, rd := range r.rds {
		rd(i, unsafe.Add(p, fields[j].offset))
	}
}
