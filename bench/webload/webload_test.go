package webload

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func words(text string, emit func(string, int)) {
	for i, w := range strings.Fields(strings.ToLower(text)) {
		if w != "the" {
			emit(w, i)
		}
	}
}

func TestQueriesDeterministic(t *testing.T) {
	titles := []string{"The Query Planner", "CREATE TABLE", "the", "Write-Ahead Logging"}
	a := Queries(titles, words, 20, 5, Seed)
	if len(a) != 25 || !slices.Equal(a, Queries(titles, words, 20, 5, Seed)) {
		t.Fatalf("not 25 reproducible queries: %q", a)
	}
	for _, q := range a {
		if strings.Contains(q, "the") || strings.TrimSpace(strings.Trim(q, `"`)) == "" {
			t.Errorf("query %q has a stopword or no word", q)
		}
	}
	if Queries([]string{"the", ""}, words, 3, 3, Seed) != nil {
		t.Error("queries from titles without a usable word")
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(ds)
	if l.Queries != 100 || l.P50 != 50*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Fatalf("%+v", l)
	}
}
