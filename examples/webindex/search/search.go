package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
)

// Corpus is what scoring needs besides the postings.
type Corpus struct {
	Terms  []*index.Terms // index partitions; a term is in at most one
	Docs   *index.Docs
	AvgLen float64
	// Analyze, if set, is the index's analyzer: it finds how many of a
	// document's first positions are its title, for the title bonus.
	Analyze Analyzer
}

// Hit is one result.
type Hit struct {
	Doc   int
	Score float64
	// Positions of the query terms in the document (for snippets).
	Positions []uint32
}

// termData is one term's postings decoded for a query.
type termData struct {
	df   int
	docs map[uint32][]uint32 // doc -> positions
}

func (c *Corpus) lookup(term string) (*termData, error) {
	for _, t := range c.Terms {
		e, ok, err := t.Lookup(term)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		it, err := postings.NewIterator(e.Postings)
		if err != nil {
			return nil, fmt.Errorf("term %q: %w", term, err)
		}
		td := &termData{df: e.DF, docs: make(map[uint32][]uint32, e.DF)}
		for it.Next() {
			td.docs[it.Doc()] = it.Positions(nil)
		}
		if it.Err() != nil {
			return nil, fmt.Errorf("term %q: %w", term, it.Err())
		}
		return td, nil
	}
	return &termData{}, nil
}

// Search returns the k best documents for q, best first (ties by document
// number), and the number of matching documents.
func (c *Corpus) Search(q Query, k int) ([]Hit, int, error) {
	terms := map[string]*termData{}
	for _, t := range q.Terms() {
		td, err := c.lookup(t)
		if err != nil {
			return nil, 0, err
		}
		terms[t] = td
	}
	n := float64(c.Docs.Len())
	matched := map[uint32]bool{}
	for _, g := range q.Groups {
		for doc := range candidates(g, terms) {
			if groupMatches(g, terms, doc) {
				matched[doc] = true
			}
		}
	}
	hits := make([]Hit, 0, len(matched))
	for doc := range matched {
		d, err := c.Docs.Doc(int(doc))
		if err != nil {
			return nil, 0, err
		}
		h := Hit{Doc: int(doc)}
		titleLen := -1
		if c.Analyze != nil {
			titleLen = 0
			c.Analyze(d.Title, func(string, int) { titleLen++ })
		}
		for _, t := range q.Terms() { // fixed order: scores are reproducible to the bit
			td := terms[t]
			pos, ok := td.docs[doc]
			if !ok {
				continue
			}
			idf := math.Log(1 + (n-float64(td.df)+0.5)/(float64(td.df)+0.5))
			tf := float64(len(pos))
			h.Score += idf * tf * (K1 + 1) / (tf + K1*(1-B+B*float64(d.Length)/max(c.AvgLen, 1)))
			if len(pos) > 0 && int(pos[0]) < titleLen {
				h.Score += TitleWeight * idf
			}
			h.Positions = append(h.Positions, pos...)
		}
		h.Score += PriorWeight * math.Log(1+n*d.PageRank)
		slices.Sort(h.Positions)
		hits = append(hits, h)
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Doc, b.Doc)
	})
	total := len(hits)
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits, total, nil
}

// candidates yields the documents of the group's rarest term.
func candidates(g []Clause, terms map[string]*termData) map[uint32][]uint32 {
	var best *termData
	for _, c := range g {
		for _, t := range c {
			if td := terms[t]; best == nil || len(td.docs) < len(best.docs) {
				best = td
			}
		}
	}
	if best == nil {
		return nil
	}
	return best.docs
}

// groupMatches reports whether doc contains every clause of g, phrases at
// consecutive positions.
func groupMatches(g []Clause, terms map[string]*termData, doc uint32) bool {
	for _, c := range g {
		first, ok := terms[c[0]].docs[doc]
		if !ok {
			return false
		}
		if len(c) == 1 {
			continue
		}
		found := false
		for _, p := range first {
			all := true
			for i, t := range c[1:] {
				if _, ok := slices.BinarySearch(terms[t].docs[doc], p+uint32(i+1)); !ok {
					all = false
					break
				}
			}
			if all {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
