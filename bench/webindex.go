package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/superstep/superstep/bench/baseline"
	"github.com/superstep/superstep/bench/webload"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/webindex"
	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
	"github.com/superstep/superstep/examples/webindex/search"
)

// The fixed query every index of the bundled corpus must answer with its
// expected page first.
const (
	fixedQuery = "vacuum"
	fixedTop   = "https://sqlite.org/lang_vacuum.html"
)

// webindexWL builds a search index of HTML pages: the baseline is
// baseline.WebIndex, the job examples/webindex. Every output must open as
// an index with the baseline's documents, tokens, distinct terms and
// links, and the same documents (URL, title) and postings (fingerprint);
// on the bundled corpus the document count must also equal the
// archive's HTML member count and the fixed query must rank its page first.
type webindexWL struct {
	inputs  []string // absolute paths
	baseURL string
	bundled bool

	paths, rels []string
	size        webload.Size
	want        baseline.WebIndexStats
	wantPrint   fingerprint // of the baseline's index
	// indexBytes is the size of the latest validated output.
	indexBytes int64
}

// newWebindexWL reads the bundled corpus when input is empty, else the
// comma-separated inputs (anything the job accepts) with baseURL (the
// job's default when empty).
func newWebindexWL(input, baseURL string) *webindexWL {
	w := &webindexWL{baseURL: baseURL}
	for _, in := range splitList(input) {
		if abs, err := filepath.Abs(in); err == nil {
			in = abs
		}
		w.inputs = append(w.inputs, in)
	}
	return w
}

func (w *webindexWL) Name() string { return "webindex" }

// Prepare sizes the input and runs the baseline once for the figures
// every output must have. The size is ignored: the input is the corpus.
func (w *webindexWL) Prepare(_ context.Context, dir string, _ int64) error {
	if len(w.inputs) == 0 {
		p, err := webload.FindBundledCorpus()
		if err != nil {
			return err
		}
		w.inputs, w.bundled = []string{p}, true
		if w.baseURL == "" {
			w.baseURL = webload.BundledBaseURL
		}
	}
	if w.baseURL == "" {
		w.baseURL = "https://example.org/"
	}
	var err error
	if w.paths, w.rels, err = webload.Files(w.inputs); err != nil {
		return err
	}
	if w.size, err = webload.MeasureInput(w.inputs, w.baseURL); err != nil {
		return err
	}
	ref := filepath.Join(dir, "reference-index")
	os.RemoveAll(ref)
	if w.want, err = baseline.WebIndex(w.paths, w.rels, w.baseURL, ref); err != nil {
		return err
	}
	if w.wantPrint, err = fingerprintDir(ref); err != nil {
		return fmt.Errorf("webindex: the baseline's index: %w", err)
	}
	if w.want.Docs == 0 {
		return fmt.Errorf("webindex: no HTML page in %v", w.inputs)
	}
	if w.bundled && w.want.Docs != int64(w.size.Pages) {
		return fmt.Errorf("webindex: the baseline indexed %d documents of the bundled corpus's %d HTML pages", w.want.Docs, w.size.Pages)
	}
	return nil
}

// Input is the HTML page count and the input's stored (compressed) size.
func (w *webindexWL) Input() (int64, int64) { return int64(w.size.Pages), w.size.Compressed }

func (w *webindexWL) Baseline(_ context.Context, out string) error {
	_, err := baseline.WebIndex(w.paths, w.rels, w.baseURL, out)
	return err
}

func (w *webindexWL) JobArgs(out string) (string, []string) {
	return webindex.Job.Name, []string{"--input", strings.Join(w.inputs, ","), "--out", out, "--base-url", w.baseURL}
}

// Validate opens the index in out and checks its figures against the
// baseline's and, on the bundled corpus, the fixed query's top hit.
func (w *webindexWL) Validate(_ context.Context, out string) error {
	ix, err := index.Open(out)
	if err != nil {
		return fmt.Errorf("webindex: %w", err)
	}
	defer ix.Close()
	m := ix.Manifest
	got := baseline.WebIndexStats{Docs: int64(ix.Docs.Len()), Tokens: m.Tokens, Terms: m.Terms, Links: m.Links}
	want := w.want
	want.Iterations = 0
	if got != want {
		return fmt.Errorf("webindex: the index has %+v, the baseline %+v", got, want)
	}
	fp, err := indexFingerprint(ix)
	if err != nil {
		return fmt.Errorf("webindex: %w", err)
	}
	if fp != w.wantPrint {
		return fmt.Errorf("webindex: the postings differ from the baseline's (%+v, want %+v)", fp, w.wantPrint)
	}
	if w.bundled {
		if got.Docs != int64(w.size.Pages) {
			return fmt.Errorf("webindex: %d documents, the corpus has %d HTML pages", got.Docs, w.size.Pages)
		}
		res, err := search.NewSearcher(ix).Search(fixedQuery, 1, 0)
		if err != nil {
			return fmt.Errorf("webindex: query %q: %w", fixedQuery, err)
		}
		if len(res.Hits) == 0 || res.Hits[0].URL != fixedTop {
			return fmt.Errorf("webindex: query %q: top hit %v, want %s", fixedQuery, res.Hits, fixedTop)
		}
	}
	if w.indexBytes, err = webload.DirBytes(out); err != nil {
		return err
	}
	return nil
}

// fingerprint sums up an index's content independently of how its terms
// are partitioned: the number of terms and postings, the total term
// frequency, and the sum over terms of an FNV-1a hash of the term and its
// postings (documents, positions), plus a hash of each document's URL and
// title in document order.
type fingerprint struct {
	Terms, Postings, Tokens int64
	Hash, Docs              uint64
}

func fingerprintDir(dir string) (fingerprint, error) {
	ix, err := index.Open(dir)
	if err != nil {
		return fingerprint{}, err
	}
	defer ix.Close()
	return indexFingerprint(ix)
}

func indexFingerprint(ix *index.Index) (fingerprint, error) {
	var fp fingerprint
	var pos []uint32
	var buf []byte
	for _, t := range ix.Terms {
		var ierr error
		err := t.Each(func(e index.Entry) bool {
			it, err := postings.NewIterator(e.Postings)
			if err != nil {
				ierr = fmt.Errorf("term %q: %w", e.Term, err)
				return false
			}
			h := fnv.New64a()
			h.Write([]byte(e.Term))
			for it.Next() {
				pos = it.Positions(pos[:0])
				buf = binary.AppendUvarint(buf[:0], uint64(it.Doc()))
				buf = binary.AppendUvarint(buf, uint64(len(pos)))
				for _, p := range pos {
					buf = binary.AppendUvarint(buf, uint64(p))
				}
				h.Write(buf)
				fp.Postings++
				fp.Tokens += int64(len(pos))
			}
			if err := it.Err(); err != nil {
				ierr = fmt.Errorf("term %q: %w", e.Term, err)
				return false
			}
			fp.Terms++
			fp.Hash += h.Sum64() // a sum: the order of terms across partitions does not matter
			return true
		})
		if err := errors.Join(err, ierr); err != nil {
			return fingerprint{}, err
		}
	}
	h := fnv.New64a()
	for i := range ix.Docs.Len() {
		d, err := ix.Docs.Doc(i)
		if err != nil {
			return fingerprint{}, err
		}
		h.Write([]byte(d.URL + "\x00" + d.Title + "\x00"))
	}
	fp.Docs = h.Sum64()
	return fp, nil
}

// searchLatency builds the index once in-process (2 slots) under dir and
// times the query set (webload.Queries over the documents' titles) on it
// with search.Searcher, top 10 with snippets, after a warm-up pass. A
// positive limit keeps only the first limit queries.
func (w *webindexWL) searchLatency(ctx context.Context, dir string, limit int) (webload.Latency, error) {
	cfg := local.DefaultConfig()
	cfg.Slots, cfg.WorkDir = 2, filepath.Join(dir, "search-work")
	ex, err := local.New(cfg)
	if err != nil {
		return webload.Latency{}, err
	}
	out := filepath.Join(dir, "search-index")
	os.RemoveAll(out)
	job, args := w.JobArgs(out)
	if _, err := executeJob(ctx, ex, job, args, 4); err != nil {
		return webload.Latency{}, err
	}
	defer os.RemoveAll(out)
	ix, err := index.Open(out)
	if err != nil {
		return webload.Latency{}, err
	}
	defer ix.Close()
	s := search.NewSearcher(ix)
	qs, err := indexQueries(ix)
	if err != nil {
		return webload.Latency{}, err
	}
	if limit > 0 && limit < len(qs) {
		qs = qs[:limit]
	}
	return webload.Measure(qs, func(q string) error {
		_, err := s.Search(q, 10, 0)
		if errors.Is(err, search.ErrEmptyQuery) {
			return nil
		}
		return err
	})
}

// indexQueries is the query set of an index: webload.Queries over its
// documents' titles, in document order.
func indexQueries(ix *index.Index) ([]string, error) {
	titles := make([]string, ix.Docs.Len())
	for i := range titles {
		d, err := ix.Docs.Doc(i)
		if err != nil {
			return nil, err
		}
		titles[i] = d.Title
	}
	qs := webload.Queries(titles, webload.Analyzer(search.AnalyzerFor(ix.Manifest)), webload.TermQueries, webload.PhraseQueries, webload.Seed)
	if len(qs) == 0 {
		return nil, errors.New("webindex: no title has a searchable word")
	}
	return qs, nil
}
