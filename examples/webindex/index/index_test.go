package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/superstep/superstep/examples/webindex/postings"
)

func TestTermsRoundTrip(t *testing.T) {
	s := uint64(time.Now().UnixNano())
	t.Logf("seed %d", s)
	r := rand.New(rand.NewPCG(s, 1))
	var terms []string
	seen := map[string]bool{}
	for len(terms) < 1000 {
		w := fmt.Sprintf("%x", r.Uint32()>>uint(r.IntN(28)))
		if !seen[w] {
			seen[w] = true
			terms = append(terms, w)
		}
	}
	slices.Sort(terms)
	lists := map[string][]postings.Posting{}
	path := filepath.Join(t.TempDir(), "terms-00000.idx")
	w, err := NewTermsWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, term := range terms {
		ps := []postings.Posting{{Doc: uint32(i), Positions: []uint32{uint32(i % 7)}}, {Doc: uint32(i + 5), Positions: []uint32{1, 9}}}
		lists[term] = ps
		if err := w.Add(term, ps); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Add("0", nil); err == nil {
		t.Fatal("out-of-order term accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ts, err := OpenTerms(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	for _, term := range terms {
		e, ok, err := ts.Lookup(term)
		if err != nil || !ok || e.DF != 2 {
			t.Fatalf("lookup %q: %v %v %+v", term, ok, err, e)
		}
		it, err := postings.NewIterator(e.Postings)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range lists[term] {
			if !it.Next() || it.Doc() != want.Doc || !slices.Equal(it.Positions(nil), want.Positions) {
				t.Fatalf("term %q: postings differ", term)
			}
		}
	}
	for _, absent := range []string{"", "zzzz", "0000000000", terms[0] + "x"} {
		if _, ok, _ := ts.Lookup(absent); ok && !seen[absent] {
			t.Fatalf("found absent term %q", absent)
		}
	}
	n := 0
	ts.Each(func(Entry) bool { n++; return true })
	if n != len(terms) {
		t.Fatalf("Each saw %d terms", n)
	}
}

func TestDocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docs.idx")
	docs := []Doc{{URL: "https://a/", Title: "A", Length: 10, PageRank: 0.5}, {URL: "https://b/x", Title: "", Length: 0, PageRank: 0.25}}
	if err := WriteDocs(path, docs); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDocs(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i, want := range docs {
		got, err := d.Doc(i)
		if err != nil || got != want {
			t.Fatalf("doc %d: %+v %v", i, got, err)
		}
	}
	if _, err := d.Doc(2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("doc out of range: %v", err)
	}
}

func FuzzTerms(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "t.idx")
	w, _ := NewTermsWriter(path)
	for i := range 100 {
		w.Add(fmt.Sprintf("t%03d", i), []postings.Posting{{Doc: 1, Positions: []uint32{2}}})
	}
	w.Close()
	b, _ := os.ReadFile(path)
	f.Add(b, "t050")
	f.Fuzz(func(t *testing.T, b []byte, term string) {
		ts, err := parseTerms("fuzz", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		if e, ok, err := ts.Lookup(term); ok && err == nil {
			if it, err := postings.NewIterator(e.Postings); err == nil {
				for it.Next() {
				}
			}
		}
		ts.Each(func(Entry) bool { return true })
	})
}

func FuzzDocs(f *testing.F) {
	path := filepath.Join(f.TempDir(), "d.idx")
	WriteDocs(path, []Doc{{URL: "u", Title: "t", Length: 3, PageRank: 1}})
	b, _ := os.ReadFile(path)
	f.Add(b, 0)
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		d, err := parseDocs("fuzz", b)
		if err != nil {
			return
		}
		d.Doc(i)
	})
}
