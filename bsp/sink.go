package bsp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/superstep/superstep/internal/codec"
	"github.com/superstep/superstep/shuffle"
	"github.com/superstep/superstep/storage"
)

// Sinks write one part file per partition of their dataset, named
// part-NNNNN.EXT, into an output directory that appears whole when the job
// commits (with an empty _SUCCESS marker) or not at all.

// partWriter is the attempt-scoped file of one sink task.
type partWriter struct {
	f  *os.File       // a local part
	ow storage.Writer // a part in an object store (s3://)
	n  int64          // bytes written to ow
	bw *bufio.Writer
	// collect outputs go to a one-partition shuffle file instead
	collect shuffleOut
	done    bool      // finish succeeded
	sf      *SinkFile // the task's report of the file; finish sets its size
}

func (w *partWriter) Write(b []byte) (int, error) { return w.bw.Write(b) }

// SinkTempDir is where a job's sink writes before the job commits: a hidden
// sibling of the output directory, so that the final rename is atomic.
func SinkTempDir(dir, jobID string) string {
	dir = storage.Clean(dir)
	return storage.Join(storage.Dir(dir), "."+storage.Base(dir)+".superstep-"+jobID)
}

func attemptPath(tmp string, part, attempt int, sink *sinkOp) string {
	sk := SinkSpec{Ext: sink.ext, Name: sink.name, Single: sink.single}
	return storage.Join(tmp, storage.AttemptsDir, fmt.Sprintf("%s.%05d-a%d", sk.FileName(0), part, attempt), sk.FileName(part))
}

// RemoveSinkAttempt removes the part file of a sink attempt that will not
// be committed, with its attempt directory, and then the job's temporary
// directory if nothing else is left in it: an attempt that ends after the
// job was aborted must not leave the directory behind.
func RemoveSinkAttempt(path string) {
	if storage.Scheme(path) != "" {
		// Objects: no empty directories to leave behind.
		if fsys, err := storage.For(path); err == nil {
			_ = fsys.RemoveAll(context.Background(), storage.Dir(path))
		}
		return
	}
	dir := filepath.Dir(path)
	_ = os.RemoveAll(dir)
	attempts := filepath.Dir(dir)
	if filepath.Base(attempts) != storage.AttemptsDir {
		return
	}
	if os.Remove(attempts) == nil { // only succeeds when empty
		_ = os.Remove(filepath.Dir(attempts))
	}
}

func checkSinkDir(ctx context.Context, sk SinkSpec) error {
	if storage.Scheme(sk.Dir) != "" {
		fsys, err := storage.For(sk.Dir)
		if err != nil {
			return fmt.Errorf("%w: output %s: %w", ErrPlan, sk.Dir, err)
		}
		if !strings.Contains(strings.TrimPrefix(storage.Clean(sk.Dir), storage.Scheme(sk.Dir)+"://"), "/") {
			return fmt.Errorf("%w: output %s: name a prefix below the bucket, e.g. %s/out", ErrPlan, sk.Dir, storage.Clean(sk.Dir))
		}
		_, err = fsys.Stat(ctx, sk.Dir)
		switch {
		case err == nil && !sk.Overwrite:
			return fmt.Errorf("%w: output %s already exists (remove it or use --overwrite)", ErrPlan, sk.Dir)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: output %w", ErrPlan, err)
		}
		return nil
	}
	if _, err := os.Stat(sk.Dir); err == nil && !sk.Overwrite {
		return fmt.Errorf("%w: output %s already exists (remove it or use --overwrite)", ErrPlan, sk.Dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: output %s: %w", ErrPlan, sk.Dir, err)
	}
	return nil
}

func (tc *taskCtx) openPartWriter(term *node) (*partWriter, error) {
	if term.sink.collect {
		path := MapOutputPath(tc.env.WorkDir, tc.prog.Spec.JobID, term.id, 0, tc.spec.Partition, tc.spec.Attempt)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		w, err := shuffle.NewFileWriter(path, 1, shuffle.WriterOptions{Compression: tc.env.Compression})
		if err != nil {
			return nil, err
		}
		tc.onClose(func() { _ = w.Abort() })
		tc.report.MapOutput = &MapOutput{Node: term.id, Part: tc.spec.Partition, Path: path}
		return &partWriter{collect: shuffleOut{w: w, n: 1}}, nil
	}
	tmp := SinkTempDir(term.sink.dir, tc.prog.Spec.JobID)
	path := attemptPath(tmp, tc.spec.Partition, tc.spec.Attempt, term.sink)
	if storage.Scheme(path) != "" {
		return tc.openObjectPart(term, path)
	}
	// A failing attempt removes the empty directories above its own (see
	// RemoveSinkAttempt); one retry covers losing that race.
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", term.sink.dir, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", term.sink.dir, err)
	}
	tc.report.SinkFile = &SinkFile{Node: term.id, Part: tc.spec.Partition, Path: path}
	w := &partWriter{f: f, bw: bufio.NewWriterSize(f, 1<<20), sf: tc.report.SinkFile}
	tc.onClose(func() {
		if !w.done { // a failed attempt leaves nothing behind
			_ = f.Close()
			RemoveSinkAttempt(path)
		}
	})
	return w, nil
}

// openObjectPart is openPartWriter for an output in an object store: the
// part streams to the attempt's object, which appears on finish.
func (tc *taskCtx) openObjectPart(term *node, path string) (*partWriter, error) {
	fsys, err := storage.For(path)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", term.sink.dir, err)
	}
	ow, err := fsys.Create(tc.ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", term.sink.dir, err)
	}
	tc.report.SinkFile = &SinkFile{Node: term.id, Part: tc.spec.Partition, Path: path}
	w := &partWriter{ow: ow, sf: tc.report.SinkFile}
	w.bw = bufio.NewWriterSize(countingWriter{w}, 1<<20)
	tc.onClose(func() {
		if !w.done { // a failed attempt leaves nothing behind
			_ = ow.Abort()
		}
	})
	return w, nil
}

type countingWriter struct{ w *partWriter }

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.ow.Write(b)
	c.w.n += int64(n)
	return n, err
}

// finishPart flushes and syncs a part file.
func (w *partWriter) finish() error {
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if w.ow != nil {
		if err := w.ow.Close(); err != nil {
			return err
		}
		w.sf.Size = w.n
		w.done = true
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	info, err := w.f.Stat()
	if err != nil {
		return err
	}
	w.sf.Size = info.Size()
	if err := w.f.Close(); err != nil {
		return err
	}
	w.done = true
	return nil
}

func (p *Plan) addSink(n *node) {
	p.add(n)
	p.outputs = append(p.outputs, n)
}

func sinkNode[T any](d Dataset[T], op, dir, ext string, opts []Option,
	open func(tc *taskCtx, w *partWriter) (any, func() error)) {
	o := d.plan.options(opts)
	if dir == "" {
		d.plan.fail(fmt.Errorf("%s: empty output directory", op))
	}
	d.plan.addSink(&node{kind: kindSink, op: op, detail: dir, typ: typeName[T](), parents: []*node{d.n},
		sink: &sinkOp{dir: dir, ext: ext, overwrite: o.overwrite, open: open}})
}

// WriteBinary writes each partition in a format of the caller's: open gets
// the partition's file (buffered; the sink syncs and commits it) and returns
// the functions that write one record and finish the file. Files are named
// name-NNNNN.ext, or name.ext with SingleFile (which needs a one-partition
// dataset). Several sinks may write into one directory under different
// names; the directory then appears whole when the job commits.
func WriteBinary[T any](d Dataset[T], dir, name, ext string, open func(w io.Writer) (write func(T) error, finish func() error), opts ...Option) {
	o := d.plan.options(opts)
	if name == "" || strings.ContainsAny(name, "/\\.") || ext == "" || strings.ContainsAny(ext, "/\\") {
		d.plan.fail(fmt.Errorf("%w: WriteBinary: bad file name %q.%q", ErrPlan, name, ext))
	}
	d.plan.addSink(&node{kind: kindSink, op: "WriteBinary", detail: dir, typ: typeName[T](), parents: []*node{d.n},
		sink: &sinkOp{dir: dir, ext: ext, name: name, single: o.single, overwrite: o.overwrite,
			open: func(tc *taskCtx, w *partWriter) (any, func() error) {
				write, finish := open(w.bw)
				return func(v T) {
						tc.report.RecordsOut++
						if tc.err == nil {
							tc.fail(write(v))
						}
					}, func() error {
						if err := finish(); err != nil {
							return err
						}
						return w.finish()
					}
			}}})
}

// WriteText writes each string as one line ("\n" appended).
func WriteText(d Dataset[string], dir string, opts ...Option) {
	sinkNode(d, "WriteText", dir, "txt", opts, func(tc *taskCtx, w *partWriter) (any, func() error) {
		return func(s string) {
			tc.report.RecordsOut++
			_, _ = w.bw.WriteString(s)
			_ = w.bw.WriteByte('\n')
		}, w.finish
	})
}

// WriteTSV writes each record as one tab-separated line (see the codec's TSV
// formatting: nested structs are flattened, strings escape \t \n \r \\).
// Header() adds a header line to every part.
func WriteTSV[T any](d Dataset[T], dir string, opts ...Option) {
	f, err := codec.NewTSVFormatter[T]()
	if err != nil {
		d.plan.fail(fmt.Errorf("WriteTSV: %w", err))
	}
	header := d.plan.options(opts).header
	sinkNode(d, "WriteTSV", dir, "tsv", opts, func(tc *taskCtx, w *partWriter) (any, func() error) {
		if header {
			_, _ = w.bw.WriteString(strings.Join(f.Header(), "\t") + "\n")
		}
		var buf []byte
		return func(v T) {
			tc.report.RecordsOut++
			buf = append(f.Append(buf[:0], &v), '\n')
			_, _ = w.bw.Write(buf)
		}, w.finish
	})
}

// WriteJSON writes each record as one line of JSON (encoding/json).
func WriteJSON[T any](d Dataset[T], dir string, opts ...Option) {
	sinkNode(d, "WriteJSON", dir, "jsonl", opts, func(tc *taskCtx, w *partWriter) (any, func() error) {
		enc := json.NewEncoder(w.bw)
		enc.SetEscapeHTML(false)
		return func(v T) {
			tc.report.RecordsOut++
			tc.fail(enc.Encode(v))
		}, w.finish
	})
}

const sinkBatchRows = 64 << 10

// batchSink feeds records to a builder and hands full batches to write.
func batchSink[T any](tc *taskCtx, c *codec.Codec[T], write func(b *codec.Builder[T]) error, done func() error) (any, func() error) {
	b := c.NewBuilder(tc.env.Mem)
	tc.onClose(b.Release)
	return func(v T) {
			tc.report.RecordsOut++
			b.Append(&v)
			if b.Len() >= sinkBatchRows || b.Bytes() >= 8*blockBytes {
				tc.fail(write(b))
			}
		}, func() error {
			if b.Len() > 0 {
				if err := write(b); err != nil {
					return err
				}
			}
			return done()
		}
}

// WriteParquet writes Parquet files (zstd compressed) with T's schema.
func WriteParquet[T any](d Dataset[T], dir string, opts ...Option) {
	c, err := codec.For[T]()
	if err != nil {
		d.plan.fail(fmt.Errorf("WriteParquet: %w", err))
	}
	sinkNode(d, "WriteParquet", dir, "parquet", opts, func(tc *taskCtx, w *partWriter) (any, func() error) {
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
			parquet.WithAllocator(tc.env.Mem), parquet.WithCreatedBy("superstep"))
		pw, err := pqarrow.NewFileWriter(c.Schema(), w, props,
			pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(tc.env.Mem)))
		if err != nil {
			tc.fail(err)
			return func(T) {}, func() error { return err }
		}
		closed := false
		tc.onClose(func() {
			if !closed {
				_ = pw.Close()
			}
		})
		return batchSink(tc, c, func(b *codec.Builder[T]) error {
			rec := b.NewRecord()
			defer rec.Release()
			return pw.Write(rec)
		}, func() error {
			closed = true
			if err := pw.Close(); err != nil {
				return err
			}
			return w.finish()
		})
	})
}

// WriteArrow writes Arrow IPC files (file format) with T's schema.
func WriteArrow[T any](d Dataset[T], dir string, opts ...Option) {
	c, err := codec.For[T]()
	if err != nil {
		d.plan.fail(fmt.Errorf("WriteArrow: %w", err))
	}
	sinkNode(d, "WriteArrow", dir, "arrow", opts, func(tc *taskCtx, w *partWriter) (any, func() error) {
		fw, err := ipc.NewFileWriter(w, ipc.WithSchema(c.Schema()), ipc.WithAllocator(tc.env.Mem), ipc.WithZstd())
		if err != nil {
			tc.fail(err)
			return func(T) {}, func() error { return err }
		}
		return batchSink(tc, c, func(b *codec.Builder[T]) error {
			rec := b.NewRecord()
			defer rec.Release()
			return fw.Write(rec)
		}, func() error {
			if err := fw.Close(); err != nil {
				return err
			}
			return w.finish()
		})
	})
}

// Collected is a handle on a dataset that Collect returns to the submitter.
type Collected[T any] struct{ node int }

// Collect marks d as a small result to bring back to the submitting process
// (through shuffle files, never through the coordinator). Read it with
// ReadCollected after the job ran.
func Collect[T any](d Dataset[T]) Collected[T] {
	c, err := codec.For[T]()
	if err != nil {
		d.plan.fail(fmt.Errorf("Collect: %w", err))
	}
	n := &node{kind: kindSink, op: "Collect", typ: typeName[T](), parents: []*node{d.n}, sink: &sinkOp{collect: true,
		open: func(tc *taskCtx, w *partWriter) (any, func() error) {
			uw := &unsortedWriter[T]{tc: tc, out: w.collect, b: c.NewBuilder(tc.env.Mem)}
			tc.onClose(uw.b.Release)
			return func(v T) {
				tc.report.RecordsOut++
				uw.add(&v)
			}, uw.finish
		}}}
	d.plan.addSink(n)
	return Collected[T]{node: n.id}
}

// ReadCollected decodes a collected dataset from a job's result, partitions
// in order.
func ReadCollected[T any](ctx context.Context, res *Result, h Collected[T]) ([]T, error) {
	c, err := codec.For[T]()
	if err != nil {
		return nil, err
	}
	blocks, ok := res.Collected[h.node]
	if !ok {
		return nil, fmt.Errorf("bsp: node %d was not collected by this job", h.node)
	}
	var out []T
	var v T
	mem := memory.NewGoAllocator()
	for _, b := range blocks {
		rec, err := shuffle.DecodeBlock(b, mem)
		if err != nil {
			return nil, err
		}
		r, err := c.NewReader(rec)
		if err != nil {
			rec.Release()
			return nil, err
		}
		for i := 0; i < r.Len(); i++ {
			r.Read(i, &v)
			out = append(out, v)
		}
		rec.Release()
	}
	return out, ctx.Err()
}
