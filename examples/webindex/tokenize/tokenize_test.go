package tokenize

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

type tok struct {
	term string
	pos  int
}

func collect(t *Tokenizer, text string) []tok {
	var out []tok
	t.Tokens(text, func(term string, pos int) { out = append(out, tok{term, pos}) })
	return out
}

func TestTokens(t *testing.T) {
	all := Options{Stem: true, Stopwords: true}
	tests := []struct {
		name string
		opts Options
		text string
		want []tok
	}{
		{"issue example", all, "The Running dogs' bark.",
			[]tok{{"run", 1}, {"dog", 2}, {"bark", 3}}},
		{"no options", Options{}, "The Running dogs' bark.",
			[]tok{{"the", 0}, {"running", 1}, {"dogs", 2}, {"bark", 3}}},
		{"stopwords only", Options{Stopwords: true}, "The Running dogs' bark.",
			[]tok{{"running", 1}, {"dogs", 2}, {"bark", 3}}},
		{"stem only", Options{Stem: true}, "The connections are generously indexed",
			[]tok{{"the", 0}, {"connect", 1}, {"are", 2}, {"generous", 3}, {"index", 4}}},
		{"empty", all, "", nil},
		{"only separators", all, "  -- ... !? \t\n", nil},
		{"only stopwords", all, "to be or not to be",
			[]tok{{"not", 3}}},
		{"positions count stopwords", all, "a query of the database",
			[]tok{{"queri", 1}, {"databas", 4}}},
		{"apostrophes", Options{}, "don't O’Brien rock 'n' roll dogs'",
			[]tok{{"don't", 0}, {"o'brien", 1}, {"rock", 2}, {"n", 3}, {"roll", 4}, {"dogs", 5}}},
		{"possessive stemmed", all, "the dog's bone",
			[]tok{{"dog", 1}, {"bone", 2}}},
		{"periods between digits", Options{}, "SQLite 3.40.1 and v2.5. e.g. end.Start 1.a",
			[]tok{{"sqlite", 0}, {"3.40.1", 1}, {"and", 2}, {"v2.5", 3}, {"e", 4}, {"g", 5},
				{"end", 6}, {"start", 7}, {"1", 8}, {"a", 9}}},
		{"digits not stemmed", all, "sqlite3_open(ptrs) 1990s",
			[]tok{{"sqlite3", 0}, {"open", 1}, {"ptrs", 2}, {"1990s", 3}}},
		{"underscore and hyphen split", Options{}, "foo_bar e-mail",
			[]tok{{"foo", 0}, {"bar", 1}, {"e", 2}, {"mail", 3}}},
		{"unicode folding", Options{}, "ΣΊΣΥΦΟΣ Straße ſ \u212a ÉCOLE",
			[]tok{{"σίσυφοσ", 0}, {"straße", 1}, {"s", 2}, {"k", 3}, {"école", 4}}},
		{"combining mark continues a word", Options{}, "cafe\u0301 \u0301x",
			[]tok{{"cafe\u0301", 0}, {"x", 1}}},
		{"non-latin scripts", Options{}, "Привет мир 東京タワー ١٢٣",
			[]tok{{"привет", 0}, {"мир", 1}, {"東京タワー", 2}, {"١٢٣", 3}}},
		{"invalid utf-8 separates", Options{}, "ab\xffcd\xc3(ef\xe2\x82g",
			[]tok{{"ab", 0}, {"cd", 1}, {"ef", 2}, {"g", 3}}},
		{"replacement char separates", Options{}, "ab\uFFFDcd",
			[]tok{{"ab", 0}, {"cd", 1}}},
		{"long word dropped but counted", all,
			"short " + strings.Repeat("x", 65) + " tail " + strings.Repeat("z", 64),
			[]tok{{"short", 0}, {"tail", 2}, {strings.Repeat("z", 64), 3}}},
		{"long multibyte word dropped", Options{}, strings.Repeat("é", 33) + " ok " + strings.Repeat("é", 32),
			[]tok{{"ok", 1}, {strings.Repeat("é", 32), 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(New(tc.opts), tc.text)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Tokens(%q)\n got %v\nwant %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestPhrasePositions(t *testing.T) {
	// A phrase tokenized alone keeps the same relative positions as inside a page,
	// so positional phrase matching works with stopwords removed.
	tk := New(Options{Stem: true, Stopwords: true})
	page := collect(tk, "Notes. The rollback of a journal file happens on commit.")
	query := collect(tk, "rollback of a journal")
	if len(query) != 2 || query[1].pos-query[0].pos != 3 {
		t.Fatalf("query tokens %v", query)
	}
	found := false
	for i := range page {
		for j := i + 1; j < len(page); j++ {
			if page[i].term == query[0].term && page[j].term == query[1].term &&
				page[j].pos-page[i].pos == query[1].pos-query[0].pos {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("phrase %v not found in %v", query, page)
	}
}

func TestStopwords(t *testing.T) {
	list := Stopwords()
	if len(list) < 100 || len(list) > 150 {
		t.Errorf("%d stopwords", len(list))
	}
	if !slices.IsSorted(list) {
		t.Error("Stopwords not sorted")
	}
	for i, w := range list {
		if i > 0 && list[i-1] == w {
			t.Errorf("duplicate stopword %q", w)
		}
		if w != strings.ToLower(w) || !IsStopword(w) {
			t.Errorf("bad stopword %q", w)
		}
		// Every stopword must itself be a single folded word.
		if got := collect(New(Options{}), w); len(got) != 1 || got[0].term != w {
			t.Errorf("stopword %q tokenizes to %v", w, got)
		}
	}
	for _, w := range []string{"not", "no", "nor", "sqlite", "table"} {
		if IsStopword(w) {
			t.Errorf("%q should not be a stopword", w)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	tk := New(Options{Stem: true, Stopwords: true})
	text := "Running queries against the databases concurrently."
	want := collect(tk, text)
	done := make(chan []tok)
	for range 8 {
		go func() { done <- collect(tk, text) }()
	}
	for range 8 {
		if got := <-done; !slices.Equal(got, want) {
			t.Errorf("got %v want %v", got, want)
		}
	}
}

func checkInvariants(t *testing.T, opts Options, text string) {
	t.Helper()
	last := -1
	New(opts).Tokens(text, func(term string, pos int) {
		if term == "" {
			t.Fatalf("empty term in %q", text)
		}
		if len(term) > MaxTermBytes {
			t.Fatalf("term of %d bytes in %q", len(term), text)
		}
		if !utf8.ValidString(term) {
			t.Fatalf("invalid UTF-8 term %q in %q", term, text)
		}
		if pos < 0 || pos < last {
			t.Fatalf("position %d after %d in %q", pos, last, text)
		}
		last = pos
	})
}

// checkWords checks that NextWord segments text as Tokens does: the term
// at position n is the folded n-th word, and every word short enough to be
// a term is one.
func checkWords(t *testing.T, text string) {
	t.Helper()
	var words []string
	for s, e, ok := NextWord(text, 0); ok; s, e, ok = NextWord(text, e) {
		if s < 0 || e <= s || e > len(text) {
			t.Fatalf("word [%d, %d) of %q", s, e, text)
		}
		words = append(words, text[s:e])
	}
	next := 0
	New(Options{}).Tokens(text, func(term string, pos int) {
		if pos >= len(words) {
			t.Fatalf("term %q at position %d, but %q has %d words %q", term, pos, text, len(words), words)
		}
		for ; next < pos; next++ {
			if n := len(foldWord(words[next])); n <= MaxTermBytes {
				t.Fatalf("word %d %q of %q has no term", next, words[next], text)
			}
		}
		if f := foldWord(words[pos]); f != term {
			t.Fatalf("word %d of %q is %q (folded %q), term %q", pos, text, words[pos], f, term)
		}
		next = pos + 1
	})
	for ; next < len(words); next++ {
		if len(foldWord(words[next])) <= MaxTermBytes {
			t.Fatalf("word %d %q of %q has no term", next, words[next], text)
		}
	}
}

// foldWord folds a word as Tokens does.
func foldWord(w string) string {
	return strings.Map(func(r rune) rune {
		if r == '\u2019' {
			return '\''
		}
		return fold(r)
	}, w)
}

func TestNextWord(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{" — ", nil},
		{"Don't stop—it's 3.40.1!", []string{"Don't", "stop", "it's", "3.40.1"}},
		{"dogs' O’Brien x'’y a'", []string{"dogs", "O’Brien", "x", "y", "a"}},
		{"1. .1 2.5.", []string{"1", "1", "2.5"}},
		{"\u0301cafe\u0301 ab\xffcd sqlite3_open", []string{"cafe\u0301", "ab", "cd", "sqlite3", "open"}},
		{"中文字 ΣΊΣΥΦΟΣ", []string{"中文字", "ΣΊΣΥΦΟΣ"}},
	} {
		var got []string
		for s, e, ok := NextWord(tc.text, 0); ok; s, e, ok = NextWord(tc.text, e) {
			got = append(got, tc.text[s:e])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.text, got, tc.want)
		}
		checkWords(t, tc.text)
	}
	checkWords(t, strings.Repeat("é", 40)+" x "+strings.Repeat("a", 65)+" y")
}

func FuzzTokens(f *testing.F) {
	for _, s := range []string{
		"", "The Running dogs' bark.", "don't O’Brien 3.40.1", "ab\xffcd\xc3(", "ΣΊΣΥΦΟΣ ς",
		strings.Repeat("é", 40), "a'", "'a", "1.", ".1", "x'’y", "cafe\u0301", "\u0301",
		"sqlite3_open_v2(db, &p)", "İstanbul ıi", "ǅemal ﬀ",
	} {
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, text string, stem, stop bool) {
		checkInvariants(t, Options{Stem: stem, Stopwords: stop}, text)
		checkWords(t, text)
	})
}

// licenseText is the text of the licenses in /usr/share/common-licenses, real
// English prose of about 1 MB.
func licenseText(b *testing.B) string {
	files, _ := filepath.Glob("/usr/share/common-licenses/*")
	var sb strings.Builder
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			continue // a directory or an unreadable file
		}
		sb.Write(data)
		sb.WriteByte('\n')
	}
	if sb.Len() == 0 {
		b.Skip("no text in /usr/share/common-licenses")
	}
	return sb.String()
}

func BenchmarkTokens(b *testing.B) {
	text := licenseText(b)
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"stopwords", Options{Stopwords: true}},
		{"stem+stopwords", Options{Stem: true, Stopwords: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tk := New(bc.opts)
			n := 0
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				tk.Tokens(text, func(string, int) { n++ })
			}
			b.ReportMetric(float64(n)/float64(b.N), "terms/op")
		})
	}
	// A fresh Tokenizer per pass: every distinct word goes through the stemmer.
	b.Run("stem+stopwords/cold", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			New(Options{Stem: true, Stopwords: true}).Tokens(text, func(string, int) {})
		}
	})
}
