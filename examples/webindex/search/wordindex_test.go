package search

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superstep/superstep/examples/webindex/tokenize"
)

// randomText returns a text of n words joined by separators that the word
// rules treat specially (apostrophes, periods between digits, marks,
// invalid UTF-8).
func randomText(r *rand.Rand, n int) string {
	vocab := []string{"a", "b", "c", "don't", "3.40", "O’Brien", "é", "naïve", "x\u0301y", "漢字"}
	seps := []string{" ", ", ", ". ", "—", " (", ")! ", "' ", " '", "\xff", "...", "_", "’ "}
	var sb strings.Builder
	for i := range n {
		if i > 0 || r.IntN(3) == 0 {
			sb.WriteString(seps[r.IntN(len(seps))])
		}
		sb.WriteString(vocab[r.IntN(len(vocab))])
	}
	if r.IntN(2) == 0 {
		sb.WriteString(seps[r.IntN(len(seps))])
	}
	return sb.String()
}

func TestWordIndex(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	for range 200 {
		text := randomText(r, r.IntN(5*wordStride))
		var ends []int
		for _, e, ok := tokenize.NextWord(text, 0); ok; _, e, ok = tokenize.NextWord(text, e) {
			ends = append(ends, e)
		}
		x := newWordIndex(text)
		if x.words != len(ends) {
			t.Fatalf("%q: %d words, want %d", text, x.words, len(ends))
		}
		for word := range len(ends) + 2*wordStride {
			at, from := x.seek(word)
			if at > word && word < len(ends) || at%wordStride != 0 {
				t.Fatalf("%q: seek(%d) = word %d", text, word, at)
			}
			want := 0
			if at > 0 {
				want = ends[at-1]
			}
			if from != want {
				t.Fatalf("%q: seek(%d) = %d, %d; want offset %d", text, word, at, from, want)
			}
		}
	}
}

// TestSnippetWordIndex checks that snippets cut with a word index are
// Snippet's, on texts long enough to have checkpoints, with matches
// anywhere (past the end of the text too).
func TestSnippetWordIndex(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 4))
	for n := range 3000 {
		words := r.IntN(6 * wordStride)
		text := randomText(r, words)
		var ms []Match
		for p := 0; p < words+10; p += 1 + r.IntN(2*wordStride) {
			ms = append(ms, Match{Pos: uint32(p), Term: r.IntN(3)})
		}
		maxWords := r.IntN(2 * wordStride)
		x := newWordIndex(text)
		got := snippet(text, ms, maxWords, func() *wordIndex { return x })
		if want := Snippet(text, ms, maxWords); !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: snippet(%q, %v, %d) = %q, want %q", n, text, ms, maxWords, fmt.Sprint(got), fmt.Sprint(want))
		}
	}
}

// TestWordIndexesConcurrent builds the same documents' word indexes from
// several goroutines (run with -race).
func TestWordIndexesConcurrent(t *testing.T) {
	texts := []string{"", "one", strings.Repeat("w ", 3*wordStride+5)}
	var c wordIndexes
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for d, text := range texts {
				if x := c.get(d, len(texts), text); x == nil || x.words != strings.Count(text, "w")+strings.Count(text, "one") {
					t.Errorf("doc %d: %+v", d, x)
				}
			}
			if x := c.get(len(texts), len(texts), "x"); x != nil {
				t.Errorf("doc out of range: %+v", x)
			}
		})
	}
	wg.Wait()
}
