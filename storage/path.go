package storage

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// Names are local paths or URLs (scheme://authority/key). These functions
// work on both, keeping the scheme and authority of a URL intact.

// splitURL returns the "scheme://authority" prefix of a URL name and the
// rest ("/key", possibly empty); for a local path the prefix is "".
func splitURL(name string) (prefix, rest string) {
	i := strings.Index(name, "://")
	if i <= 0 || strings.ContainsAny(name[:i], "/\\") {
		return "", name
	}
	j := strings.IndexByte(name[i+3:], '/')
	if j < 0 {
		return name, ""
	}
	return name[:i+3+j], name[i+3+j:]
}

// Scheme is the URL scheme of name ("" for a local path).
func Scheme(name string) string {
	prefix, _ := splitURL(name)
	if prefix == "" {
		return ""
	}
	return prefix[:strings.Index(prefix, "://")]
}

// Join joins elements onto the name dir.
func Join(dir string, elem ...string) string {
	prefix, rest := splitURL(dir)
	if prefix == "" {
		return filepath.Join(append([]string{dir}, elem...)...)
	}
	return prefix + path.Join(append([]string{"/", rest}, elem...)...)
}

// Dir is every element of name but the last.
func Dir(name string) string {
	prefix, rest := splitURL(name)
	if prefix == "" {
		return filepath.Dir(name)
	}
	d := path.Dir(path.Join("/", rest))
	if d == "/" {
		return prefix
	}
	return prefix + d
}

// Base is the last element of name.
func Base(name string) string {
	prefix, rest := splitURL(name)
	if prefix == "" {
		return filepath.Base(name)
	}
	return path.Base(path.Join("/", rest))
}

// Clean is the shortest equivalent name.
func Clean(name string) string {
	prefix, rest := splitURL(name)
	if prefix == "" {
		return filepath.Clean(name)
	}
	if c := path.Join("/", rest); c != "/" {
		return prefix + c
	}
	return prefix
}

// Within reports whether name is dir or below it (after cleaning both), so
// that a name received from elsewhere cannot escape dir with "..".
func Within(dir, name string) bool {
	dir, name = Clean(dir), Clean(name)
	if name == dir {
		return true
	}
	sep := "/"
	if Scheme(dir) == "" {
		sep = string(filepath.Separator)
	}
	return strings.HasPrefix(name, strings.TrimSuffix(dir, sep)+sep)
}

// Rel is name relative to dir, which must contain it.
func Rel(dir, name string) (string, error) {
	if !Within(dir, name) {
		return "", fmt.Errorf("%w: %s is not below %s", ErrBadName, name, dir)
	}
	dir, name = Clean(dir), Clean(name)
	if name == dir {
		return ".", nil
	}
	return strings.TrimLeft(name[len(dir):], "/\\"), nil
}
