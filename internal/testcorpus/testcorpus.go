// Package testcorpus gives tests real text that travels with the
// repository: the pages of the bundled SQLite documentation archive
// (examples/webindex/testdata/sqlite-doc.tar.gz), unpacked into a test's
// temporary directory. Tests use it instead of text that only some machines
// have (licenses or docs under /usr/share).
package testcorpus

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
)

// Archive is the path of the bundled archive.
func Archive() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("testcorpus: cannot locate the source tree")
	}
	p := filepath.Join(filepath.Dir(file), "..", "..", "examples", "webindex", "testdata", "sqlite-doc.tar.gz")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("testcorpus: %w", err)
	}
	return p, nil
}

// Files unpacks the archive's regular files, in name order, until they hold
// at least limit bytes (all of them when limit <= 0), into a new temporary
// directory of tb, and returns their paths.
func Files(tb testing.TB, limit int64) []string {
	tb.Helper()
	files, err := unpack(tb.TempDir(), limit)
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// Dir is Files returning the directory that holds the files (some in
// subdirectories, as in the archive).
func Dir(tb testing.TB, limit int64) string {
	tb.Helper()
	dir := tb.TempDir()
	if _, err := unpack(dir, limit); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func unpack(dir string, limit int64) ([]string, error) {
	arc, err := Archive()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(arc)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("testcorpus: %s: %w", arc, err)
	}
	type entry struct {
		name string
		body []byte
	}
	var entries []entry
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("testcorpus: %s: %w", arc, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("testcorpus: %s: %s: %w", arc, h.Name, err)
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			return nil, fmt.Errorf("testcorpus: %s: entry %q leaves the directory", arc, h.Name)
		}
		entries = append(entries, entry{name, body})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var (
		files []string
		total int64
	)
	for _, e := range entries {
		if limit > 0 && total >= limit {
			break
		}
		p := filepath.Join(dir, e.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, e.body, 0o644); err != nil {
			return nil, err
		}
		files = append(files, p)
		total += int64(len(e.body))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("testcorpus: %s holds no files", arc)
	}
	return files, nil
}
