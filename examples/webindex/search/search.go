package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
)

// Corpus is what scoring needs besides the postings. Set its fields before
// the first search; Search is then safe for concurrent use.
type Corpus struct {
	Terms  []*index.Terms // index partitions; a term is in at most one
	Docs   *index.Docs
	AvgLen float64
	// Analyze, if set, is the index's analyzer: it finds how many of a
	// document's first positions are its title, for the title bonus.
	Analyze Analyzer

	titleOnce sync.Once
	// titleTerms[d] is 1 + the number of terms Analyze finds in the title
	// of document d, or 0 while not yet known: one int32 per document,
	// filled in as searches need them.
	titleTerms []atomic.Int32
}

// Hit is one result.
type Hit struct {
	Doc   int
	Score float64
	// Matches are the occurrences of the query's terms in the document, in
	// increasing position (for snippets).
	Matches []Match
}

// Match is one occurrence of a query term in a document.
type Match struct {
	// Pos is the position of the word in the indexed text: the title's
	// words, then the page text's.
	Pos uint32
	// Term is the index of the term in Query.Terms.
	Term int
}

// term is one distinct term of a query.
type term struct {
	text  string
	entry index.Entry // no postings when the index lacks the term
	idf   float64
}

func (c *Corpus) lookup(text string) (index.Entry, error) {
	for _, t := range c.Terms {
		e, ok, err := t.Lookup(text)
		if err != nil {
			return index.Entry{}, err
		}
		if ok {
			return e, nil
		}
	}
	return index.Entry{Term: text}, nil
}

// iterator returns an iterator over the postings of t, nil if it has none.
func (t *term) iterator() (*postings.Iterator, error) {
	if t.entry.Postings == nil {
		return nil, nil
	}
	it, err := postings.NewIterator(t.entry.Postings)
	if err != nil {
		return nil, fmt.Errorf("term %q: %w", t.text, err)
	}
	return it, nil
}

// Search returns the k best documents for q, best first (ties by document
// number), and the number of matching documents.
//
// It walks the groups' posting lists document at a time, in increasing
// document order: each group is led by its rarest term and skips the other
// lists ahead with Advance, decoding positions only for the documents all
// its terms share. Only the k best hits are kept.
func (c *Corpus) Search(q Query, k int) ([]Hit, int, error) {
	texts := q.Terms()
	terms := make([]term, len(texts))
	n := float64(c.Docs.Len())
	for i, t := range texts {
		e, err := c.lookup(t)
		if err != nil {
			return nil, 0, err
		}
		df := float64(e.DF)
		terms[i] = term{text: t, entry: e, idf: math.Log(1 + (n-df+0.5)/(df+0.5))}
	}
	termIndex := func(t string) int { return slices.Index(texts, t) }
	var groups []*groupMatcher
	for _, g := range q.Groups {
		m, err := newGroupMatcher(g, terms, termIndex)
		if err != nil {
			return nil, 0, err
		}
		if m != nil {
			groups = append(groups, m)
		}
	}
	// One more iterator per term, for scoring: every term of the query
	// counts, whichever group matched.
	scoring := make([]*postings.Iterator, len(terms))
	for i := range terms {
		it, err := terms[i].iterator()
		if err != nil {
			return nil, 0, err
		}
		scoring[i] = it
	}
	for _, g := range groups {
		if err := g.next(0); err != nil {
			return nil, 0, err
		}
	}
	top := topK{k: k}
	total := 0
	at := make([]*postings.Iterator, len(terms))
	for {
		doc, any := uint32(0), false
		for _, g := range groups {
			if !g.done && (!any || g.doc < doc) {
				doc, any = g.doc, true
			}
		}
		if !any {
			break
		}
		total++
		// The lists of the groups that matched doc are at it already:
		// score reads those rather than advance its own.
		clear(at)
		for _, g := range groups {
			if !g.done && g.doc == doc {
				for j, ti := range g.terms {
					at[ti] = g.its[j]
				}
			}
		}
		score, err := c.score(doc, terms, scoring, at)
		if err != nil {
			return nil, 0, err
		}
		top.add(Hit{Doc: int(doc), Score: score})
		for _, g := range groups {
			if !g.done && g.doc == doc {
				if doc == math.MaxUint32 {
					g.done = true
				} else if err := g.next(doc + 1); err != nil {
					return nil, 0, err
				}
			}
		}
	}
	hits := top.sorted()
	if err := c.matches(hits, terms); err != nil {
		return nil, 0, err
	}
	return hits, total, nil
}

// score is the score of doc. Each iterator of scoring is at or before doc;
// at[i], when not nil, is an iterator of term i's list that is at doc, read
// in place of scoring[i] (which is then left where it is).
func (c *Corpus) score(doc uint32, terms []term, scoring, at []*postings.Iterator) (float64, error) {
	d, err := c.Docs.Stats(int(doc))
	if err != nil {
		return 0, err
	}
	titleLen := -2 // not yet known; -1 without an analyzer
	if c.Analyze == nil {
		titleLen = -1
	}
	var score float64
	for i, it := range scoring { // fixed order: scores are reproducible to the bit
		if at[i] != nil {
			it = at[i]
		} else if it == nil {
			continue
		} else if !it.Advance(doc) {
			if err := it.Err(); err != nil {
				return 0, fmt.Errorf("term %q: %w", terms[i].text, err)
			}
			scoring[i] = nil // at the end of its list
			continue
		} else if it.Doc() != doc {
			continue
		}
		// Only the term frequency and the first position count.
		first := it.FirstPosition()
		if err := it.Err(); err != nil {
			return 0, fmt.Errorf("term %q: %w", terms[i].text, err)
		}
		idf := terms[i].idf
		tf := float64(it.TF())
		score += idf * tf * (K1 + 1) / (tf + K1*(1-B+B*float64(d.Length)/max(c.AvgLen, 1)))
		if titleLen == -2 {
			if titleLen, err = c.titleLen(int(doc)); err != nil {
				return 0, err
			}
		}
		if int(first) < titleLen {
			score += TitleWeight * idf
		}
	}
	n := float64(c.Docs.Len())
	score += PriorWeight * math.Log(1+n*d.PageRank)
	return score, nil
}

// titleLen is the number of terms Analyze finds in the title of doc,
// worked out once per document.
func (c *Corpus) titleLen(doc int) (int, error) {
	c.titleOnce.Do(func() { c.titleTerms = make([]atomic.Int32, c.Docs.Len()) })
	if doc < len(c.titleTerms) {
		if v := c.titleTerms[doc].Load(); v > 0 {
			return int(v) - 1, nil
		}
	}
	title, err := c.Docs.Title(doc)
	if err != nil {
		return 0, err
	}
	l := 0
	c.Analyze(title, func(string, int) { l++ })
	if doc < len(c.titleTerms) && l < math.MaxInt32 {
		c.titleTerms[doc].Store(int32(l + 1))
	}
	return l, nil
}

// matches fills in the Matches of hits.
func (c *Corpus) matches(hits []Hit, terms []term) error {
	if len(hits) == 0 {
		return nil
	}
	order := make([]int, len(hits)) // hits by document
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(hits[a].Doc, hits[b].Doc) })
	var pos []uint32
	for ti := range terms {
		it, err := terms[ti].iterator()
		if err != nil {
			return err
		}
		if it == nil {
			continue
		}
		for _, h := range order {
			if !it.Advance(uint32(hits[h].Doc)) {
				break
			}
			if int(it.Doc()) != hits[h].Doc {
				continue
			}
			pos = it.Positions(pos[:0])
			hits[h].Matches = mergeMatches(hits[h].Matches, pos, ti)
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("term %q: %w", terms[ti].text, err)
		}
	}
	return nil
}

// mergeMatches merges the positions pos of term ti into ms, both in
// increasing position, and returns the result. A word is one term, so
// positions are distinct across terms and the merged order is the order
// by position.
func mergeMatches(ms []Match, pos []uint32, ti int) []Match {
	n := len(ms)
	ms = slices.Grow(ms, len(pos))[:n+len(pos)]
	i, j := n-1, len(pos)-1
	for k := len(ms) - 1; j >= 0; k-- { // from the back, in place
		if i >= 0 && ms[i].Pos > pos[j] {
			ms[k] = ms[i]
			i--
		} else {
			ms[k] = Match{Pos: pos[j], Term: ti}
			j--
		}
	}
	return ms
}
