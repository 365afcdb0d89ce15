package search

import (
	"cmp"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/examples/webindex/postings"
)

// refSearch is Corpus.Search the simple way: every posting list decoded
// into a map, every matching document scored and all of them sorted.
func refSearch(c *Corpus, q Query, k int) ([]Hit, int, error) {
	terms := map[string]map[uint32][]uint32{}
	df := map[string]int{}
	for _, t := range q.Terms() {
		docs := map[uint32][]uint32{}
		e, err := c.lookup(t)
		if err != nil {
			return nil, 0, err
		}
		if e.Postings != nil {
			it, err := postings.NewIterator(e.Postings)
			if err != nil {
				return nil, 0, err
			}
			for it.Next() {
				docs[it.Doc()] = it.Positions(nil)
			}
		}
		terms[t], df[t] = docs, e.DF
	}
	n := float64(c.Docs.Len())
	matched := map[uint32]bool{}
	for _, g := range q.Groups {
		for doc := range terms[g[0][0]] {
			all := true
			for _, cl := range g {
				first, ok := terms[cl[0]][doc]
				found := ok && slices.ContainsFunc(first, func(p uint32) bool {
					for i, t := range cl[1:] {
						if _, ok := slices.BinarySearch(terms[t][doc], p+uint32(i+1)); !ok {
							return false
						}
					}
					return true
				})
				all = all && found
			}
			if all {
				matched[doc] = true
			}
		}
	}
	var hits []Hit
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
		for ti, t := range q.Terms() {
			pos, ok := terms[t][doc]
			if !ok {
				continue
			}
			idf := math.Log(1 + (n-float64(df[t])+0.5)/(float64(df[t])+0.5))
			tf := float64(len(pos))
			h.Score += idf * tf * (K1 + 1) / (tf + K1*(1-B+B*float64(d.Length)/max(c.AvgLen, 1)))
			if len(pos) > 0 && int(pos[0]) < titleLen {
				h.Score += TitleWeight * idf
			}
			for _, p := range pos {
				h.Matches = append(h.Matches, Match{Pos: p, Term: ti})
			}
		}
		h.Score += PriorWeight * math.Log(1+n*d.PageRank)
		slices.SortFunc(h.Matches, func(a, b Match) int { return cmp.Compare(a.Pos, b.Pos) })
		hits = append(hits, h)
	}
	slices.SortFunc(hits, rank)
	total := len(hits)
	return hits[:min(k, len(hits))], total, nil
}

// TestSearchRandom compares Corpus.Search with refSearch on random
// documents and queries: the same hits, scores to the bit, and totals.
func TestSearchRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	vocab := []string{"the", "a", "b", "c", "d", "e", "f", "g"}
	word := func() string { return vocab[min(r.IntN(len(vocab)), r.IntN(len(vocab)))] } // skewed
	// Over 128 documents, so that long lists have skip entries.
	texts := make([]string, 300+r.IntN(300))
	ranks := make([]float64, len(texts))
	for i := range texts {
		ws := make([]string, 1+r.IntN(20))
		for j := range ws {
			ws[j] = word()
		}
		texts[i] = strings.Join(ws, " ")
		ranks[i] = r.Float64() / float64(len(texts))
	}
	c := buildOf(t, texts, ranks, func(text string) string {
		f := strings.Fields(text)
		return strings.Join(f[:min(len(f), 3)], " ")
	})
	if r.IntN(2) == 0 {
		c.Analyze = lower
	}
	t.Logf("analyzer: %v", c.Analyze != nil)
	for range 300 {
		var sb strings.Builder
		for range 1 + r.IntN(4) {
			switch r.IntN(5) {
			case 0:
				sb.WriteString(`"` + word() + " " + word() + `" `)
			case 1:
				sb.WriteString("OR ")
			default:
				sb.WriteString(word() + " ")
			}
		}
		if r.IntN(10) == 0 {
			sb.WriteString("zzz ")
		}
		q := Parse(sb.String(), lower)
		for _, k := range []int{1, 10, 1000} {
			got, gotTotal, err := c.Search(q, k)
			if err != nil {
				t.Fatal(err)
			}
			want, wantTotal, _ := refSearch(c, q, k)
			if len(got) == 0 && len(want) == 0 {
				got, want = nil, nil
			}
			if gotTotal != wantTotal || !reflect.DeepEqual(got, want) {
				t.Fatalf("%q, k=%d: got %d hits of %d %+v, want %d of %d %+v", sb.String(), k, len(got), gotTotal, got, len(want), wantTotal, want)
			}
		}
	}
}
