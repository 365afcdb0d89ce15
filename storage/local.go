package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Local is the local (or shared POSIX) filesystem. Names are paths; a URL
// is ErrBadName.
type Local struct{}

func (Local) check(name string) error {
	if Scheme(name) != "" {
		return fmt.Errorf("%w: %s is not a local path", ErrBadName, name)
	}
	if name == "" {
		return fmt.Errorf("%w: empty path", ErrBadName)
	}
	return nil
}

// Create writes to a hidden temporary file next to name and renames it into
// place on Close, after syncing it.
func (l Local) Create(_ context.Context, name string) (Writer, error) {
	if err := l.check(name); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &localWriter{f: f, bw: bufio.NewWriterSize(f, 1<<20), name: name}, nil
}

type localWriter struct {
	f    *os.File
	bw   *bufio.Writer
	name string
	done bool
}

func (w *localWriter) Write(b []byte) (int, error) { return w.bw.Write(b) }

func (w *localWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(w.f.Name(), 0o644) // CreateTemp made it 0600
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.name)
	}
	if err != nil {
		_ = os.Remove(w.f.Name())
	}
	return err
}

func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close()
	return os.Remove(w.f.Name())
}

// OpenRange implements FS.
func (l Local) OpenRange(_ context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if err := l.check(name); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if off == 0 && n < 0 {
		return f, nil
	}
	if n < 0 {
		n = 1<<63 - 1 - off
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, n), f}, nil
}

// Stat implements FS.
func (l Local) Stat(_ context.Context, name string) (FileInfo, error) {
	if err := l.check(name); err != nil {
		return FileInfo{}, err
	}
	info, err := os.Stat(name)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Name: name, Size: info.Size(), IsDir: info.IsDir()}, nil
}

// List implements FS.
func (l Local) List(_ context.Context, dir string) ([]FileInfo, error) {
	if err := l.check(dir); err != nil {
		return nil, err
	}
	var out []FileInfo
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			out = append(out, FileInfo{Name: p, Size: info.Size()})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Rename implements FS.
func (l Local) Rename(_ context.Context, oldname, newname string) error {
	if err := errors.Join(l.check(oldname), l.check(newname)); err != nil {
		return err
	}
	return os.Rename(oldname, newname)
}

// Copy implements FS.
func (l Local) Copy(ctx context.Context, src, dst string) error {
	return streamCopy(ctx, l, src, dst)
}

// RenameDir implements DirRenamer.
func (l Local) RenameDir(_ context.Context, oldname, newname string) error {
	if err := errors.Join(l.check(oldname), l.check(newname)); err != nil {
		return err
	}
	if _, err := os.Lstat(newname); err == nil {
		return fmt.Errorf("%w: %s", ErrOutputExists, newname)
	}
	return os.Rename(oldname, newname)
}

// Remove implements FS.
func (l Local) Remove(_ context.Context, name string) error {
	if err := l.check(name); err != nil {
		return err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveAll implements FS.
func (l Local) RemoveAll(_ context.Context, dir string) error {
	if err := l.check(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// MkdirAll implements FS.
func (l Local) MkdirAll(_ context.Context, dir string) error {
	if err := l.check(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}
