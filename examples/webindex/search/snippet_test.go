package search

import (
	"reflect"
	"strings"
	"testing"

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
		got := Snippet(tc.text, tc.terms, tc.analyze, tc.words)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestSnippetDefaultLength(t *testing.T) {
	text := strings.Repeat("word ", 100) + "needle"
	got := Marked(Snippet(text, []string{"needle"}, lower, 0), "[", "]")
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
