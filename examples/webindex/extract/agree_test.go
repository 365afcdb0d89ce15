package extract

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// samePage reports how got differs from the reference extractor's page.
func samePage(t *testing.T, name string, body []byte, ct string) {
	t.Helper()
	want, werr := referenceHTML("https://example.org/dir/page.html", body, ct)
	got, gerr := HTML("https://example.org/dir/page.html", body, ct)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: error %v, reference %v", name, gerr, werr)
	}
	if werr != nil {
		return
	}
	if got.Text != want.Text {
		i := 0
		for i < len(got.Text) && i < len(want.Text) && got.Text[i] == want.Text[i] {
			i++
		}
		lo := max(0, i-60)
		t.Fatalf("%s: text differs at byte %d:\n got …%q\nwant …%q", name, i, got.Text[lo:min(len(got.Text), i+60)], want.Text[lo:min(len(want.Text), i+60)])
	}
	if got.Title != want.Title || got.URL != want.URL || got.NoIndex != want.NoIndex || got.Truncated != want.Truncated {
		t.Fatalf("%s: got title %q url %q noindex %v truncated %v, reference %q %q %v %v", name,
			got.Title, got.URL, got.NoIndex, got.Truncated, want.Title, want.URL, want.NoIndex, want.Truncated)
	}
	if !slices.Equal(got.Links, want.Links) {
		t.Fatalf("%s: links\n got %q\nwant %q", name, got.Links, want.Links)
	}
}

// TestAgreesWithReference extracts every page of the bundled corpora (the
// SQLite documentation tree and the WARC sample) and hand-written corner
// cases with both extractors: title, text, links and flags must be equal.
func TestAgreesWithReference(t *testing.T) {
	files := readCorpus(t)
	for _, f := range files {
		samePage(t, f.name, f.body, "")
	}
	warc, err := os.ReadFile("../testdata/sqlite-doc-sample.warc.gz")
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(warc))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	// The WARC's HTTP bodies: every "<html" or "<!DOCTYPE" to the next
	// record, good enough to feed both extractors real pages.
	n := 0
	for rec := range strings.SplitSeq(string(raw), "WARC/1.") {
		if i := strings.Index(rec, "\r\n\r\n<"); i >= 0 {
			samePage(t, "warc record", []byte(rec[i+4:]), "text/html")
			n++
		}
	}
	t.Logf("%d corpus pages and %d WARC bodies agree", len(files), n)
	for i, c := range cornerCases {
		samePage(t, "corner case "+itoa(i)+": "+c, []byte(c), "")
	}
}

// cornerCases are the tokenizer states the corpus rarely reaches.
var cornerCases = []string{
	"", "<", "a<", "a</", "</>x", "</ x>y", "<?php x ?>z", "<!>a", "<!", "<!-", "<!--", "<!-->a", "<!--->b", "<!---->c",
	"<!-- a -- b -->c", "<!-- a --!>d", "<!-- a --!->e-->f", "<!--x--!", "<!DOCTYPE html>g", "<!doctype", "<!DOCTYP",
	"<p>a&lt;b&gt;c&amp;d&quot;e&#39;f&nbsp;g&copy;h&notit;i&#x41;&#128;&#0;&#xD800;j&amp",
	"<title>a &amp; b</title><title>second</title>", "<title></title><title>third</title>x", "<title/>after",
	"<title>t</ti></title >x", "<TITLE>Up</TITLE>", "<title>\r\n a\rb</title>",
	"<script>if (a<b) x()</script>vis", "<script><!-- a </script> b", "<script><!--<script>x</script>y</script>z-->w</script>v",
	"<script><!--<SCRIPT>--></script>v", "<script><!-- -<x --></script>u", "<script>a</scriptx></script>t", "<script/>seen</script>s",
	"<SCRIPT>x</SCRIPT>r", "<script>unterminated", "<style>a{}</style>q", "<noscript>n</noscript>p", "<template><a href=t>t</a></template>o",
	"<textarea>a&amp;b<b>c</textarea>n", "<xmp>a&amp;<b></xmp>m", "<iframe>i</iframe>l", "<plaintext>a</plaintext>&amp;<b>",
	"<a href=x>1</a><a href='y'>2</a><a href=\"z\">3</a><a HREF=w>", "<a href=x href=y>", "<a href = \" sp \">", "<a href=/>", "<a href=a/>",
	"<a href=\"q?a=1&b=2&amp;c=3&copy=4\">", "<a href='\r\nline'>", "<a href=\"x\x00y\">", "<a \x00href=x>", "<a/href=x>", "<a =href=x>",
	"<a href", "<a href=", "<a href='unterminated", "<a href=x", "<base href=/b/><a href=c>", "<base href=\"http://[::1\"><base href=/ok/><a href=c>",
	"<meta name=robots content='nofollow, NoIndex'>", "<meta NAME=Robots content=none>", "<meta name=robots content=index>",
	"<br a/>x<br/>y", "<title a=1 a=x/>t", "<title a=x/>u", "<title a/>v", "<script x=1 x=2/>w",
	"a\x00b", "<title>a\x00b</title>", "\xff\xfe<p>\xc3</p>", "<meta charset=latin1><p>caf\xe9</p>",
	"<p>\u00a0a\u2003b\u0085c\u3000</p>", "<p>a\vb\fc</p>", "x\xef\xbf\xbd\xffy",
	"<a href=\"javascript:x\">", "<a href=\"HTTP://EX.com:80/a#f\">", "<a href=\"//other/x\">",
}

// FuzzAgainstReference holds HTML to the x/net/html-based reference on
// any input: the same title, text, links and flags.
func FuzzAgainstReference(f *testing.F) {
	for _, c := range cornerCases {
		f.Add([]byte(c), "")
	}
	f.Add([]byte("<meta charset=\"shift_jis\"><p>\x82\xa0</p><a href=\"../../..//\">"), "")
	f.Add([]byte("<p>caf\xe9</p>"), "text/html; charset=latin1")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		samePage(t, "input", body, ct)
	})
}
