package corpus

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// tarCases are the hand-built archives; they also seed FuzzReadTarGz.
func tarCases(t testing.TB) []struct {
	name        string
	data        []byte
	urls, kinds string
} {
	big := strings.Repeat("a", MaxPageBytes+100)
	plain := tarBytes(t, tmember{name: "a.html", body: page1}, tmember{name: "b.html", body: page1})
	return []struct {
		name        string
		data        []byte
		urls, kinds string
	}{
		{"flat.tar.gz", gz(tarBytes(t,
			tmember{name: "lang_select.html", body: page1},
			tmember{name: "c3ref/", typ: tar.TypeDir},
			tmember{name: "c3ref/open.html", body: page1},
			tmember{name: "docs/index.html", body: page1})),
			"https://sqlite.org/lang_select.html https://sqlite.org/c3ref/open.html https://sqlite.org/docs/index.html", ""},
		{"top.tgz", gz(tarBytes(t,
			tmember{name: "sqlite-doc/", typ: tar.TypeDir},
			tmember{name: "sqlite-doc/index.html", body: page1},
			tmember{name: "sqlite-doc/c3ref/open.html", body: page1})),
			"https://sqlite.org/index.html https://sqlite.org/c3ref/open.html", ""},
		{"dot-top.tar.gz", gz(tarBytes(t,
			tmember{name: "./", typ: tar.TypeDir},
			tmember{name: "./doc/a.html", body: page1},
			tmember{name: "./doc/b.htm", body: page1})),
			"https://sqlite.org/a.html https://sqlite.org/b.htm", ""},
		{"two-tops.tar.gz", gz(tarBytes(t,
			tmember{name: "doc/a.html", body: page1},
			tmember{name: "other/b.html", body: page1})),
			"https://sqlite.org/doc/a.html https://sqlite.org/other/b.html", ""},
		{"top-and-file.tar.gz", gz(tarBytes(t,
			tmember{name: "doc/a.html", body: page1},
			tmember{name: "README", body: "x"})),
			"https://sqlite.org/doc/a.html", "not-html"},
		{"skipped.tar.gz", gz(tarBytes(t,
			tmember{name: "a.html", body: page1},
			tmember{name: "style.css", body: "body{}"},
			tmember{name: "empty.html"},
			tmember{name: "../escape.html", body: page1},
			tmember{name: "link.html", typ: tar.TypeSymlink},
			tmember{name: "b.xhtml", body: page1})),
			"https://sqlite.org/a.html https://sqlite.org/b.xhtml", "not-html,empty,bad-url,not-regular"},
		{"big.tar.gz", gz(tarBytes(t, tmember{name: "big.html", body: big}, tmember{name: "after.html", body: page1})),
			"https://sqlite.org/big.html https://sqlite.org/after.html", "too-large"},
		{"plain.tar", plain, "https://sqlite.org/a.html https://sqlite.org/b.html", ""},
		{"truncated-gzip.tar.gz", gz(plain)[:len(gz(plain))-12], "https://sqlite.org/a.html https://sqlite.org/b.html", "corrupt-gzip"},
		{"cut-member.tar.gz", gz(plain[:512+10]), "", "corrupt-tar"},
		{"cut-member.tar", plain[:1024+512+10], "https://sqlite.org/a.html", "corrupt-tar"},
		{"bad-header.tar", append(bytes.Repeat([]byte("x"), 512), plain...), "", "corrupt-tar"},
		{"not-gzip.tar.gz", plain, "", "corrupt-gzip"},
		{"empty.tar.gz", nil, "", "empty"},
		{"empty.tar", nil, "", "empty"},
		{"no-members.tar", tarBytes(t), "", ""},
	}
}

func TestReadTar(t *testing.T) {
	for _, tc := range tarCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			g := readBytes(tc.name, tc.data)
			if g.err != nil {
				t.Fatal(g.err)
			}
			if g.urls() != tc.urls || g.kinds() != tc.kinds {
				t.Fatalf("urls %q kinds %q\nwant %q %q\n(%+v)", g.urls(), g.kinds(), tc.urls, tc.kinds, g.problems)
			}
			for _, p := range g.pages {
				if !strings.HasPrefix(p.Source, tc.name+":") {
					t.Errorf("page Source %q", p.Source)
				}
				if p.Truncated {
					if len(p.Body) != MaxPageBytes {
						t.Errorf("truncated body of %d bytes", len(p.Body))
					}
				} else if string(p.Body) != page1 {
					t.Errorf("body %q", p.Body)
				}
			}
			for _, p := range g.problems {
				if !strings.HasPrefix(p.Source, tc.name) || p.Detail == "" {
					t.Errorf("problem %+v", p)
				}
			}
		})
	}
}

// TestReadTarFromDisk reads an archive through ReadFile, which opens it
// twice (the top-level directory pass), and a plain tar that skips by seeking.
func TestReadTarFromDisk(t *testing.T) {
	data := gz(tarBytes(t, tmember{name: "sqlite-doc/a.html", body: page1}, tmember{name: "sqlite-doc/b/c.html", body: page1}))
	g := readPath(t, writeTemp(t, "docs.tar.gz", data), "in/docs.tar.gz", base)
	if g.err != nil || g.urls() != "https://sqlite.org/a.html https://sqlite.org/b/c.html" || len(g.problems) != 0 {
		t.Fatalf("%v %q %+v", g.err, g.urls(), g.problems)
	}
	if g.pages[1].Source != "in/docs.tar.gz:sqlite-doc/b/c.html" {
		t.Fatalf("Source %q", g.pages[1].Source)
	}
	big := strings.Repeat("b", MaxPageBytes*2)
	data = tarBytes(t, tmember{name: "skip.bin", body: big}, tmember{name: "a.html", body: page1})
	g = readPath(t, writeTemp(t, "x.tar", data), "x.tar", base)
	if g.err != nil || g.urls() != "https://sqlite.org/a.html" || g.kinds() != "not-html" {
		t.Fatalf("%v %q %+v", g.err, g.urls(), g.problems)
	}
}
