package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/bench/webload"
	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/search"
)

// TestWebindexHarness runs the webindex workload on the bundled corpus
// through the in-process executor with 2 workers (the baseline runs in
// Prepare and in TestWebindexValidationCatchesWrongOutput), and checks the
// figures and a search latency row of 20 queries.
func TestWebindexHarness(t *testing.T) {
	modes := []string{ModeLocal}
	out := t.TempDir()
	runs, err := Run(context.Background(), Config{Workloads: []string{"webindex"}, Size: "tiny", Workers: []int{2},
		Runs: 1, Out: out, Modes: modes, Log: io.Discard, SearchQueries: 20})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		seen[r.Mode] = true
		if r.Mode == ModeSearch {
			if r.Queries != 20 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms {
				t.Errorf("bad search row %+v", r)
			}
			continue
		}
		if !r.Validated || r.WallS <= 0 || r.Records != 766 || r.HTMLBytes <= r.InputBytes || r.IndexBytes <= 0 {
			t.Errorf("bad run %+v", r)
		}
	}
	for _, m := range append(modes, ModeSearch) {
		if !seen[m] {
			t.Errorf("no %s row", m)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"HTML MB/s", "Search latency", "webindex search p50"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
}

// TestWebindexValidationCatchesWrongOutput injects wrong indexes: one whose
// manifest miscounts the tokens (it still opens), one with a damaged terms
// file, one without the fixed query's top page.
func TestWebindexValidationCatchesWrongOutput(t *testing.T) {
	ctx := context.Background()
	wl := newWebindexWL("", "")
	if err := wl.Prepare(ctx, t.TempDir(), 0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := wl.Baseline(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := wl.Validate(ctx, out); err != nil {
		t.Fatalf("baseline output rejected: %v", err)
	}
	save := func(name string) func() {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return func() { os.WriteFile(filepath.Join(out, name), b, 0o644) }
	}
	edit := func(name string, fn func([]byte) []byte) {
		p := filepath.Join(out, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, fn(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("tokens", func(t *testing.T) {
		defer save(index.ManifestName)()
		edit(index.ManifestName, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"tokens": `, `"tokens": 1`, 1))
		})
		if err := wl.Validate(ctx, out); err == nil {
			t.Fatal("wrong token count accepted")
		}
	})
	t.Run("terms byte", func(t *testing.T) {
		defer save(index.TermsName(0))()
		edit(index.TermsName(0), func(b []byte) []byte { b[len(b)/2]++; return b })
		if err := wl.Validate(ctx, out); err == nil {
			t.Fatal("damaged terms file accepted")
		}
	})
	t.Run("top page", func(t *testing.T) {
		// The same counts, but the fixed query's page renamed.
		defer save(index.DocsName)()
		ix, err := index.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		docs := make([]index.Doc, ix.Docs.Len())
		for i := range docs {
			if docs[i], err = ix.Docs.Doc(i); err != nil {
				t.Fatal(err)
			}
		}
		ix.Close()
		for i := range docs {
			if docs[i].URL == fixedTop {
				docs[i].URL = "https://sqlite.org/elsewhere.html"
			}
		}
		if err := index.WriteDocs(filepath.Join(out, index.DocsName), docs); err != nil {
			t.Fatal(err)
		}
		if err := wl.Validate(ctx, out); err == nil {
			t.Fatal("index without the fixed query's top page accepted")
		}
	})
}

// BenchmarkSearch times the query set (webload.Queries: 300 title-word
// queries and 50 phrases) on an index of the bundled corpus built once
// in-process, one query per iteration after a warm-up pass, and reports
// the per-query p50, p99 and maximum in milliseconds.
func BenchmarkSearch(b *testing.B) {
	wl := newWebindexWL("", "")
	dir := b.TempDir()
	if err := wl.Prepare(context.Background(), dir, 0); err != nil {
		b.Fatal(err)
	}
	ix, err := index.Open(filepath.Join(dir, "reference-index"))
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	qs, err := indexQueries(ix)
	if err != nil {
		b.Fatal(err)
	}
	s := search.NewSearcher(ix)
	run := func(q string) {
		if _, err := s.Search(q, 10, 0); err != nil && !errors.Is(err, search.ErrEmptyQuery) {
			b.Fatal(err)
		}
	}
	for _, q := range qs {
		run(q)
	}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		run(qs[i%len(qs)])
		ds = append(ds, time.Since(t0))
	}
	l := webload.Summarize(ds)
	b.ReportMetric(webload.Ms(l.P50), "p50-ms")
	b.ReportMetric(webload.Ms(l.P99), "p99-ms")
	b.ReportMetric(webload.Ms(l.Max), "max-ms")
}
