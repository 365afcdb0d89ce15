package shuffle

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RecordIterator yields record batches, arrow style. One goroutine uses an
// iterator at a time.
type RecordIterator interface {
	// Next advances to the next record; false at the end or on error.
	Next(ctx context.Context) bool
	// Record is the current record, owned by the iterator and valid until
	// the next Next or Close; Retain it to keep it longer.
	Record() arrow.RecordBatch
	// Err is the error that stopped iteration, if any.
	Err() error
	// Close releases the current record and any resources. Idempotent.
	Close() error
}

// BlockSource reads raw framed blocks: from a local file, or from the worker
// that holds it. ReadBlock returns the framed bytes of h (EncodeBlock's
// output), unverified; it may read into dst and return it when dst is large
// enough, so the caller must be done with a previous result before passing
// it back as dst. Errors that mean the data is damaged should match
// ErrCorrupt (not worth retrying); others (I/O, network, ctx) may be
// retried by the caller.
type BlockSource interface {
	ReadBlock(ctx context.Context, h BlockHandle, dst []byte) ([]byte, error)
}

type fileSource struct{ r *FileReader }

func (s fileSource) ReadBlock(_ context.Context, h BlockHandle, dst []byte) ([]byte, error) {
	return s.r.ReadBlock(h, dst)
}

// FileBlockSource reads blocks of a local map output file with ReadAt. It
// ignores ctx (a local read is short) and does not own r: the caller closes
// r after the sources' iterators are done.
func FileBlockSource(r *FileReader) BlockSource { return fileSource{r} }

type runIterator struct {
	src  BlockSource
	run  Run
	mem  memory.Allocator
	name string
	i    int
	buf  []byte
	rec  arrow.RecordBatch
	err  error
}

// NewRunIterator reads the blocks of run from src in order and decodes each
// into one record allocated from mem, verifying its checksum and row count.
// A damaged block stops iteration with a *CorruptError (with the file path
// and block offset when src is a FileBlockSource). It checks ctx before each
// block. Records are released by the iterator on the next Next or Close.
func NewRunIterator(src BlockSource, run Run, mem memory.Allocator) RecordIterator {
	it := &runIterator{src: src, run: run, mem: mem}
	if fs, ok := src.(fileSource); ok {
		it.name = fs.r.path
	}
	return it
}

func (it *runIterator) Next(ctx context.Context) bool {
	if it.rec != nil {
		it.rec.Release()
		it.rec = nil
	}
	if it.err != nil || it.i >= len(it.run.Blocks) {
		return false
	}
	if err := ctx.Err(); err != nil {
		it.err = err
		return false
	}
	h := it.run.Blocks[it.i]
	it.i++
	b, err := it.src.ReadBlock(ctx, h, it.buf)
	if err != nil {
		it.err = err
		return false
	}
	it.buf = b
	rec, err := DecodeBlock(b, it.mem)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) && ce.Path == "" {
			ce.Path, ce.Offset = it.name, h.Offset
		}
		it.err = err
		return false
	}
	if rec.NumRows() != h.Rows {
		rec.Release()
		it.err = &CorruptError{Path: it.name, Offset: h.Offset, Reason: fmt.Sprintf("%d rows, index says %d", rec.NumRows(), h.Rows)}
		return false
	}
	it.rec = rec
	return true
}

func (it *runIterator) Record() arrow.RecordBatch { return it.rec }
func (it *runIterator) Err() error                { return it.err }
func (it *runIterator) Close() error {
	if it.rec != nil {
		it.rec.Release()
		it.rec = nil
	}
	it.i = len(it.run.Blocks)
	return nil
}

type concat struct {
	its []RecordIterator
	err error
}

// Concat yields the records of its, one iterator after another, closing
// each as it is exhausted. It takes ownership of its: Close closes the ones
// not yet exhausted. The first error stops it.
func Concat(its ...RecordIterator) RecordIterator { return &concat{its: its} }

func (c *concat) Next(ctx context.Context) bool {
	for c.err == nil && len(c.its) > 0 {
		if c.its[0].Next(ctx) {
			return true
		}
		if err := c.its[0].Err(); err != nil {
			c.err = err
			return false
		}
		if err := c.its[0].Close(); err != nil {
			c.err = err
			return false
		}
		c.its[0] = nil
		c.its = c.its[1:]
	}
	return false
}

func (c *concat) Record() arrow.RecordBatch {
	if len(c.its) == 0 || c.err != nil {
		return nil
	}
	return c.its[0].Record()
}

func (c *concat) Err() error { return c.err }

func (c *concat) Close() error {
	var errs []error
	for _, it := range c.its {
		errs = append(errs, it.Close())
	}
	c.its = nil
	return errors.Join(errs...)
}
