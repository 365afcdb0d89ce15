package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrInjected is the error an Injector returns when a rule gives none.
var ErrInjected = errors.New("storage: injected error")

// Op names an FS operation for an Injector rule.
type Op int

// The operations an Injector can fail.
const (
	OpCreate Op = iota
	OpWrite     // Writer.Write
	OpClose     // Writer.Close (the data is then discarded, as by Abort)
	OpOpen      // OpenRange
	OpStat
	OpList
	OpRename // Rename and RenameDir
	OpRemove // Remove and RemoveAll
	OpMkdirAll
	OpCopy
)

var opNames = [...]string{"create", "write", "close", "open", "stat", "list", "rename", "remove", "mkdir", "copy"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Rule fails operation Op on the names Match accepts (nil: every name) with
// Err (nil: ErrInjected), the first Times matching calls (0: every call).
type Rule struct {
	Op    Op
	Match func(name string) bool
	Err   error
	Times int
}

// Injector is an FS that forwards to another and fails the operations its
// rules match, for tests of what callers do on I/O errors. It reports how
// many errors it injected, so a test can prove the fault happened.
type Injector struct {
	base FS

	mu sync.Mutex
	// guarded by mu:
	rules    []*Rule
	injected int
}

// NewInjector wraps base with rules.
func NewInjector(base FS, rules ...Rule) *Injector {
	in := &Injector{base: base}
	for _, r := range rules {
		in.Add(r)
	}
	return in
}

// Add adds a rule.
func (in *Injector) Add(r Rule) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = append(in.rules, &r)
}

// Injected is how many errors the injector returned.
func (in *Injector) Injected() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.injected
}

// Unwrap returns the wrapped FS.
func (in *Injector) Unwrap() FS { return in.base }

func (in *Injector) fail(op Op, name string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.rules {
		if r.Op != op || r.Times < 0 || (r.Match != nil && !r.Match(name)) {
			continue
		}
		if r.Times > 0 {
			if r.Times--; r.Times == 0 {
				r.Times = -1 // spent
			}
		}
		in.injected++
		err := r.Err
		if err == nil {
			err = ErrInjected
		}
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	return nil
}

// Create implements FS.
func (in *Injector) Create(ctx context.Context, name string) (Writer, error) {
	if err := in.fail(OpCreate, name); err != nil {
		return nil, err
	}
	w, err := in.base.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &injectWriter{in: in, w: w, name: name}, nil
}

type injectWriter struct {
	in   *Injector
	w    Writer
	name string
}

func (w *injectWriter) Write(b []byte) (int, error) {
	if err := w.in.fail(OpWrite, w.name); err != nil {
		return 0, err
	}
	return w.w.Write(b)
}

func (w *injectWriter) Close() error {
	if err := w.in.fail(OpClose, w.name); err != nil {
		_ = w.w.Abort()
		return err
	}
	return w.w.Close()
}

func (w *injectWriter) Abort() error { return w.w.Abort() }

// OpenRange implements FS.
func (in *Injector) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if err := in.fail(OpOpen, name); err != nil {
		return nil, err
	}
	return in.base.OpenRange(ctx, name, off, n)
}

// Stat implements FS.
func (in *Injector) Stat(ctx context.Context, name string) (FileInfo, error) {
	if err := in.fail(OpStat, name); err != nil {
		return FileInfo{}, err
	}
	return in.base.Stat(ctx, name)
}

// List implements FS.
func (in *Injector) List(ctx context.Context, dir string) ([]FileInfo, error) {
	if err := in.fail(OpList, dir); err != nil {
		return nil, err
	}
	return in.base.List(ctx, dir)
}

// Rename implements FS.
func (in *Injector) Rename(ctx context.Context, oldname, newname string) error {
	if err := in.fail(OpRename, oldname); err != nil {
		return err
	}
	return in.base.Rename(ctx, oldname, newname)
}

// Copy implements FS.
func (in *Injector) Copy(ctx context.Context, src, dst string) error {
	if err := in.fail(OpCopy, src); err != nil {
		return err
	}
	return in.base.Copy(ctx, src, dst)
}

// RenameDir implements DirRenamer when the wrapped FS does (see
// dirRenamer); otherwise it is never called.
func (in *Injector) RenameDir(ctx context.Context, oldname, newname string) error {
	if err := in.fail(OpRename, oldname); err != nil {
		return err
	}
	dr, ok := in.base.(DirRenamer)
	if !ok {
		return fmt.Errorf("%w: %T renames no directories", errors.ErrUnsupported, in.base)
	}
	return dr.RenameDir(ctx, oldname, newname)
}

// Remove implements FS.
func (in *Injector) Remove(ctx context.Context, name string) error {
	if err := in.fail(OpRemove, name); err != nil {
		return err
	}
	return in.base.Remove(ctx, name)
}

// RemoveAll implements FS.
func (in *Injector) RemoveAll(ctx context.Context, dir string) error {
	if err := in.fail(OpRemove, dir); err != nil {
		return err
	}
	return in.base.RemoveAll(ctx, dir)
}

// MkdirAll implements FS.
func (in *Injector) MkdirAll(ctx context.Context, dir string) error {
	if err := in.fail(OpMkdirAll, dir); err != nil {
		return err
	}
	return in.base.MkdirAll(ctx, dir)
}

// dirRenamer is fsys's DirRenamer, looking through wrappers (Unwrap) so
// that a wrapper claims the capability only when what it wraps has it.
func dirRenamer(fsys FS) (DirRenamer, bool) {
	dr, ok := fsys.(DirRenamer)
	if !ok {
		return nil, false
	}
	for u, ok := fsys.(interface{ Unwrap() FS }); ok; u, ok = u.Unwrap().(interface{ Unwrap() FS }) {
		if _, ok := u.Unwrap().(DirRenamer); !ok {
			return nil, false
		}
	}
	return dr, true
}
