package shuffle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// MergeOptions bound a reducer's merge.
type MergeOptions struct {
	MaxFanIn    int              // inputs open and merged at once; values below 2 mean 2
	TempDir     string           // parent of the temporary directory for intermediate runs; "" means os.TempDir()
	Compression Compression      // of intermediate runs
	Mem         memory.Allocator // for intermediate blocks and their decoding; nil means a Go allocator
	BlockRows   int              // rows per block of intermediate runs; < 1 means 65536
}

// MergeAll returns a Merger over all inputs, each sorted by key; its output
// is the same as NewMerger over all of them at once (a stable merge: equal
// keys in input order). Each input is opened by calling its factory, once,
// and the iterator is closed by MergeAll or by the Merger.
//
// When there are more than MaxFanIn inputs, MergeAll first merges
// consecutive groups of MaxFanIn inputs into temporary one-partition files
// under a new directory in TempDir, in passes, until at most MaxFanIn
// remain, then opens those. Rows are copied without being interpreted. At
// most MaxFanIn inputs are open at any time. The temporary directory is
// removed when the Merger is closed, or before MergeAll returns an error.
// The passes run before MergeAll returns and observe ctx; the Merger's
// SpillBytes says how many bytes of intermediate runs they wrote.
func MergeAll(ctx context.Context, inputs []func() (RecordIterator, error), opts MergeOptions) (m *Merger, err error) {
	opts.MaxFanIn = max(opts.MaxFanIn, 2)
	if opts.BlockRows < 1 {
		opts.BlockRows = 1 << 16
	}
	if opts.Mem == nil {
		opts.Mem = memory.NewGoAllocator()
	}
	var (
		tmp     string
		spilled int64
	)
	defer func() {
		if err != nil && tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	for pass := 0; len(inputs) > opts.MaxFanIn; pass++ {
		if tmp == "" {
			if tmp, err = os.MkdirTemp(opts.TempDir, "merge-"); err != nil {
				return nil, err
			}
		}
		var next []func() (RecordIterator, error)
		for g := 0; g < len(inputs); g += opts.MaxFanIn {
			group := inputs[g:min(g+opts.MaxFanIn, len(inputs))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			path := filepath.Join(tmp, fmt.Sprintf("pass%d-%06d.ssf", pass, g))
			run, n, err := mergeToFile(ctx, group, path, opts)
			if err != nil {
				return nil, err
			}
			spilled += n
			next = append(next, func() (RecordIterator, error) {
				fr, err := OpenFile(path)
				if err != nil {
					return nil, err
				}
				return &closingIterator{RecordIterator: NewRunIterator(FileBlockSource(fr), run, opts.Mem), fr: fr}, nil
			})
		}
		inputs = next
	}
	its, err := openAll(inputs)
	if err != nil {
		return nil, err
	}
	m = NewMerger(its)
	m.spilled = spilled
	if tmp != "" {
		m.cleanup = append(m.cleanup, tmp)
	}
	return m, nil
}

func openAll(inputs []func() (RecordIterator, error)) ([]RecordIterator, error) {
	its := make([]RecordIterator, 0, len(inputs))
	for _, open := range inputs {
		it, err := open()
		if err != nil {
			for _, o := range its {
				o.Close()
			}
			return nil, err
		}
		its = append(its, it)
	}
	return its, nil
}

// closingIterator closes its file when closed.
type closingIterator struct {
	RecordIterator
	fr *FileReader
}

func (c *closingIterator) Close() error {
	return errors.Join(c.RecordIterator.Close(), c.fr.Close())
}

// mergeToFile merges inputs into a one-partition file of one run and
// returns the run and the file's block bytes. Rows are copied without interpreting them: contiguous
// rows of one source record become one slice, and slices are concatenated
// into blocks of about BlockRows rows.
func mergeToFile(ctx context.Context, inputs []func() (RecordIterator, error), path string, opts MergeOptions) (Run, int64, error) {
	its, err := openAll(inputs)
	if err != nil {
		return Run{}, 0, err
	}
	m := NewMerger(its)
	defer m.Close()
	w, err := NewFileWriter(path, 1, WriterOptions{Compression: opts.Compression})
	if err != nil {
		return Run{}, 0, err
	}
	defer w.Abort()
	var (
		span        arrow.RecordBatch // retained while a span of it is open
		start, end  int
		pending     []arrow.RecordBatch
		pendingRows int
	)
	release := func() {
		for _, r := range pending {
			r.Release()
		}
		pending, pendingRows = pending[:0], 0
		if span != nil {
			span.Release()
			span = nil
		}
	}
	defer release()
	closeSpan := func() {
		if span != nil {
			pending = append(pending, span.NewSlice(int64(start), int64(end)))
			pendingRows += end - start
			span.Release()
			span = nil
		}
	}
	flush := func() error {
		closeSpan()
		if pendingRows == 0 {
			return nil
		}
		rec, err := concatRecords(pending, opts.Mem)
		if err != nil {
			return err
		}
		defer rec.Release()
		for _, r := range pending {
			r.Release()
		}
		pending, pendingRows = pending[:0], 0
		return w.Write(0, rec)
	}
	for m.Next(ctx) {
		if pendingRows == 0 && span == nil {
			// Once per output block: cheap, and a cancelled job stops here.
			if err := ctx.Err(); err != nil {
				return Run{}, 0, err
			}
		}
		rec, row := m.Row()
		if span == rec && row == end {
			end++
		} else {
			closeSpan()
			rec.Retain()
			span, start, end = rec, row, row+1
		}
		if pendingRows+(end-start) >= opts.BlockRows {
			if err := flush(); err != nil {
				return Run{}, 0, err
			}
		}
	}
	if err := m.Err(); err != nil {
		return Run{}, 0, err
	}
	if err := flush(); err != nil {
		return Run{}, 0, err
	}
	ix, err := w.Close()
	if err != nil {
		return Run{}, 0, err
	}
	if len(ix.Runs[0]) == 0 {
		return Run{}, ix.Bytes, nil
	}
	return ix.Runs[0][0], ix.Bytes, nil
}

// concatRecords concatenates records of one schema into a new record.
func concatRecords(recs []arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	if len(recs) == 1 {
		recs[0].Retain()
		return recs[0], nil
	}
	schema := recs[0].Schema()
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	parts := make([]arrow.Array, len(recs))
	for i := range cols {
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}
