package webload

import (
	"math/rand/v2"
	"strings"
	"unicode"
)

// Analyzer is the index's analyzer (search.Analyzer, tokenize.Tokenizer.Tokens).
type Analyzer func(text string, emit func(term string, pos int))

// QuerySet sizes: TermQueries queries of 1 to 3 words and PhraseQueries
// two-word "phrases", drawn with Seed.
const (
	TermQueries   = 300
	PhraseQueries = 50
	Seed          = 1
)

// Queries draws nTerms queries of 1 to 3 consecutive title words and
// nPhrases quoted two-word phrases from titles, with a PCG generator seeded
// with seed: the same titles give the same queries. Words are lower-cased
// runs of letters and digits; a word the analyzer drops (a stopword) or
// shorter than two bytes is not used, so every query has a term. Titles
// without a usable word are skipped; Queries returns nil when no title has
// one (or, for phrases, two consecutive ones).
func Queries(titles []string, analyze Analyzer, nTerms, nPhrases int, seed uint64) []string {
	var words [][]string // usable words per title
	var pairs [][2]string
	for _, t := range titles {
		raw := strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		var ws []string
		prevOK := false
		for i, w := range raw {
			ok := len(w) >= 2 && hasTerm(w, analyze)
			if ok {
				ws = append(ws, w)
				if prevOK {
					pairs = append(pairs, [2]string{raw[i-1], w})
				}
			}
			prevOK = ok
		}
		if len(ws) > 0 {
			words = append(words, ws)
		}
	}
	if len(words) == 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []string
	for range nTerms {
		ws := words[r.IntN(len(words))]
		n := min(1+r.IntN(3), len(ws))
		start := r.IntN(len(ws) - n + 1)
		out = append(out, strings.Join(ws[start:start+n], " "))
	}
	for i := 0; i < nPhrases && len(pairs) > 0; i++ {
		p := pairs[r.IntN(len(pairs))]
		out = append(out, `"`+p[0]+" "+p[1]+`"`)
	}
	return out
}

func hasTerm(w string, analyze Analyzer) bool {
	n := 0
	analyze(w, func(string, int) { n++ })
	return n > 0
}
