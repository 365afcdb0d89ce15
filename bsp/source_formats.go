package bsp

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/superstep/superstep/internal/codec"
	"github.com/superstep/superstep/storage"
)

// CSV is a dataset of T read from CSV files with a header line; columns map
// to T's fields by name (case-insensitive). Files are not split (a quoted
// field may span lines). A malformed line is an error naming file and line.
func CSV[T any](p *Plan, paths ...string) Dataset[T] {
	paths = slices.Clone(paths)
	return newDataset[T](p, &node{kind: kindSource, op: "CSV", detail: strings.Join(paths, ","),
		src: &sourceOp{
			splits: func(_ context.Context, parts int) ([]Split, error) { return fileSplits(paths, parts, false, false) },
			read: func(tc *taskCtx, s Split, down any) error {
				emit := down.(func(T))
				for _, fr := range s.Files {
					if err := readCSV(tc, fr.Path, emit); err != nil {
						return err
					}
				}
				return nil
			},
		}})
}

func readCSV[T any](tc *taskCtx, path string, emit func(T)) error {
	f, err := openInput(tc.ctx, path, 0, -1)
	if err != nil {
		return &InputError{Path: path, Err: unwrapPathError(err)}
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return csvError(path, err)
	}
	header = slices.Clone(header)
	parser, err := codec.NewCSVParser[T](header)
	if err != nil {
		return &InputError{Path: path, Line: 1, Err: err}
	}
	var v T
	for !tc.stopped() {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(path, err)
		}
		var zero T
		v = zero
		if err := parser.Parse(rec, &v); err != nil {
			line, _ := r.FieldPos(0)
			return &InputError{Path: path, Line: int64(line), Err: err}
		}
		tc.report.RecordsIn++
		emit(v)
	}
	return nil
}

func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &InputError{Path: path, Line: int64(pe.Line), Err: pe.Err}
	}
	return &InputError{Path: path, Err: err}
}

// JSONLines is a dataset of T decoded with encoding/json from files of one
// JSON value per line (blank lines are skipped). Files are split by byte
// range. Invalid JSON, a value of the wrong type or invalid UTF-8 is an
// error naming file and line.
func JSONLines[T any](p *Plan, paths ...string) Dataset[T] {
	return lineSource(p, "JSONLines", paths, func(line string, emit func(T)) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		if !utf8.ValidString(line) {
			return errors.New("invalid UTF-8")
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return err
		}
		emit(v)
		return nil
	})
}

// ArrowFile is a dataset of T read from Arrow IPC files (file or stream
// format) whose schema matches T's. Each file is read whole by one task.
func ArrowFile[T any](p *Plan, paths ...string) Dataset[T] {
	return batchSource[T](p, "ArrowFile", paths, readIPC)
}

// Parquet is a dataset of T read from Parquet files whose columns match T's
// schema. Each file is read whole by one task.
func Parquet[T any](p *Plan, paths ...string) Dataset[T] {
	return batchSource[T](p, "Parquet", paths, readParquet)
}

// batchReader calls fn with every record batch of a file.
type batchReader func(tc *taskCtx, path string, fn func(arrow.RecordBatch) error) error

func batchSource[T any](p *Plan, op string, paths []string, read batchReader) Dataset[T] {
	paths = slices.Clone(paths)
	c, err := codec.For[T]()
	if err != nil {
		p.fail(fmt.Errorf("%s: %w", op, err))
	}
	return newDataset[T](p, &node{kind: kindSource, op: op, detail: strings.Join(paths, ","),
		src: &sourceOp{
			splits: func(_ context.Context, parts int) ([]Split, error) { return fileSplits(paths, parts, false, false) },
			read: func(tc *taskCtx, s Split, down any) error {
				emit := down.(func(T))
				var v T
				for _, fr := range s.Files {
					err := read(tc, fr.Path, func(rec arrow.RecordBatch) error {
						r, err := c.NewReader(rec)
						if err != nil {
							return &InputError{Path: fr.Path, Err: err}
						}
						for i := 0; i < r.Len() && !tc.stopped(); i++ {
							r.Read(i, &v)
							tc.report.RecordsIn++
							emit(v)
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
				return nil
			},
		}})
}

func readIPC(tc *taskCtx, path string, fn func(arrow.RecordBatch) error) error {
	f, err := openReaderAt(tc.ctx, path)
	if err != nil {
		return &InputError{Path: path, Err: unwrapPathError(err)}
	}
	defer f.Close()
	if fr, err := ipc.NewFileReader(f, ipc.WithAllocator(tc.env.Mem)); err == nil {
		defer fr.Close()
		for i := 0; i < fr.NumRecords() && !tc.stopped(); i++ {
			rec, err := fr.RecordBatch(i)
			if err != nil {
				return &InputError{Path: path, Err: err}
			}
			err = fn(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &InputError{Path: path, Err: err}
	}
	sr, err := ipc.NewReader(f, ipc.WithAllocator(tc.env.Mem))
	if err != nil {
		return &InputError{Path: path, Err: fmt.Errorf("not an Arrow IPC file or stream: %w", err)}
	}
	defer sr.Release()
	for sr.Next() && !tc.stopped() {
		if err := fn(sr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := sr.Err(); err != nil {
		return &InputError{Path: path, Err: err}
	}
	return nil
}

func readParquet(tc *taskCtx, path string, fn func(arrow.RecordBatch) error) error {
	var pf *file.Reader
	var err error
	if storage.Scheme(path) == "" {
		pf, err = file.OpenParquetFile(path, false)
	} else {
		var r inputReaderAt
		if r, err = openReaderAt(tc.ctx, path); err == nil {
			pf, err = file.NewParquetReader(r)
		}
	}
	if err != nil {
		return &InputError{Path: path, Err: unwrapPathError(err)}
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, tc.env.Mem)
	if err != nil {
		return &InputError{Path: path, Err: err}
	}
	rr, err := fr.GetRecordReader(tc.ctx, nil, nil)
	if err != nil {
		return &InputError{Path: path, Err: err}
	}
	defer rr.Release()
	for rr.Next() && !tc.stopped() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return &InputError{Path: path, Err: err}
	}
	return nil
}
