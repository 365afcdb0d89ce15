package extract

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExtract(t *testing.T) {
	page := `<!DOCTYPE html><html><head>
<meta charset="utf-8"><title>  The  SQLite
 Query Planner </title>
<style>body { color: red }</style><script>var x = "<a href='/nope'>";</script>
<base href="/docs/">
</head><body><nav>Home</nav>
<h1>Query&nbsp;Planning</h1><p>Indexes make <b>lookups</b> fast.</p>
<a href="lang.html#syntax">syntax</a> <a href="lang.html">again</a>
<a href="HTTP://Example.COM:80/a/./b/../c?q=1#f">abs</a>
<a href="mailto:x@y">mail</a> <a href="javascript:void(0)">js</a>
<a href="https://example.com:443">root</a>
<noscript>enable JS</noscript>
</body></html>`
	p, err := HTML("https://www.sqlite.org/queryplanner.html", []byte(page), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "The SQLite Query Planner" {
		t.Errorf("title %q", p.Title)
	}
	if p.Text != "Home Query Planning Indexes make lookups fast. syntax again abs mail js root" {
		t.Errorf("text %q", p.Text)
	}
	want := []string{"https://www.sqlite.org/docs/lang.html", "http://example.com/a/c?q=1", "https://example.com/"}
	if strings.Join(p.Links, " ") != strings.Join(want, " ") {
		t.Errorf("links %q, want %q", p.Links, want)
	}
	if p.NoIndex || p.Truncated {
		t.Errorf("flags %+v", p)
	}
}

func TestNoIndexAndCharset(t *testing.T) {
	latin1 := []byte("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">" +
		"<meta name=ROBOTS content=\"NOINDEX, follow\"></head><body>caf\xe9</body></html>")
	p, err := HTML("http://h/", latin1, "")
	if err != nil {
		t.Fatal(err)
	}
	if !p.NoIndex || p.Text != "café" {
		t.Fatalf("noindex %v text %q", p.NoIndex, p.Text)
	}
	bad, _ := HTML("http://h/", []byte("<p>a\xff\xfeb</p>"), "text/html; charset=utf-8")
	if !utf8.ValidString(bad.Text) {
		t.Fatalf("invalid UTF-8 kept: %q", bad.Text)
	}
	if _, err := HTML("/relative", nil, ""); err != ErrBadURL {
		t.Fatalf("relative page URL: %v", err)
	}
}

func TestHostileInput(t *testing.T) {
	huge := "<a href=\"" + strings.Repeat("x", 1<<20) + "\">x</a>" + strings.Repeat("<div>", 200000) + "deep" +
		strings.Repeat("<a href=/l>", MaxLinks+5)
	p, err := HTML("http://h/", []byte(huge), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Links) != 1 || !strings.Contains(p.Text, "deep") {
		t.Fatalf("%d links, text has deep: %v", len(p.Links), strings.Contains(p.Text, "deep"))
	}
	big := bytes.Repeat([]byte("<p>word</p>"), MaxPageBytes/11+100)
	p, _ = HTML("http://h/", big, "")
	if !p.Truncated {
		t.Fatal("a page over MaxPageBytes must be truncated")
	}
}

func FuzzHTML(f *testing.F) {
	f.Add([]byte(`<html><title>t</title><base href="//x/y/"><a href="z#q">z</a></html>`), "text/html; charset=latin1")
	f.Add([]byte("<meta charset=\"shift_jis\"><p>\x82\xa0</p><a href=\"../../..//\">"), "")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		p, err := HTML("https://example.org/dir/page.html", body, ct)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(p.Text) || !utf8.ValidString(p.Title) || len(p.Title) > MaxTitle || len(p.Links) > MaxLinks {
			t.Fatalf("bad page %+v", p)
		}
		for _, l := range p.Links {
			u, err := url.Parse(l)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" || u.Host == "" {
				t.Fatalf("bad link %q", l)
			}
		}
	})
}
