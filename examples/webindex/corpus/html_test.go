package corpus

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadHTMLFile(t *testing.T) {
	big := bytes.Repeat([]byte("a"), MaxPageBytes+1)
	for _, tc := range []struct {
		name, rel, base string
		data            []byte
		urls, kinds     string
	}{
		{"lang_select.html", "lang_select.html", base, []byte(page1), "https://sqlite.org/lang_select.html", ""},
		{"open.HTM", "c3ref/open.HTM", base, []byte(page1), "https://sqlite.org/c3ref/open.HTM", ""},
		{"index.xhtml", "docs/index.xhtml", base + "v3", []byte(page1), "https://sqlite.org/v3/docs/index.xhtml", ""},
		{"a.html", "", base, []byte(page1), "https://sqlite.org/a.html", ""}, // rel "" means the base name
		{"empty.html", "empty.html", base, nil, "", "empty"},
		{"notes.txt", "notes.txt", base, []byte(page1), "https://sqlite.org/notes.txt", ""}, // sniffed: looks like HTML
		{"plain.txt", "plain.txt", base, []byte("just some notes, <b>not</b> a page\n"), "", "not-html"},
		{"x.html", "../x.html", base, []byte(page1), "", "bad-url"},
		{"x.html", "x.html", "not a url", []byte(page1), "", "bad-url"},
		{"big.html", "big.html", base, big, "https://sqlite.org/big.html", "too-large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, tc.name, tc.data)
			g := readPath(t, path, tc.rel, tc.base)
			if g.err != nil {
				t.Fatal(g.err)
			}
			if g.urls() != tc.urls || g.kinds() != tc.kinds {
				t.Fatalf("urls %q kinds %q, want %q %q (%+v)", g.urls(), g.kinds(), tc.urls, tc.kinds, g.problems)
			}
			for _, p := range g.pages {
				if len(p.Body) > MaxPageBytes {
					t.Fatalf("body of %d bytes", len(p.Body))
				}
				if p.Truncated != (tc.kinds == "too-large") {
					t.Fatalf("Truncated = %v", p.Truncated)
				}
				if !p.Truncated && !bytes.Equal(p.Body, tc.data) {
					t.Fatalf("body %q", p.Body)
				}
				if want := tc.rel; want != "" && p.Source != want {
					t.Fatalf("Source %q, want %q", p.Source, want)
				}
			}
			for _, p := range g.problems {
				if p.Source == "" || p.Detail == "" {
					t.Fatalf("problem without source or detail: %+v", p)
				}
			}
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	if err := ReadFile(filepath.Join(t.TempDir(), "missing.html"), "missing.html", base,
		func(Page) error { return nil }, func(Problem) {}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	// The page callback's error stops reading and comes back unwrapped.
	stop := errors.New("stop")
	path := writeTemp(t, "x.tar", tarBytes(t, tmember{name: "a.html", body: page1}, tmember{name: "b.html", body: page1}))
	n := 0
	err := ReadFile(path, "x.tar", base, func(Page) error { n++; return stop }, func(p Problem) { t.Errorf("problem %+v", p) })
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d pages, want stop after 1", err, n)
	}
	path = writeTemp(t, "x.warc", []byte(response("https://a.example/", ok200(page1))+response("https://b.example/", ok200(page1))))
	n = 0
	err = ReadFile(path, "x.warc", base, func(Page) error { n++; return stop }, func(p Problem) { t.Errorf("problem %+v", p) })
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d pages, want stop after 1", err, n)
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]fileKind{
		"a.warc": kindWARC, "A.WARC.GZ": kindWARC, "a.tar.gz": kindTarGz, "a.TGZ": kindTarGz, "a.tar": kindTar,
		"a.html": kindHTML, "a.Htm": kindHTML, "a.xhtml": kindHTML, "a.html.gz": kindOther, "a.txt": kindOther, "html": kindOther,
	} {
		if got := kindOf(name); got != want {
			t.Errorf("kindOf(%q) = %d, want %d", name, got, want)
		}
	}
	g := readBytes("style.css", []byte("body{}"))
	if g.kinds() != "not-html" || g.problems[0].Source != "style.css" || !strings.Contains(g.problems[0].Detail, "name") {
		t.Fatalf("%+v", g.problems)
	}
}
