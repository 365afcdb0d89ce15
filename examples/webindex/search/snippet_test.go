package search

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"unicode"

	"github.com/superstep/superstep/examples/webindex/tokenize"
)

func TestSnippet(t *testing.T) {
	stem := tokenize.New(tokenize.Options{Stem: true, Stopwords: true}).Tokens
	plain := tokenize.New(tokenize.Options{}).Tokens
	m := func(s string) Fragment { return Fragment{Text: s, Match: true} }
	p := func(s string) Fragment { return Fragment{Text: s} }
	cases := []struct {
		name    string
		text    string
		terms   []string
		analyze Analyzer
		words   int
		want    []Fragment
	}{{
		// Windows of 3 words: the first with a match is "cat was running";
		// centred on "running" it becomes "was running home".
		name: "stemmed and centred", text: "The cat was running home. Dogs run too.",
		terms: []string{"run"}, analyze: stem, words: 3,
		want: []Fragment{p("… was "), m("running"), p(" home. …")},
	}, {
		// Four words hold both "running" and "run" (words 3 to 6).
		name: "most occurrences", text: "The cat was running home. Dogs run too.",
		terms: []string{"run"}, analyze: stem, words: 4,
		want: []Fragment{p("… "), m("running"), p(" home. Dogs "), m("run"), p(" …")},
	}, {
		// Words 3-5 and 4-6 both hold both terms; 4-6 holds three matches.
		name: "distinct terms then occurrences", text: "alpha beta beta beta gamma alpha gamma",
		terms: []string{"alpha", "gamma"}, analyze: plain, words: 3,
		want: []Fragment{p("… "), m("gamma"), p(" "), m("alpha"), p(" "), m("gamma")},
	}, {
		name: "no match: the start", text: "one two three four",
		terms: []string{"zzz"}, analyze: plain, words: 2,
		want: []Fragment{p("one two …")},
	}, {
		name: "apostrophes, versions, punctuation", text: "Don't stop—it's 3.40.1!",
		terms: []string{"3.40.1", "don't"}, analyze: plain, words: 10,
		want: []Fragment{m("Don't"), p(" stop—it's "), m("3.40.1"), p("!")},
	}, {
		name: "case folded", text: "SQLite and sqlite", terms: []string{"sqlite"}, analyze: plain,
		want: []Fragment{m("SQLite"), p(" and "), m("sqlite")},
	}, {
		// An analyzer that splits on spaces only does not line up with the
		// words ("world-wide" is one of its words, two of ours): every word
		// is then analyzed alone.
		name: "misaligned analyzer", text: "Hello, world-wide web",
		terms: []string{"web"}, analyze: lower, words: 10,
		want: []Fragment{p("Hello, world-wide "), m("web")},
	}, {
		name: "empty", text: " — ", terms: []string{"x"}, analyze: plain, want: nil,
	}}
	for _, tc := range cases {
		got := SnippetOf(tc.text, tc.terms, tc.analyze, tc.words)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestSnippetDefaultLength(t *testing.T) {
	text := strings.Repeat("word ", 100) + "needle"
	got := Marked(Snippet(text, []Match{{Pos: 100}}, 0), "[", "]")
	want := "… " + strings.Repeat("word ", DefaultSnippetWords-1) + "[needle]"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestMarked(t *testing.T) {
	f := []Fragment{{Text: "a "}, {Text: "b", Match: true}, {Text: " c"}}
	if got := Marked(f, "<", ">"); got != "a <b> c" {
		t.Fatalf("got %q", got)
	}
}

// refSnippet is Snippet the simple way: segment the whole text and slide
// the window over every word.
func refSnippet(text string, matches []Match, maxWords int) []Fragment {
	if maxWords < 1 {
		maxWords = DefaultSnippetWords
	}
	var spans []span
	for s, e, ok := tokenize.NextWord(text, 0); ok; s, e, ok = tokenize.NextWord(text, e) {
		spans = append(spans, span{s, e})
	}
	if len(spans) == 0 {
		return nil
	}
	hit := make([]int, len(spans))
	for i := range hit {
		hit[i] = -1
	}
	nterms := 0
	for _, m := range matches {
		if int(m.Pos) < len(hit) {
			hit[m.Pos] = m.Term
		}
		nterms = max(nterms, m.Term+1)
	}
	w := min(maxWords, len(spans))
	score := func(s int) (int, int) {
		counts := make([]int, nterms)
		distinct, total := 0, 0
		for i := s; i < s+w; i++ {
			if t := hit[i]; t >= 0 {
				if counts[t] == 0 {
					distinct++
				}
				counts[t]++
				total++
			}
		}
		return distinct, total
	}
	best, bestDistinct, bestTotal := 0, -1, 0
	for s := 0; s+w <= len(spans); s++ {
		if d, n := score(s); d > bestDistinct || d == bestDistinct && n > bestTotal {
			best, bestDistinct, bestTotal = s, d, n
		}
	}
	if bestTotal > 0 {
		first, last := -1, -1
		for i := best; i < best+w; i++ {
			if hit[i] >= 0 {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		best = max(0, min(first-(w-(last-first+1))/2, len(spans)-w))
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

// TestSnippetRandom compares Snippet, which reads text only up to the
// window and tries only some windows, with refSnippet on random texts.
func TestSnippetRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	vocab := []string{"a", "b", "c", "d", "e", "f"}
	seps := []string{" ", ", ", ". ", "—", " (", ")! ", "...... "}
	for n := range 5000 {
		var sb strings.Builder
		var ms []Match
		words := r.IntN(60)
		for i := range words {
			if i > 0 || r.IntN(3) == 0 {
				sb.WriteString(seps[r.IntN(len(seps))])
			}
			v := r.IntN(len(vocab))
			sb.WriteString(vocab[v])
			if v < 3 && r.IntN(2) == 0 { // a, b, c are query terms, sometimes
				ms = append(ms, Match{Pos: uint32(i), Term: v})
			}
		}
		if r.IntN(2) == 0 {
			sb.WriteString(seps[r.IntN(len(seps))])
		}
		text, maxWords := sb.String(), r.IntN(12)
		got, want := Snippet(text, ms, maxWords), refSnippet(text, ms, maxWords)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: Snippet(%q, %v, %d) = %q, want %q", n, text, ms, maxWords, fmt.Sprint(got), fmt.Sprint(want))
		}
	}
}

// TestSnippetEnds: a match near the start of a long text
// does not need the rest of it; matches past its end are ignored.
func TestSnippetEnds(t *testing.T) {
	text := "alpha beta gamma " + strings.Repeat("x ", 1000)
	got := Marked(Snippet(text, []Match{{Pos: 1}}, 3), "[", "]")
	if want := "alpha [beta] gamma …"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = Marked(Snippet("one two three", []Match{{Pos: 2}, {Pos: 7}}, 2), "[", "]")
	if want := "… two [three]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
