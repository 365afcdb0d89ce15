package storage

import (
	"context"
	"io"
)

// FS is a filesystem of named files. Names are absolute: a local path or a
// URL the implementation serves (s3://bucket/key). Directories are implied
// by the names below them; implementations without real directories (object
// stores) treat MkdirAll as a no-op and a name with objects below it as a
// directory.
//
// Every method may be called from any goroutine. Errors about a missing
// file match fs.ErrNotExist (errors.Is).
type FS interface {
	// Create opens name for writing, replacing any file there. Nothing is
	// visible at name until Close returns nil; after Abort (or a failed
	// Close) nothing of the write is left.
	Create(ctx context.Context, name string) (Writer, error)
	// OpenRange returns the n bytes of name that start at off (n < 0: up to
	// the end). The caller closes the reader.
	OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
	// Stat describes name: a file, or a directory (IsDir).
	Stat(ctx context.Context, name string) (FileInfo, error)
	// List returns every regular file below dir, recursively, sorted by
	// name, with full names. A missing dir is an empty list.
	List(ctx context.Context, dir string) ([]FileInfo, error)
	// Rename moves the file oldname to newname, replacing newname.
	Rename(ctx context.Context, oldname, newname string) error
	// Copy copies the file src to dst, replacing dst; dst appears whole or
	// not at all.
	Copy(ctx context.Context, src, dst string) error
	// Remove deletes the file name; a missing file is not an error.
	Remove(ctx context.Context, name string) error
	// RemoveAll deletes dir and everything below it; a missing dir is not
	// an error.
	RemoveAll(ctx context.Context, dir string) error
	// MkdirAll makes dir and its parents.
	MkdirAll(ctx context.Context, dir string) error
}

// DirRenamer is implemented by filesystems that rename whole directories
// atomically (POSIX). The commit contract then publishes an output by one
// rename; without it, it copies the parts into place and writes _SUCCESS
// last.
type DirRenamer interface {
	// RenameDir moves directory oldname to newname, which must not exist.
	RenameDir(ctx context.Context, oldname, newname string) error
}

// Writer is a file being written (see FS.Create). Close makes the data
// durable and visible; Abort discards it. Calling either after the other
// returns nil.
type Writer interface {
	io.Writer
	Close() error
	Abort() error
}

// FileInfo describes one file or directory.
type FileInfo struct {
	Name  string // full name, as given to the FS
	Size  int64
	IsDir bool
}

// streamCopy copies src to dst through fsys's own reader and writer: the
// write is aborted if the copy fails, so dst appears whole or not at all (the
// Copy contract) for any FS whose Writer keeps the Create contract.
func streamCopy(ctx context.Context, fsys FS, src, dst string) error {
	r, err := fsys.OpenRange(ctx, src, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := fsys.Create(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}
