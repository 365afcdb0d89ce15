package baseline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/superstep/superstep/examples/webindex/corpus"
	"github.com/superstep/superstep/examples/webindex/extract"
	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
	"github.com/superstep/superstep/examples/webindex/tokenize"
)

// WebIndexStats is what WebIndex indexed.
type WebIndexStats struct {
	Docs, Tokens, Terms, Links int64
	Iterations                 int // of PageRank
}

// WebIndex is the single-threaded program the webindex job is measured
// against. On one goroutine it:
//
//  1. reads every page of the input files (paths and their names relative
//     to the input, as webload.Files lists them) with the corpus reader
//     and extracts it with examples/webindex/extract, keeping the first
//     page of each URL and dropping pages marked noindex;
//  2. numbers the documents in URL order;
//  3. ranks them with PageRank by plain power iteration over the links
//     between pages of the corpus (damping 0.85, networkx's stopping rule
//     with tol 1e-10, 100 iterations at most, as the job's defaults);
//  4. tokenizes title and text with examples/webindex/tokenize (stemming,
//     stopwords) into one in-memory map from term to posting list;
//  5. writes the index in the job's format with one terms partition:
//     docs.idx, terms-00000.idx and manifest.json under out.
func WebIndex(paths, rels []string, baseURL, out string) (WebIndexStats, error) {
	type page struct {
		url, title, text string
		links            []string
	}
	var pages []page
	seen := map[string]bool{}
	for i, p := range paths {
		err := corpus.ReadFile(p, rels[i], baseURL, func(pg corpus.Page) error {
			x, err := extract.HTML(pg.URL, pg.Body, pg.ContentType)
			if err != nil || x.NoIndex || seen[x.URL] {
				return nil
			}
			seen[x.URL] = true
			pages = append(pages, page{x.URL, x.Title, x.Text, x.Links})
			return nil
		}, func(corpus.Problem) {})
		if err != nil {
			return WebIndexStats{}, err
		}
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].url < pages[j].url })
	id := make(map[string]int, len(pages))
	for i, p := range pages {
		id[p.url] = i
	}
	var st WebIndexStats
	st.Docs = int64(len(pages))

	// The link graph: out-neighbours per document, distinct, no self-links.
	out1 := make([][]int, len(pages))
	for i, p := range pages {
		for _, l := range p.links {
			if j, ok := id[l]; ok && j != i && !slices.Contains(out1[i], j) {
				out1[i] = append(out1[i], j)
			}
		}
		st.Links += int64(len(out1[i]))
	}
	var ranks []float64
	ranks, st.Iterations = powerIteration(out1, 0.85, 1e-10, 100)

	tok := tokenize.New(tokenize.Options{Stem: true, Stopwords: true})
	inv := map[string][]postings.Posting{}
	docs := make([]index.Doc, len(pages))
	for i, p := range pages {
		pos := map[string][]uint32{}
		var order []string
		n := uint32(0)
		tok.Tokens(p.title+"\n"+p.text, func(term string, at int) {
			if _, ok := pos[term]; !ok {
				order = append(order, term)
			}
			pos[term] = append(pos[term], uint32(at))
			n++
		})
		for _, t := range order {
			inv[t] = append(inv[t], postings.Posting{Doc: uint32(i), Positions: pos[t]})
		}
		docs[i] = index.Doc{URL: p.url, Title: p.title, Length: n, PageRank: ranks[i], Text: p.text}
		st.Tokens += int64(n)
	}
	st.Terms = int64(len(inv))
	return st, writeWebIndex(out, docs, inv, st)
}

// powerIteration is PageRank with networkx's semantics: dangling pages
// share their rank with every page, and it stops when the L1 change is
// below n*tol.
func powerIteration(out [][]int, damping, tol float64, maxIter int) ([]float64, int) {
	n := len(out)
	if n == 0 {
		return nil, 0
	}
	x := make([]float64, n)
	next := make([]float64, n)
	for i := range x {
		x[i] = 1 / float64(n)
	}
	for it := 1; it <= maxIter; it++ {
		dangling := 0.0
		for i, o := range out {
			if len(o) == 0 {
				dangling += x[i]
			}
		}
		base := (damping*dangling + 1 - damping) / float64(n)
		for i := range next {
			next[i] = base
		}
		for i, o := range out {
			share := damping * x[i] / float64(len(o))
			for _, j := range o {
				next[j] += share
			}
		}
		diff := 0.0
		for i := range x {
			diff += math.Abs(next[i] - x[i])
		}
		x, next = next, x
		if diff < float64(n)*tol {
			return x, it
		}
	}
	return x, maxIter
}

func writeWebIndex(out string, docs []index.Doc, inv map[string][]postings.Posting, st WebIndexStats) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := index.WriteDocs(filepath.Join(out, index.DocsName), docs); err != nil {
		return err
	}
	terms := make([]string, 0, len(inv))
	for t := range inv {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	tw, err := index.NewTermsWriter(filepath.Join(out, index.TermsName(0)))
	if err != nil {
		return err
	}
	for _, t := range terms {
		if err := tw.Add(t, inv[t]); err != nil {
			tw.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	m := index.Manifest{FormatVersion: index.FormatVersion, Partitions: 1, Docs: st.Docs, Tokens: st.Tokens,
		Terms: st.Terms, Links: st.Links,
		Build: index.BuildParams{BaseURL: "", Stem: true, Stopwords: true, Damping: 0.85, Tol: 1e-10, MaxIter: 100}}
	if st.Docs > 0 {
		m.AvgLen = float64(st.Tokens) / float64(st.Docs)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, index.ManifestName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return nil
}
