package security

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/superstep/superstep/storage"
)

// ErrOutsideRoot matches the errors of Inside and Allowed: a path that
// leaves the directory it must stay in.
var ErrOutsideRoot = errors.New("path outside its allowed root")

// resolve returns the absolute, cleaned path p with every symlink of its
// longest existing prefix resolved; the part that does not exist yet is
// appended as is (it cannot be a symlink).
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether p lies under root, or is root itself when
// orEqual; both must be resolved.
func within(root, p string, orEqual bool) bool {
	if p == root {
		return orEqual
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Inside checks that path lies strictly inside root (never root itself)
// after filepath.Clean and symlink resolution. Every path a worker deletes
// passes it first.
func Inside(root, path string) error {
	r, err := resolve(root)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutsideRoot, root, err)
	}
	p, err := resolve(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutsideRoot, path, err)
	}
	if !within(r, p, false) {
		return fmt.Errorf("%w: %s is not inside %s", ErrOutsideRoot, path, root)
	}
	return nil
}

// RemoveAllInside removes path and everything under it, after checking
// that it lies strictly inside root.
func RemoveAllInside(root, path string) error {
	if err := Inside(root, path); err != nil {
		return err
	}
	return os.RemoveAll(path)
}

// RemoveInside removes one file or empty directory after checking that it
// lies strictly inside root.
func RemoveInside(root, path string) error {
	if err := Inside(root, path); err != nil {
		return err
	}
	return os.Remove(path)
}

// Roots is a list of directories a process may read and write under
// (--allow-path). The empty list allows everything.
type Roots []string

// Allowed checks that path is one of the roots or lies under one, after
// cleaning and symlink resolution. A URL (s3://bucket/key) is allowed only
// under a root that is a URL (s3://bucket/prefix). The error names the
// path.
func (rs Roots) Allowed(path string) error {
	if len(rs) == 0 {
		return nil
	}
	if storage.Scheme(path) != "" {
		for _, root := range rs {
			if storage.Scheme(root) != "" && storage.Within(root, path) {
				return nil
			}
		}
		return fmt.Errorf("%w: %s is outside the allowed paths (%s)", ErrOutsideRoot, path, strings.Join(rs, ", "))
	}
	p, err := resolve(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutsideRoot, path, err)
	}
	for _, root := range rs {
		r, err := resolve(root)
		if err == nil && within(r, p, true) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is outside the allowed paths (%s)", ErrOutsideRoot, path, strings.Join(rs, ", "))
}
