package bsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/superstep/superstep/storage"
)

// Inputs named by URL (s3://bucket/key) are read through their storage.FS
// with ranged reads; local paths through os.

// lineSlack is how far past its split a line reader asks for in its first
// ranged read, to finish the split's last line without a second request.
const lineSlack = 64 << 10

// openInput returns the bytes of the input file path from off on. For a
// URL, end (> off; < 0: unknown) is where the caller expects to stop
// reading: the first ranged read ends lineSlack past it, and a second one,
// open-ended, is made only if the caller reads further.
func openInput(ctx context.Context, path string, off, end int64) (io.ReadCloser, error) {
	if storage.Scheme(path) == "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if off > 0 {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				f.Close()
				return nil, err
			}
		}
		return f, nil
	}
	fsys, err := storage.For(path)
	if err != nil {
		return nil, err
	}
	r := &rangedInput{ctx: ctx, fsys: fsys, name: path, off: off, stop: -1}
	if end >= 0 {
		r.stop = end + lineSlack
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// rangedInput reads an object from off on: first up to stop, then the rest.
type rangedInput struct {
	ctx  context.Context
	fsys storage.FS
	name string
	off  int64 // the next byte to read
	stop int64 // the end of the current range; -1: open-ended
	r    io.ReadCloser
}

func (r *rangedInput) open() error {
	n := int64(-1)
	if r.stop >= 0 {
		n = r.stop - r.off
	}
	rc, err := r.fsys.OpenRange(r.ctx, r.name, r.off, n)
	if err != nil {
		return err
	}
	r.r = rc
	return nil
}

func (r *rangedInput) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.off += int64(n)
	if err == io.EOF && r.stop >= 0 && r.off >= r.stop {
		// The first range is done, the object may go on.
		_ = r.r.Close()
		r.stop = -1
		if oerr := r.open(); oerr != nil {
			r.r = io.NopCloser(errReader{oerr})
			return n, oerr
		}
		if n > 0 {
			return n, nil
		}
		return r.Read(p)
	}
	return n, err
}

func (r *rangedInput) Close() error { return r.r.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// inputReaderAt is random access to an input file, for formats that need
// it (Arrow IPC files, Parquet): an *os.File, or ranged reads of an object.
type inputReaderAt interface {
	io.ReaderAt
	io.ReadSeeker
	io.Closer
}

func openReaderAt(ctx context.Context, path string) (inputReaderAt, error) {
	if storage.Scheme(path) == "" {
		return os.Open(path)
	}
	fsys, err := storage.For(path)
	if err != nil {
		return nil, err
	}
	info, err := fsys.Stat(ctx, path)
	if err != nil {
		return nil, err
	}
	if info.IsDir {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	return &objectReaderAt{ctx: ctx, fsys: fsys, name: path, size: info.Size}, nil
}

// objectReaderAt reads an object with one ranged read per ReadAt.
type objectReaderAt struct {
	ctx  context.Context
	fsys storage.FS
	name string
	size int64
	pos  int64
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), o.size-off)
	rc, err := o.fsys.OpenRange(o.ctx, o.name, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	m, err := io.ReadFull(rc, p[:n])
	if err == nil && m < len(p) {
		err = io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%s: object shorter than %d bytes", o.name, o.size)
	}
	return m, err
}

func (o *objectReaderAt) Read(p []byte) (int, error) {
	n, err := o.ReadAt(p, o.pos)
	o.pos += int64(n)
	return n, err
}

func (o *objectReaderAt) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += o.pos
	case io.SeekEnd:
		off += o.size
	}
	if off < 0 {
		return 0, fmt.Errorf("%s: seek to %d", o.name, off)
	}
	o.pos = off
	return off, nil
}

func (o *objectReaderAt) Close() error { return nil }
