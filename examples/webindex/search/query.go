// Package search answers queries over a web index: BM25 (k1 = 1.2,
// b = 0.75) combined with the PageRank prior, AND of terms by default, OR
// between terms or phrases, and "quoted phrases" matched by position.
//
// Score of a document d for a query with terms t:
//
//	score(d) = Σ_t idf(t) · tf(t,d)·(k1+1) / (tf(t,d) + k1·(1 − b + b·len(d)/avglen))
//	         + Σ_t TitleWeight · idf(t) · [t occurs in the title of d]
//	         + PriorWeight · ln(1 + N·PageRank(d))
//
// with idf(t) = ln(1 + (N − df(t) + 0.5)/(df(t) + 0.5)) and N the number of
// documents. The title bonus (a single-field stand-in for BM25F) applies
// when the corpus knows its analyzer (Corpus.Analyze). N·PageRank is 1 for
// an average page, so the prior adds about PriorWeight·0.69 to an average
// page and more to the pages the link graph favours; BM25 dominates for
// rare terms.
package search

import (
	"strings"
)

// BM25 parameters, the weight of a title match and of the PageRank prior.
const (
	K1          = 1.2
	B           = 0.75
	TitleWeight = 1.0
	PriorWeight = 0.5
)

// Analyzer turns text into terms with their positions; the index and the
// queries must use the same one.
type Analyzer func(text string, emit func(term string, pos int))

// Clause is a sequence of terms that must appear at consecutive positions
// (a single term for an ordinary word).
type Clause []string

// Query is a disjunction of conjunctions: a document matches if, for some
// group, it contains every clause of the group.
type Query struct {
	Groups [][]Clause
}

// Parse parses a query: words are ANDed, OR (upper case) separates
// alternatives, "double quotes" make a phrase. Words the analyzer drops
// (stopwords) vanish; a phrase keeps the positions of what remains.
func Parse(q string, analyze Analyzer) Query {
	var out Query
	var group []Clause
	flush := func() {
		if len(group) > 0 {
			out.Groups = append(out.Groups, group)
		}
		group = nil
	}
	for len(q) > 0 {
		q = strings.TrimLeft(q, " \t\r\n")
		if q == "" {
			break
		}
		if q[0] == '"' {
			end := strings.IndexByte(q[1:], '"')
			phrase := q[1:]
			if end >= 0 {
				phrase, q = q[1:1+end], q[2+end:]
			} else {
				q = ""
			}
			var c Clause
			analyze(phrase, func(term string, _ int) { c = append(c, term) })
			if len(c) > 0 {
				group = append(group, c)
			}
			continue
		}
		end := strings.IndexAny(q, " \t\r\n\"")
		word := q
		if end >= 0 {
			word, q = q[:end], q[end:]
		} else {
			q = ""
		}
		if word == "OR" {
			flush()
			continue
		}
		analyze(word, func(term string, _ int) { group = append(group, Clause{term}) })
	}
	flush()
	return out
}

// Terms lists the distinct terms of the query.
func (q Query) Terms() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range q.Groups {
		for _, c := range g {
			for _, t := range c {
				if !seen[t] {
					seen[t] = true
					out = append(out, t)
				}
			}
		}
	}
	return out
}
