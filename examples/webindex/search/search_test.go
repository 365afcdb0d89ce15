package search

import (
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
)

// lower is a minimal analyzer for tests: lower-cased fields, "the" dropped
// but counted.
func lower(text string, emit func(string, int)) {
	for i, w := range strings.Fields(strings.ToLower(text)) {
		if w != "the" {
			emit(w, i)
		}
	}
}

var texts = []string{
	"sqlite query planner uses the query optimizer",
	"the planner chooses an index",
	"query planner query planner query planner",
	"index of the sqlite documentation",
}

// build writes an index of texts over two partitions (terms split by first
// letter) with the given PageRanks.
func build(t *testing.T, ranks []float64) *Corpus {
	t.Helper()
	return buildOf(t, texts, ranks, func(text string) string { return text[:10] })
}

// buildOf writes an index of texts, analyzed with lower, with the given
// PageRanks and titles.
func buildOf(t *testing.T, texts []string, ranks []float64, title func(string) string) *Corpus {
	t.Helper()
	dir := t.TempDir()
	inv := map[string][]postings.Posting{}
	var docs []index.Doc
	total := 0
	for d, text := range texts {
		n := 0
		pos := map[string][]uint32{}
		lower(text, func(term string, p int) { pos[term] = append(pos[term], uint32(p)) })
		for term, ps := range pos {
			inv[term] = append(inv[term], postings.Posting{Doc: uint32(d), Positions: ps})
		}
		n = len(strings.Fields(text))
		total += n
		docs = append(docs, index.Doc{URL: "https://x/" + strconv.Itoa(d), Title: title(text), Length: uint32(n), PageRank: ranks[d]})
	}
	var terms []string
	for term := range inv {
		terms = append(terms, term)
	}
	slices.Sort(terms)
	var parts []*index.Terms
	for p, keep := range []func(string) bool{func(s string) bool { return s < "p" }, func(s string) bool { return s >= "p" }} {
		path := filepath.Join(dir, "terms-"+string(rune('0'+p))+".idx")
		w, err := index.NewTermsWriter(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, term := range terms {
			if keep(term) {
				ps := inv[term]
				slices.SortFunc(ps, func(a, b postings.Posting) int { return int(a.Doc) - int(b.Doc) })
				if err := w.Add(term, ps); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		ts, err := index.OpenTerms(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ts.Close() })
		parts = append(parts, ts)
	}
	dpath := filepath.Join(dir, "docs.idx")
	if err := index.WriteDocs(dpath, docs); err != nil {
		t.Fatal(err)
	}
	ds, err := index.OpenDocs(dpath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return &Corpus{Terms: parts, Docs: ds, AvgLen: float64(total) / float64(len(texts))}
}

func docsOf(hits []Hit) []int {
	var out []int
	for _, h := range hits {
		out = append(out, h.Doc)
	}
	return out
}

func TestSearch(t *testing.T) {
	c := build(t, []float64{0.25, 0.25, 0.25, 0.25})
	cases := []struct {
		q    string
		want []int // in rank order
	}{
		{"query planner", []int{2, 0}},        // doc 2 repeats both terms
		{"planner", []int{2, 1, 0}},           // shorter doc 1 beats doc 0 at equal tf
		{"sqlite OR index", []int{3, 1, 0}},   // doc 3 has both; equal idf, shorter doc 1 first
		{`"query optimizer"`, []int{0}},       // phrase
		{`"optimizer query"`, nil},            // wrong order
		{`"planner chooses" index`, []int{1}}, // phrase AND word
		{`"the planner"`, []int{2, 1, 0}},     // stopword dropped: same as "planner"
		{"nothing", nil},
	}
	for _, tc := range cases {
		hits, total, err := c.Search(Parse(tc.q, lower), 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := docsOf(hits); !slices.Equal(got, tc.want) || total != len(tc.want) {
			t.Errorf("%s: got %v (total %d), want %v", tc.q, got, total, tc.want)
		}
	}
	// One score by hand: "planner" in doc 1 (4 tokens; N=4, df=3,
	// avglen=(7+5+6+5)/4).
	hits, _, _ := c.Search(Parse("planner", lower), 10)
	idf := math.Log(1 + (4-3+0.5)/(3+0.5))
	bm25 := idf * 1 * 2.2 / (1 + 1.2*(1-0.75+0.75*5/(23.0/4)))
	want := bm25 + 0.5*math.Log(1+4*0.25) // PriorWeight 0.5; no analyzer: no title bonus
	if math.Abs(hits[1].Score-want) > 1e-12 {
		t.Fatalf("score of doc 1 = %v, want %v", hits[1].Score, want)
	}
}

func TestPageRankPriorBreaksTies(t *testing.T) {
	c := build(t, []float64{0.1, 0.1, 0.1, 0.7})
	hits, _, _ := c.Search(Parse("sqlite", lower), 10)
	if got := docsOf(hits); !slices.Equal(got, []int{3, 0}) {
		t.Fatalf("got %v: the high-PageRank page should come first", got)
	}
}
