// Command bench (package main, run as `go run ./bench`) holds Superstep's benchmarks: each workload runs the
// single-threaded baseline from bench/baseline and Superstep on the same
// input in one process, checks that the outputs are equal, and reports the
// times side by side.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"unicode/utf8"
)

// TextCorpus writes a file of at least size bytes of real text, assembled
// from the text files under /usr/share (licenses, documentation) repeated
// in a fixed order, and returns its path. The same machine gives the same
// file.
func TextCorpus(dir string, size int64) (string, error) {
	var sources []string
	for _, pat := range []string{"/usr/share/common-licenses/*", "/usr/share/doc/*/copyright", "/usr/share/doc/*/*.txt", "/usr/share/doc/*/README*"} {
		m, _ := filepath.Glob(pat)
		for _, f := range m {
			if info, err := os.Stat(f); err == nil && info.Mode().IsRegular() && info.Size() > 0 {
				sources = append(sources, f)
			}
		}
	}
	sort.Strings(sources)
	if len(sources) == 0 {
		return "", fmt.Errorf("bench: no text files under /usr/share")
	}
	path := filepath.Join(dir, fmt.Sprintf("text-utf8-%d.txt", size))
	if info, err := os.Stat(path); err == nil && info.Size() >= size {
		return path, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var written int64
	for written < size {
		for _, src := range sources {
			b, err := os.ReadFile(src)
			if err != nil || !utf8.Valid(b) {
				continue // Superstep's string columns are UTF-8: skip Latin-1 files
			}
			n, _ := w.Write(b)
			w.WriteByte('\n')
			written += int64(n) + 1
			if written >= size {
				break
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
