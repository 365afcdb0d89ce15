package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FormatVersion is the version of the index directory layout and its files.
const FormatVersion = 2

// Directory layout (written by the webindex job in one atomic commit):
//
//	manifest.json          Manifest
//	docs.idx               the document table (document n is row n)
//	terms-NNNNN.idx        the terms of index partition N, each term in exactly
//	                       one partition (the job's shuffle by term decides)
//	_SUCCESS               written by the commit

// ManifestName, DocsName and TermsName name the files of an index.
const (
	ManifestName = "manifest.json"
	DocsName     = "docs.idx"
)

// TermsName is the file of index partition part.
func TermsName(part int) string { return fmt.Sprintf("terms-%05d.idx", part) }

// Manifest describes an index: its format, the corpus and how it was built.
type Manifest struct {
	FormatVersion int `json:"format_version"`
	Partitions    int `json:"partitions"`
	// Corpus statistics.
	Docs   int64   `json:"docs"`   // documents indexed
	Tokens int64   `json:"tokens"` // total document length in tokens
	AvgLen float64 `json:"avg_len"`
	Terms  int64   `json:"terms"` // distinct terms
	Links  int64   `json:"links"` // edges of the link graph
	// Input that was skipped, by reason, and the first problems
	// (file:offset: reason).
	Skipped  map[string]int64 `json:"skipped,omitempty"`
	Problems []string         `json:"problems,omitempty"`
	Build    BuildParams      `json:"build"`
}

// BuildParams are the parameters the index was built with.
type BuildParams struct {
	Inputs    []string `json:"inputs"`
	BaseURL   string   `json:"base_url"`
	Stem      bool     `json:"stem"`
	Stopwords bool     `json:"stopwords"`
	Damping   float64  `json:"damping"`
	Tol       float64  `json:"tol"`
	MaxIter   int      `json:"max_iter"`
}

// Index is an open index directory.
type Index struct {
	Dir      string
	Manifest Manifest
	Docs     *Docs
	Terms    []*Terms
}

// ErrNotIndex means the directory holds no complete index.
var ErrNotIndex = errors.New("index: not an index directory")

// Open opens the index in dir. Files are memory-mapped, so it takes
// milliseconds whatever the index size.
func Open(dir string) (*Index, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s", ErrNotIndex, dir, ManifestName)
		}
		return nil, err
	}
	ix := &Index{Dir: dir}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&ix.Manifest); err != nil {
		return nil, corrupt(filepath.Join(dir, ManifestName), "%v", err)
	}
	m := &ix.Manifest
	if m.FormatVersion != FormatVersion {
		return nil, corrupt(filepath.Join(dir, ManifestName), "format version %d, this binary reads %d", m.FormatVersion, FormatVersion)
	}
	if m.Partitions < 1 || m.Partitions > 1<<16 {
		return nil, corrupt(filepath.Join(dir, ManifestName), "%d partitions", m.Partitions)
	}
	if ix.Docs, err = OpenDocs(filepath.Join(dir, DocsName)); err != nil {
		return nil, err
	}
	if int64(ix.Docs.Len()) != m.Docs {
		ix.Close()
		return nil, corrupt(filepath.Join(dir, DocsName), "%d documents, the manifest says %d", ix.Docs.Len(), m.Docs)
	}
	for p := range m.Partitions {
		t, err := OpenTerms(filepath.Join(dir, TermsName(p)))
		if err != nil {
			ix.Close()
			return nil, err
		}
		ix.Terms = append(ix.Terms, t)
	}
	return ix, nil
}

// Close unmaps the index's files.
func (ix *Index) Close() error {
	var errs []error
	if ix.Docs != nil {
		errs = append(errs, ix.Docs.Close())
	}
	for _, t := range ix.Terms {
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}
