package shuffle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// cursor is one merge input positioned on a row. key caches the current
// row's key bytes so heap comparisons do not recompute offsets.
type cursor struct {
	key  []byte
	keys *array.Binary
	row  int
	n    int
	idx  int
	rec  arrow.RecordBatch
	it   RecordIterator
}

// advance moves to the next row; false at the end of the input or on error.
// Only a record boundary reaches the iterator (and so may allocate).
func (c *cursor) advance(ctx context.Context) (bool, error) {
	c.row++
	if c.row < c.n {
		c.key = c.keys.Value(c.row)
		return true, nil
	}
	for {
		c.rec, c.keys, c.key = nil, nil, nil
		if !c.it.Next(ctx) {
			return false, c.it.Err()
		}
		rec := c.it.Record()
		if rec.NumCols() == 0 {
			return false, fmt.Errorf("shuffle: merge input %d has no key column", c.idx)
		}
		keys, ok := rec.Column(0).(*array.Binary)
		if !ok {
			return false, fmt.Errorf("shuffle: merge input %d: key column is %s, want binary", c.idx, rec.Column(0).DataType())
		}
		if rec.NumRows() == 0 {
			continue
		}
		c.rec, c.keys, c.row, c.n = rec, keys, 0, int(rec.NumRows())
		c.key = keys.Value(0)
		return true, nil
	}
}

// Merger merges inputs that are each sorted by key (column 0, binary, in
// bytes.Compare order) into one sorted stream of rows. Rows with equal keys
// come in input order (all of input 0's, then input 1's, ...), so the result
// is deterministic; it is a stable sort of the inputs' concatenation.
//
// Rows are not copied: Row returns the input's own record and a row index.
// Advancing costs no allocation per row; only moving to an input's next
// record reaches that input's iterator. A Merger is not safe for concurrent
// use.
type Merger struct {
	heap    []*cursor
	started bool
	cur     *cursor
	err     error
	cleanup []string
	closed  bool
	all     []*cursor
	spilled int64 // bytes of intermediate runs MergeAll wrote
}

// SpillBytes is the bytes of intermediate runs that MergeAll wrote to
// temporary files to stay within its fan-in; 0 for NewMerger.
func (m *Merger) SpillBytes() int64 { return m.spilled }

// NewMerger returns a merger over its, each sorted by key. It takes
// ownership of the iterators: Close closes them all, and the caller must
// not use them afterwards. Inputs are not touched until the first Next.
func NewMerger(its []RecordIterator) *Merger {
	cs := make([]cursor, len(its))
	m := &Merger{all: make([]*cursor, len(its)), heap: make([]*cursor, 0, len(its))}
	for i, it := range its {
		cs[i] = cursor{it: it, idx: i, row: -1}
		m.all[i] = &cs[i]
	}
	return m
}

func less(a, b *cursor) bool {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.idx < b.idx
}

func (m *Merger) down(i int) {
	h := m.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		s := l
		if r := l + 1; r < len(h) && less(h[r], h[l]) {
			s = r
		}
		if !less(h[s], h[i]) {
			return
		}
		h[i], h[s] = h[s], h[i]
		i = s
	}
}

// Next advances to the next row in key order. It returns false at the end
// of all inputs, after an input fails (see Err) and after Close. The first
// call opens every input.
func (m *Merger) Next(ctx context.Context) bool {
	if m.err != nil || m.closed {
		return false
	}
	if !m.started {
		m.started = true
		for _, c := range m.all {
			ok, err := c.advance(ctx)
			if err != nil {
				m.err = err
				return false
			}
			if ok {
				m.heap = append(m.heap, c)
			}
		}
		for i := len(m.heap)/2 - 1; i >= 0; i-- {
			m.down(i)
		}
	} else if len(m.heap) > 0 {
		top := m.heap[0]
		ok, err := top.advance(ctx)
		if err != nil {
			m.err = err
			return false
		}
		if !ok {
			last := len(m.heap) - 1
			m.heap[0] = m.heap[last]
			m.heap = m.heap[:last]
		}
		if len(m.heap) > 0 {
			m.down(0)
		}
	}
	if len(m.heap) == 0 {
		m.cur = nil
		return false
	}
	m.cur = m.heap[0]
	return true
}

// Key is the current row's key bytes. They alias the input's record: valid
// until the next Next or Close, not to be modified. Only valid after Next
// returned true.
func (m *Merger) Key() []byte { return m.cur.key }

// Row is the current row: the input's record and the row's index in it.
// The record belongs to the input iterator and is valid until the next
// Next or Close; Retain it to keep it longer. Only valid after Next
// returned true.
func (m *Merger) Row() (arrow.RecordBatch, int) { return m.cur.rec, m.cur.row }

// Source is the index (in NewMerger's its) of the input the current row
// came from.
func (m *Merger) Source() int { return m.cur.idx }

// Err is the error that stopped the merge, if any: an input's error, or a
// record without a binary key column.
func (m *Merger) Err() error { return m.err }

// Close closes every input and removes the merger's temporary files (those
// of MergeAll). It is idempotent; it returns the inputs' Close errors.
func (m *Merger) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for _, c := range m.all {
		errs = append(errs, c.it.Close())
	}
	for _, p := range m.cleanup {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
