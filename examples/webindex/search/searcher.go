package search

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/tokenize"
)

// ErrEmptyQuery means a query has no term to search for: it is blank, or
// every word of it is a stopword or punctuation.
var ErrEmptyQuery = errors.New("empty query")

// MaxK bounds the number of hits one request may ask for.
const MaxK = 1000

// Searcher answers text queries over an open index, analyzing them as the
// index was built (Manifest.Build says whether with stemming and
// stopwords). It only reads the index and is safe for concurrent use; the
// caller owns the index and closes it after the last search.
type Searcher struct {
	corpus  Corpus
	analyze Analyzer
	// SnippetWords is the snippet length in words (DefaultSnippetWords
	// when 0). Set it before the first search.
	SnippetWords int
	words        wordIndexes // of the documents' texts, for snippets
}

// NewSearcher returns a Searcher over ix.
func NewSearcher(ix *index.Index) *Searcher {
	return &Searcher{
		corpus:  Corpus{Terms: ix.Terms, Docs: ix.Docs, AvgLen: ix.Manifest.AvgLen, Analyze: AnalyzerFor(ix.Manifest)},
		analyze: AnalyzerFor(ix.Manifest),
	}
}

// AnalyzerFor is the analyzer an index was built with.
func AnalyzerFor(m index.Manifest) Analyzer {
	return tokenize.New(tokenize.Options{Stem: m.Build.Stem, Stopwords: m.Build.Stopwords}).Tokens
}

// Results is one page of results; it is also the JSON of `superstep search
// --json` and of the server's /api/search.
type Results struct {
	Query  string   `json:"query"`
	Terms  []string `json:"terms"`  // the query's analyzed terms
	Total  int      `json:"total"`  // matching documents
	Offset int      `json:"offset"` // rank of Hits[0] minus one
	K      int      `json:"k"`      // page size asked for
	Hits   []Result `json:"hits"`
}

// Result is one hit with what it takes to display it.
type Result struct {
	Rank     int        `json:"rank"` // from 1
	Doc      int        `json:"doc"`
	URL      string     `json:"url"`
	Title    string     `json:"title"`
	Score    float64    `json:"score"`
	PageRank float64    `json:"pagerank"`
	Snippet  []Fragment `json:"snippet"`
}

// Search returns hits offset+1 to offset+k of query q, best first. It
// returns ErrEmptyQuery (wrapped) when q has no term, and an error for k
// outside 1..MaxK or a negative offset.
func (s *Searcher) Search(q string, k, offset int) (*Results, error) {
	if k < 1 || k > MaxK {
		return nil, fmt.Errorf("k = %d: want 1 to %d", k, MaxK)
	}
	if offset < 0 {
		return nil, fmt.Errorf("offset = %d: want 0 or more", offset)
	}
	parsed := Parse(q, s.analyze)
	terms := parsed.Terms()
	if len(terms) == 0 {
		if q == "" {
			return nil, ErrEmptyQuery
		}
		return nil, fmt.Errorf("%w: %q has no searchable words", ErrEmptyQuery, q)
	}
	hits, total, err := s.corpus.Search(parsed, offset+k)
	if err != nil {
		return nil, err
	}
	res := &Results{Query: q, Terms: terms, Total: total, Offset: offset, K: k, Hits: []Result{}}
	for i := offset; i < len(hits); i++ {
		h := hits[i]
		d, err := s.corpus.Docs.Head(h.Doc)
		if err != nil {
			return nil, err
		}
		text, err := s.corpus.Docs.Text(h.Doc)
		if err != nil {
			return nil, err
		}
		// The text stays in the mapped file: the snippet is a copy.
		snippet := s.snippet(h.Doc, d.Title, unsafe.String(unsafe.SliceData(text), len(text)), h.Matches, terms)
		for i := range snippet {
			snippet[i].Text = strings.Clone(snippet[i].Text)
		}
		res.Hits = append(res.Hits, Result{
			Rank: i + 1, Doc: h.Doc, URL: d.URL, Title: d.Title,
			Score: h.Score, PageRank: d.PageRank,
			Snippet: snippet,
		})
	}
	return res, nil
}

// snippet is the snippet of a hit on document doc. The matches are positions in the
// indexed text, the title's words and then the text's; the snippet is of
// the text. Should the index's positions not line up with the text (a
// marked word that is not a query term), the text is analyzed instead.
func (s *Searcher) snippet(doc int, title, text string, matches []Match, terms []string) []Fragment {
	skip := uint32(0) // words of the title
	for _, e, ok := tokenize.NextWord(title, 0); ok; _, e, ok = tokenize.NextWord(title, e) {
		skip++
	}
	inText := matches[:0:0]
	for i, m := range matches {
		if m.Pos >= skip {
			inText = make([]Match, 0, len(matches)-i)
			for _, m := range matches[i:] {
				inText = append(inText, Match{Pos: m.Pos - skip, Term: m.Term})
			}
			break
		}
	}
	frags := snippet(text, inText, s.SnippetWords, func() *wordIndex {
		return s.words.get(doc, s.corpus.Docs.Len(), text)
	})
	for _, f := range frags {
		if f.Match && !s.isTerm(f.Text, terms) {
			return SnippetOf(text, terms, s.analyze, s.SnippetWords)
		}
	}
	return frags
}

// isTerm reports whether word analyzes to one of terms.
func (s *Searcher) isTerm(word string, terms []string) bool {
	found := false
	s.analyze(word, func(term string, _ int) { found = found || slices.Contains(terms, term) })
	return found
}
