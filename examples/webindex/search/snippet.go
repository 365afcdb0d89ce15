package search

import (
	"strings"
	"unicode"

	"github.com/superstep/superstep/examples/webindex/tokenize"
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
// returns it as fragments with the matching words marked. Words are
// segmented by the rules of package tokenize (tokenize.NextWord), and
// matches are the occurrences of the query terms in text by word position,
// from 0, in increasing order; Term tells the terms apart. Text outside the
// window is replaced by an Ellipsis fragment at either end; the punctuation
// right after the last word (up to maxTrail bytes, as in "end.") is kept.
// maxWords < 1 means DefaultSnippetWords. Without any match the snippet is
// the start of text.
//
// Snippet reads text only as far as the end of the window, and neither
// folds nor stems it. Fragments may share memory with text.
func Snippet(text string, matches []Match, maxWords int) []Fragment {
	return snippet(text, matches, maxWords, nil)
}

// snippet is Snippet. When the window starts wordStride words or more into
// text, and words is not nil, it segments text only from the checkpoint of
// words() before the window; words() must be the word index of text, or
// nil to segment it from the start.
func snippet(text string, matches []Match, maxWords int, words func() *wordIndex) []Fragment {
	if maxWords < 1 {
		maxWords = DefaultSnippetWords
	}
	w := maxWords
	best, total := bestWindow(matches, w)
	if total > 0 {
		// Centre the window on the matches it holds.
		i := 0
		for int(matches[i].Pos) < best {
			i++
		}
		j := i
		for j+1 < len(matches) && int(matches[j+1].Pos) < best+w {
			j++
		}
		first, last := int(matches[i].Pos), int(matches[j].Pos)
		best = max(0, first-(w-(last-first+1))/2)
	}

	// Segment text up to the word after the window, keeping the last w+1
	// words: if text ends early, the window moves back to end with it.
	spans := make([]span, 0, 2*(w+1))
	base := 0 // spans[i] is word base+i
	at, more, off := 0, false, 0
	if best >= wordStride && words != nil {
		if x := words(); x != nil {
			// Start at the checkpoint before the window, where it ends up
			// should text end early (as below).
			first := best
			if x.words <= best+w {
				first = max(0, min(best, x.words-min(w, x.words)))
			}
			at, off = x.seek(first)
			base = at
		}
	}
	for s, e, ok := tokenize.NextWord(text, off); ok; s, e, ok = tokenize.NextWord(text, e) {
		if len(spans) == 2*(w+1) {
			n := copy(spans, spans[len(spans)-w:])
			base += len(spans) - n
			spans = spans[:n]
		}
		spans = append(spans, span{s, e})
		if at++; at > best+w {
			more = true
			break
		}
	}
	if at == 0 {
		return nil
	}
	if !more { // text has at words
		w = min(w, at)
		best = max(0, min(best, at-w))
	}
	word := func(i int) span { return spans[i-base] }

	// Plain text between matches is one run of text; the ellipses join the
	// runs at either end.
	var out []Fragment
	prefix := ""
	if best > 0 {
		prefix = Ellipsis + " "
	}
	plain := func(from, to int, suffix string) {
		if s := text[from:to]; s != "" || prefix != "" || suffix != "" {
			out = append(out, Fragment{Text: prefix + s + suffix})
		}
		prefix = ""
	}
	end := best + w
	from := word(best).start // of the pending plain text
	m := 0
	for i := best; i < end; i++ {
		for m < len(matches) && int(matches[m].Pos) < i {
			m++
		}
		if m < len(matches) && int(matches[m].Pos) == i {
			sp := word(i)
			plain(from, sp.start, "")
			out = append(out, Fragment{Text: text[sp.start:sp.end], Match: true})
			from = sp.end
		}
	}
	// Keep the punctuation that ends the last word ("hard." not "hard").
	last := word(end - 1).end
	tail := text[last:]
	if more {
		tail = text[last:word(end).start]
	}
	if i := strings.IndexFunc(tail, unicode.IsSpace); i >= 0 {
		tail = tail[:i]
	}
	if len(tail) > maxTrail {
		tail = ""
	}
	suffix := ""
	if more {
		suffix = " " + Ellipsis
	}
	plain(from, last+len(tail), suffix)
	return out
}

// bestWindow returns the start of the earliest window of w words that
// holds the most distinct terms of matches, then the most matches, and the
// number of matches it holds. Only window starts where a match enters at
// the right (and 0) can be the earliest best, so those are the only ones
// tried; each of them ends on a word the text has.
func bestWindow(matches []Match, w int) (best, total int) {
	if len(matches) == 0 {
		return 0, 0
	}
	nterms := 0
	for _, m := range matches {
		nterms = max(nterms, m.Term+1)
	}
	var small [16]int
	counts := small[:0]
	if nterms <= len(small) {
		counts = small[:nterms]
	} else {
		counts = make([]int, nterms)
	}
	distinct, n := 0, 0
	lo, hi := 0, 0 // matches[lo:hi] are in the window
	bestDistinct := -1
	try := func(s int) {
		for ; hi < len(matches) && int(matches[hi].Pos) < s+w; hi++ {
			if t := matches[hi].Term; t >= 0 {
				if counts[t] == 0 {
					distinct++
				}
				counts[t]++
				n++
			}
		}
		for ; lo < hi && int(matches[lo].Pos) < s; lo++ {
			if t := matches[lo].Term; t >= 0 {
				if counts[t]--; counts[t] == 0 {
					distinct--
				}
				n--
			}
		}
		if distinct > bestDistinct || distinct == bestDistinct && n > total {
			best, bestDistinct, total = s, distinct, n
		}
	}
	try(0)
	prev := 0
	for _, m := range matches {
		if s := int(m.Pos) - w + 1; s > prev {
			try(s)
			prev = s
		}
	}
	return best, total
}

// SnippetOf is Snippet for text that is not in the index: it finds the
// matches itself by analyzing text as the query was analyzed, so with a
// stemming analyzer "running" matches the query term "run". Each match is
// checked by analyzing its word alone; should analyze segment differently
// from package tokenize, every word is analyzed alone instead.
func SnippetOf(text string, terms []string, analyze Analyzer, maxWords int) []Fragment {
	var spans []span
	for s, e, ok := tokenize.NextWord(text, 0); ok; s, e, ok = tokenize.NextWord(text, e) {
		spans = append(spans, span{s, e})
	}
	var ms []Match
	for i, t := range matches(text, spans, terms, analyze) {
		if t >= 0 {
			ms = append(ms, Match{Pos: uint32(i), Term: t})
		}
	}
	return Snippet(text, ms, maxWords)
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
