package extract

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const corpus = "../testdata/sqlite-doc.tar.gz"

type file struct {
	name string
	body []byte
}

func readCorpus(tb testing.TB) []file {
	tb.Helper()
	f, err := os.Open(corpus)
	if err != nil {
		tb.Skip("bundled corpus missing:", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []file
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		if !strings.HasSuffix(h.Name, ".html") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, file{name: h.Name, body: b})
	}
}

// TestBundledCorpus extracts every page of the SQLite documentation: the
// page count matches `tar -tzf | grep -c .html`, every page has a title, and
// links between pages resolve to pages of the corpus (a spot check of the
// resolver against the real link structure).
func TestBundledCorpus(t *testing.T) {
	files := readCorpus(t)
	out, err := exec.Command("sh", "-c", "tar -tzf "+corpus+" | grep -c '\\.html$'").Output()
	if err == nil && strings.TrimSpace(string(out)) != itoa(len(files)) {
		t.Fatalf("read %d pages, tar lists %s", len(files), out)
	}
	pages := map[string]bool{}
	for _, f := range files {
		pages["https://sqlite.example/"+f.name] = true
	}
	internal, titled := 0, 0
	for _, f := range files {
		p, err := HTML("https://sqlite.example/"+f.name, f.body, "")
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "" {
			titled++
		}
		for _, l := range p.Links {
			u := l
			if i := strings.IndexByte(u, '?'); i >= 0 {
				u = u[:i]
			}
			if pages[u] {
				internal++
			}
		}
	}
	t.Logf("%d pages, %d with a title, %d links to pages of the corpus", len(files), titled, internal)
	if titled < len(files)*9/10 || internal < len(files)*5 {
		t.Fatalf("too few titles (%d) or internal links (%d) for %d pages", titled, internal, len(files))
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func BenchmarkExtractCorpus(b *testing.B) { benchmarkCorpus(b, HTML) }

// BenchmarkReferenceExtractCorpus is BenchmarkExtractCorpus with the
// x/net/html-based reference extractor, for comparison.
func BenchmarkReferenceExtractCorpus(b *testing.B) { benchmarkCorpus(b, referenceHTML) }

// benchmarkCorpus extracts every page of the corpus with extract, its
// bytes the benchmark's throughput.
func benchmarkCorpus(b *testing.B, extract func(pageURL string, body []byte, contentType string) (*Page, error)) {
	files := readCorpus(b)
	var total int64
	for _, f := range files {
		total += int64(len(f.body))
	}
	b.SetBytes(total)
	for b.Loop() {
		for _, f := range files {
			if _, err := extract("https://sqlite.example/"+f.name, f.body, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
}
