package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultSnippetWords is the snippet length Snippet uses when asked for
// none.
const DefaultSnippetWords = 32

// Fragment is a piece of a snippet: text as it appears in the document,
// and whether it is a word that matched a query term. Callers mark matches
// their own way (brackets on a terminal, <mark> in HTML) and escape Text
// for their medium.
type Fragment struct {
	Text  string `json:"text"`
	Match bool   `json:"match,omitempty"`
}

// Ellipsis stands for text left out before or after a snippet.
const Ellipsis = "…"

// maxTrail is the most punctuation kept after a snippet's last word.
const maxTrail = 4

// Snippet picks the window of at most maxWords words of text that holds the
// most distinct query terms (then the most query-term occurrences; the
// earliest window on a tie), centres it on its first and last match, and
// returns it as fragments with the matching words marked. A word matches
// when analyze turns it into one of terms, so with a stemming analyzer
// "running" matches the query term "run". Text outside the window is
// replaced by an Ellipsis fragment at either end; the punctuation right
// after the last word (up to maxTrail bytes, as in "end.") is kept. maxWords < 1 means
// DefaultSnippetWords. Without any match the snippet is the start of text.
func Snippet(text string, terms []string, analyze Analyzer, maxWords int) []Fragment {
	if maxWords < 1 {
		maxWords = DefaultSnippetWords
	}
	spans := words(text)
	if len(spans) == 0 {
		return nil
	}
	hit := matches(text, spans, terms, analyze)

	// Slide a window of w words, counting per term in it.
	w := min(maxWords, len(spans))
	counts := make([]int, len(terms))
	distinct, total := 0, 0
	add := func(i, d int) {
		t := hit[i]
		if t < 0 {
			return
		}
		if counts[t] == 0 && d > 0 {
			distinct++
		}
		counts[t] += d
		total += d
		if counts[t] == 0 {
			distinct--
		}
	}
	for i := range w {
		add(i, 1)
	}
	best, bestDistinct, bestTotal := 0, distinct, total
	for s := 1; s+w <= len(spans); s++ {
		add(s-1, -1)
		add(s+w-1, 1)
		if distinct > bestDistinct || distinct == bestDistinct && total > bestTotal {
			best, bestDistinct, bestTotal = s, distinct, total
		}
	}
	if bestTotal > 0 {
		// Centre the window on the matches it holds.
		first, last := -1, -1
		for i := best; i < best+w; i++ {
			if hit[i] >= 0 {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		best = first - (w-(last-first+1))/2
		best = max(0, min(best, len(spans)-w))
	}

	var out []Fragment
	plain := func(s string) {
		if s == "" {
			return
		}
		if n := len(out); n > 0 && !out[n-1].Match {
			out[n-1].Text += s
			return
		}
		out = append(out, Fragment{Text: s})
	}
	if best > 0 {
		plain(Ellipsis + " ")
	}
	end := best + w
	for i := best; i < end; i++ {
		if i > best {
			plain(text[spans[i-1].end:spans[i].start])
		}
		if word := text[spans[i].start:spans[i].end]; hit[i] >= 0 {
			out = append(out, Fragment{Text: word, Match: true})
		} else {
			plain(word)
		}
	}
	// Keep the punctuation that ends the last word ("hard." not "hard").
	tail := text[spans[end-1].end:]
	if end < len(spans) {
		tail = text[spans[end-1].end:spans[end].start]
	}
	if i := strings.IndexFunc(tail, unicode.IsSpace); i >= 0 {
		tail = tail[:i]
	}
	if len(tail) <= maxTrail {
		plain(tail)
	}
	if end < len(spans) {
		plain(" " + Ellipsis)
	}
	return out
}

// Marked joins fragments into one string with each match between open and
// close, as in Marked(f, "[", "]").
func Marked(frags []Fragment, open, close string) string {
	var b strings.Builder
	for _, f := range frags {
		if f.Match {
			b.WriteString(open)
			b.WriteString(f.Text)
			b.WriteString(close)
		} else {
			b.WriteString(f.Text)
		}
	}
	return b.String()
}

// matches returns, for each word of text, the index in terms of the query
// term it analyzes to, or -1. It analyzes text once and maps positions to
// words; words segments text as the tokenizer does, so position i is
// spans[i]. Each match is checked by analyzing its word alone; should an
// analyzer segment differently, every word is analyzed alone instead.
func matches(text string, spans []span, terms []string, analyze Analyzer) []int {
	index := make(map[string]int, len(terms))
	for i, t := range terms {
		if _, dup := index[t]; !dup {
			index[t] = i
		}
	}
	hit := make([]int, len(spans))
	for i := range hit {
		hit[i] = -1
	}
	aligned := true
	analyze(text, func(term string, pos int) {
		if t, ok := index[term]; ok {
			if pos < 0 || pos >= len(spans) {
				aligned = false
				return
			}
			hit[pos] = t
		}
	})
	alone := func(i int) int {
		t := -1
		analyze(text[spans[i].start:spans[i].end], func(term string, _ int) {
			if j, ok := index[term]; ok && t < 0 {
				t = j
			}
		})
		return t
	}
	for i := range hit {
		if hit[i] >= 0 && alone(i) != hit[i] {
			aligned = false
			break
		}
	}
	if !aligned {
		for i := range hit {
			hit[i] = alone(i)
		}
	}
	return hit
}

// span is the byte range of one word of a text.
type span struct{ start, end int }

// words segments text into words by the rules of package tokenize: a run of
// letters and digits, marks continuing but never starting a word, an
// apostrophe (' or ’) joining two letters and a period joining two digits.
func words(text string) []span {
	var out []span
	i, n := 0, len(text)
	for i < n {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			i += size
			continue
		}
		start := i
		last := 0
		for i < n {
			r, size := utf8.DecodeRuneInString(text[i:])
			if (r == '\'' || r == '\u2019') && last == kindLetter && i+size < n && kindAt(text, i+size) == kindLetter ||
				r == '.' && last == kindDigit && i+size < n && kindAt(text, i+size) == kindDigit {
				i += size
				continue
			}
			k := kind(r)
			if k == 0 {
				break
			}
			last = k
			i += size
		}
		out = append(out, span{start, i})
	}
	return out
}

const (
	kindLetter = 1 // letters and marks
	kindDigit  = 2
)

func kind(r rune) int {
	switch {
	case r == utf8.RuneError:
		return 0
	case unicode.IsLetter(r), unicode.IsMark(r):
		return kindLetter
	case unicode.IsDigit(r):
		return kindDigit
	}
	return 0
}

func kindAt(text string, i int) int {
	r, _ := utf8.DecodeRuneInString(text[i:])
	return kind(r)
}
