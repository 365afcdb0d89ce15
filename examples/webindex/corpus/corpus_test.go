package corpus

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const (
	bundled = "../testdata/sqlite-doc.tar.gz"
	sample  = "../testdata/sqlite-doc-sample.warc.gz"
)

// TestBundledCorpus reads the bundled SQLite documentation: one page per
// *.html member (counted with the tar command), every URL under the base.
func TestBundledCorpus(t *testing.T) {
	if _, err := os.Stat(bundled); err != nil {
		t.Skip("bundled corpus missing:", err)
	}
	out, err := exec.Command("sh", "-c", "tar tzf "+bundled+" | grep -ci '\\.html$'").Output()
	if err != nil {
		t.Skip("tar unavailable:", err)
	}
	want, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || want == 0 {
		t.Fatalf("tar count %q: %v", out, err)
	}
	g := readPath(t, bundled, "sqlite-doc.tar.gz", base)
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(g.pages) != want || len(g.problems) != 0 {
		t.Fatalf("%d pages, %d problems (%v); want %d pages", len(g.pages), len(g.problems), g.kinds(), want)
	}
	seen := map[string]bool{}
	for _, p := range g.pages {
		if !strings.HasPrefix(p.URL, base) || seen[p.URL] || len(p.Body) == 0 || p.Truncated {
			t.Fatalf("page %s (%d bytes, truncated %v, seen %v)", p.URL, len(p.Body), p.Truncated, seen[p.URL])
		}
		seen[p.URL] = true
	}
	for _, u := range []string{base + "lang_select.html", base + "c3ref/open.html", base + "syntax/select-stmt.html"} {
		if !seen[u] {
			t.Errorf("no page %s", u)
		}
	}
}

// TestSampleWARC checks that the WARC sample holds the same pages as the
// archive it was made from: same URLs, same bodies.
func TestSampleWARC(t *testing.T) {
	if _, err := os.Stat(sample); err != nil {
		t.Skip("sample WARC missing:", err)
	}
	w := readPath(t, sample, "sqlite-doc-sample.warc.gz", "")
	if w.err != nil || len(w.problems) != 0 {
		t.Fatalf("%v %+v", w.err, w.problems)
	}
	if len(w.pages) < 60 || len(w.pages) > 100 {
		t.Fatalf("%d pages in the sample", len(w.pages))
	}
	tarPages := map[string][]byte{}
	g := readPath(t, bundled, "sqlite-doc.tar.gz", base)
	if g.err != nil {
		t.Fatal(g.err)
	}
	for _, p := range g.pages {
		tarPages[p.URL] = p.Body
	}
	for _, p := range w.pages {
		body, ok := tarPages[p.URL]
		if !ok {
			t.Errorf("%s (%s) is not in the archive", p.URL, p.Source)
			continue
		}
		if !bytes.Equal(body, p.Body) {
			t.Errorf("%s: body differs from the archive's (%d vs %d bytes)", p.URL, len(p.Body), len(body))
		}
		if !strings.HasPrefix(p.ContentType, "text/html") || !strings.HasPrefix(p.Source, "sqlite-doc-sample.warc.gz@") {
			t.Errorf("%s: ContentType %q Source %q", p.URL, p.ContentType, p.Source)
		}
	}
}
