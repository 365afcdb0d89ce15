package webload

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/superstep/superstep/examples/webindex/corpus"
)

// BundledCorpus is the SQLite documentation shipped with the webindex
// example, relative to the repository root, and the base URL of its pages.
const (
	BundledCorpus  = "examples/webindex/testdata/sqlite-doc.tar.gz"
	BundledBaseURL = "https://sqlite.org/"
)

// FindBundledCorpus looks for BundledCorpus in the working directory and
// the directories above it and returns its absolute path.
func FindBundledCorpus() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(BundledCorpus))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("webload: " + BundledCorpus + " not found in the working directory or above it")
		}
		dir = up
	}
}

// Size is what an input holds.
type Size struct {
	Files      int   // input files (directories expanded)
	Compressed int64 // bytes of the input files as stored
	HTML       int64 // bytes of HTML: tar members named *.html/*.htm/*.xhtml, page bodies of other inputs
	Pages      int   // HTML pages (tar members of those names; pages the corpus reader delivers for other inputs)
}

// Files lists the files of the inputs: a file as is, a directory's
// regular files in name order. rel is each file's path relative to the
// input it was found under (its base name for a file input), as the
// webindex job names them.
func Files(inputs []string) (paths, rels []string, err error) {
	for _, in := range inputs {
		root := filepath.Clean(in)
		info, err := os.Stat(root)
		if err != nil {
			return nil, nil, err
		}
		if !info.IsDir() {
			paths, rels = append(paths, root), append(rels, filepath.Base(root))
			continue
		}
		var ps []string
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				ps = append(ps, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		sort.Strings(ps)
		for _, p := range ps {
			rel, _ := filepath.Rel(root, p)
			paths, rels = append(paths, p), append(rels, filepath.ToSlash(rel))
		}
	}
	return paths, rels, nil
}

// HTMLFiles counts the files with an HTML name (*.html, *.htm, *.xhtml) of
// the inputs, tar members included: what a build should index, page for
// page.
func HTMLFiles(inputs []string) (int, error) {
	paths, _, err := Files(inputs)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range paths {
		name := strings.ToLower(p)
		switch {
		case strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".tar"):
			var s Size
			if err := tarHTML(p, strings.HasSuffix(name, "z"), &s); err != nil {
				return 0, err
			}
			n += s.Pages
		case strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".htm") || strings.HasSuffix(name, ".xhtml"):
			n++
		}
	}
	return n, nil
}

// MeasureInput sizes the inputs. Tar archives are counted member by member
// from their headers; other files through the corpus reader.
func MeasureInput(inputs []string, baseURL string) (Size, error) {
	paths, rels, err := Files(inputs)
	if err != nil {
		return Size{}, err
	}
	var s Size
	for i, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return Size{}, err
		}
		s.Files++
		s.Compressed += info.Size()
		name := strings.ToLower(p)
		if strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".tar") {
			if err := tarHTML(p, strings.HasSuffix(name, "z"), &s); err != nil {
				return Size{}, err
			}
			continue
		}
		err = corpus.ReadFile(p, rels[i], baseURL, func(pg corpus.Page) error {
			s.Pages++
			s.HTML += int64(len(pg.Body))
			return nil
		}, func(corpus.Problem) {})
		if err != nil {
			return Size{}, err
		}
	}
	return s, nil
}

func tarHTML(path string, gz bool, s *Size) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n := strings.ToLower(h.Name)
		if h.Typeflag == tar.TypeReg && (strings.HasSuffix(n, ".html") || strings.HasSuffix(n, ".htm") || strings.HasSuffix(n, ".xhtml")) {
			s.Pages++
			s.HTML += h.Size
		}
	}
}

// DirBytes is the total size of the regular files under dir (an index's
// size on disk).
func DirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
