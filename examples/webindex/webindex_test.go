package webindex_test

import (
	"bytes"
	"context"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/webindex"
	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/search"
	"github.com/superstep/superstep/examples/webindex/tokenize"
)

const (
	corpusPath = "testdata/sqlite-doc.tar.gz"
	baseURL    = "https://sqlite.org/"
)

// buildIndex runs the job in-process with the given slots and returns the
// index directory.
func buildIndex(t *testing.T, slots int, extra ...string) string {
	t.Helper()
	cfg := local.DefaultConfig()
	cfg.Slots = slots
	dir, _ := buildIndexWith(t, cfg, extra...)
	return dir
}

// buildIndexWith runs the job in-process with cfg and returns the index
// directory and the job's result.
func buildIndexWith(t *testing.T, cfg local.Config, extra ...string) (string, *bsp.Result) {
	t.Helper()
	cfg.WorkDir = t.TempDir()
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "index")
	flags := append([]string{"--input", corpusPath, "--out", out, "--base-url", baseURL, "--tol", "1e-12", "--max-iter", "500"}, extra...)
	res, err := ex.RunJob(context.Background(), webindex.Job, flags, 4)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

type refPage struct {
	rank  float64
	links []string
}

// reference runs the independent link-graph and PageRank computation
// (Python's html.parser and networkx).
func reference(t *testing.T) map[string]refPage {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import networkx").Run(); err != nil {
		t.Skipf("networkx is not installed (apt-get install python3-networkx): %v", err)
	}
	out, err := exec.Command("/usr/bin/python3", "testdata/linkgraph_ref.py", corpusPath, baseURL).Output()
	if err != nil {
		t.Fatalf("linkgraph_ref.py: %v", err)
	}
	ref := map[string]refPage{}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		r, _ := strconv.ParseFloat(f[1], 64)
		ref[f[0]] = refPage{rank: r, links: strings.Fields(f[2])}
	}
	return ref
}

// TestBundledCorpusAgainstReference checks the index of the SQLite
// documentation against an independent computation: the documents, every
// document's links within the corpus, PageRank (networkx, 1e-9) and the
// document frequencies of sampled terms (an independent tokenizer over
// the stored text).
func TestBundledCorpusAgainstReference(t *testing.T) {
	ref := reference(t)
	dir := buildIndex(t, 2)
	ix, err := index.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.Docs.Len() != len(ref) {
		t.Fatalf("%d documents, the reference has %d", ix.Docs.Len(), len(ref))
	}
	var links int
	worst := 0.0
	for i := range ix.Docs.Len() {
		d, err := ix.Docs.Doc(i)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := ref[d.URL]
		if !ok {
			t.Fatalf("document %d %s is not in the reference", i, d.URL)
		}
		worst = max(worst, math.Abs(d.PageRank-r.rank))
		links += len(r.links)
	}
	if worst > 1e-9 {
		t.Fatalf("largest PageRank difference from networkx %g", worst)
	}
	if int64(links) != ix.Manifest.Links {
		t.Fatalf("the index has %d links, the reference %d", ix.Manifest.Links, links)
	}
	t.Logf("%d documents, %d links, largest PageRank difference %.2g", ix.Docs.Len(), links, worst)

}

// wordRE is an independent implementation, for the tests, of the word
// rules the tokenizer documents: runs of letters and digits (marks continue
// a word), joined across an apostrophe between letters and a period between
// digits.
var wordRE = regexp.MustCompile(`[\p{L}\p{N}][\p{L}\p{N}\p{M}]*(?:(?:['’]\p{L}[\p{L}\p{N}\p{M}]*)|(?:\.\p{N}[\p{L}\p{N}\p{M}]*))*`)

// TestDocumentFrequencies builds the index without stemming or stopwords
// and compares the document frequencies of sampled terms with a count by
// an independent tokenizer over the stored title and text.
func TestDocumentFrequencies(t *testing.T) {
	dir := buildIndex(t, 2, "--no-stem", "--no-stopwords")
	ix, err := index.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	df := map[string]int{}
	for i := range ix.Docs.Len() {
		d, _ := ix.Docs.Doc(i)
		seen := map[string]bool{}
		for _, w := range wordRE.FindAllString(d.Title+"\n"+d.Text, -1) {
			seen[strings.ToLower(w)] = true
		}
		for w := range seen {
			df[w]++
		}
	}
	// Every 97th term of the dictionary made of at least four ASCII letters.
	var sample []string
	n := 0
	for _, tf := range ix.Terms {
		err := tf.Each(func(e index.Entry) bool {
			if len(e.Term) >= 4 && strings.Trim(e.Term, "abcdefghijklmnopqrstuvwxyz") == "" {
				if n++; n%97 == 0 {
					sample = append(sample, e.Term)
				}
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(sample) < 20 {
		t.Fatalf("only %d sampled terms", len(sample))
	}
	for _, w := range sample {
		got, ok, err := lookup(ix, w)
		if err != nil || !ok {
			t.Fatalf("term %q: %v %v", w, ok, err)
		}
		if got != df[w] {
			t.Errorf("term %q: document frequency %d, independent count %d", w, got, df[w])
		}
	}
	t.Logf("%d sampled terms compared", len(sample))
}

// TestDocumentLengths builds the index without stemming or stopwords and
// checks each document's length (now counted in the one tokenization
// that feeds the postings) against a count of its words by wordRE, for
// every document whose title and text are ASCII; the lengths must also
// add up to the manifest's token count.
func TestDocumentLengths(t *testing.T) {
	dir := buildIndex(t, 2, "--no-stem", "--no-stopwords")
	ix, err := index.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	checked, sum := 0, int64(0)
	for i := range ix.Docs.Len() {
		d, err := ix.Docs.Doc(i)
		if err != nil {
			t.Fatal(err)
		}
		sum += int64(d.Length)
		text := d.Title + "\n" + d.Text
		if strings.IndexFunc(text, func(r rune) bool { return r >= 0x80 }) >= 0 {
			continue
		}
		want := 0
		for _, w := range wordRE.FindAllString(text, -1) {
			if len(w) <= tokenize.MaxTermBytes {
				want++
			}
		}
		if int(d.Length) != want {
			t.Fatalf("%s: length %d, %d words", d.URL, d.Length, want)
		}
		checked++
	}
	if checked < ix.Docs.Len()*3/4 {
		t.Fatalf("only %d of %d documents are ASCII", checked, ix.Docs.Len())
	}
	if sum != ix.Manifest.Tokens {
		t.Fatalf("lengths add up to %d, the manifest counts %d tokens", sum, ix.Manifest.Tokens)
	}
	t.Logf("%d of %d documents checked, %d tokens", checked, ix.Docs.Len(), sum)
}

func lookup(ix *index.Index, term string) (int, bool, error) {
	for _, tf := range ix.Terms {
		e, ok, err := tf.Lookup(term)
		if err != nil || ok {
			return e.DF, ok, err
		}
	}
	return 0, false, nil
}

// TestIndexBytesIndependentOfSlots builds the index with 1, 2 and 4 slots,
// and with a memory budget so small that the map-side combiners spill in
// the middle of documents (a term's postings of one document then reach
// the writer in pieces): every file is byte for byte the same.
func TestIndexBytesIndependentOfSlots(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the index four times")
	}
	builds := []string{"1 slot", "2 slots", "4 slots", "a 1 MiB budget"}
	var first map[string][]byte
	for i, build := range builds {
		cfg := local.DefaultConfig()
		cfg.Slots = []int{1, 2, 4, 2}[i]
		if i == 3 {
			cfg.Memory = 1 << 20
		}
		dir, res := buildIndexWith(t, cfg)
		if i == 3 {
			spills := 0
			for _, st := range res.Stages {
				spills += st.Spills
			}
			if spills == 0 {
				t.Fatal("a 1 MiB budget: no task spilled")
			}
			t.Logf("a 1 MiB budget: %d spills", spills)
		}
		files := map[string][]byte{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
		if first == nil {
			first = files
			continue
		}
		if len(files) != len(first) {
			t.Fatalf("%s: %d files, %d with 1 slot", build, len(files), len(first))
		}
		for name, b := range first {
			if !bytes.Equal(files[name], b) {
				t.Fatalf("%s: %s differs from the 1-slot build", build, name)
			}
		}
	}
}

// TestSearchFixedQueries runs fixed queries on the bundled corpus's index.
func TestSearchFixedQueries(t *testing.T) {
	dir := buildIndex(t, 2)
	ix, err := index.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	names := []string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"_SUCCESS", "docs.idx", "manifest.json", "terms-00000.idx", "terms-00001.idx", "terms-00002.idx", "terms-00003.idx"}
	if !slices.Equal(names, want) {
		t.Fatalf("index files %v, want %v", names, want)
	}
	tok := tokenize.New(tokenize.Options{Stem: true, Stopwords: true})
	c := &search.Corpus{Terms: ix.Terms, Docs: ix.Docs, AvgLen: ix.Manifest.AvgLen, Analyze: tok.Tokens}
	for _, tc := range []struct {
		query, top string
	}{
		{"create table", "https://sqlite.org/lang_createtable.html"},
		{`"write-ahead logging"`, "https://sqlite.org/wal.html"},
		{"vacuum", "https://sqlite.org/lang_vacuum.html"},
	} {
		hits, total, err := c.Search(search.Parse(tc.query, tok.Tokens), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 {
			t.Fatalf("%q: no hits", tc.query)
		}
		var urls []string
		for _, h := range hits {
			d, _ := ix.Docs.Doc(h.Doc)
			urls = append(urls, d.URL)
		}
		t.Logf("%q: %d matches, top %v", tc.query, total, urls[:min(3, len(urls))])
		if !slices.Contains(urls[:min(3, len(urls))], tc.top) {
			t.Fatalf("%q: %s is not in the top 3: %v", tc.query, tc.top, urls)
		}
	}
}

// TestBadInputIsCountedNotFatal builds an index from a directory of bad
// input next to good pages: the build succeeds, the good pages are
// indexed, an oversized page is truncated, and every problem is counted in
// the manifest and named with its file.
func TestBadInputIsCountedNotFatal(t *testing.T) {
	in := t.TempDir()
	write := func(name string, b []byte) {
		p := filepath.Join(in, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good.html", []byte(`<title>Good</title><p>a good page about zebras <a href="docs/other.html">other</a> <a href="missing.html">broken</a>`))
	write("docs/other.html", []byte(`<html><head><meta charset="x-no-such-charset"><title>Other</title></head><body>zebras again</body></html>`))
	write("latin1.html", []byte("<title>Caf\xe9</title><p>invalid UTF-8 \xff\xfe zebras"))
	write("noindex.html", []byte(`<meta name="robots" content="noindex"><p>zebras secret`))
	write("image.png", []byte("\x89PNG\r\n\x1a\n"))
	write("empty.html", nil)
	write("crawl.warc.gz", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x0b\x77\x0c")) // a truncated gzip stream
	big := append([]byte("<title>Big</title><p>zebras "), bytes.Repeat([]byte("lorem ipsum "), 11<<20/12)...)
	write("big.html", big)

	ix, urls := indexDir(t, in)
	defer ix.Close()
	want := []string{"https://example.org/big.html", "https://example.org/docs/other.html", "https://example.org/good.html", "https://example.org/latin1.html"}
	if !slices.Equal(urls, want) {
		t.Fatalf("documents %v, want %v", urls, want)
	}
	if ix.Manifest.Links != 1 {
		t.Fatalf("%d links, want 1 (good → other; the broken link is not an edge)", ix.Manifest.Links)
	}
	for kind, n := range map[string]int64{"not-html": 1, "empty": 1, "noindex": 1, "too-large": 1, "corrupt-gzip": 1} {
		if ix.Manifest.Skipped[kind] != n {
			t.Errorf("skipped %s: %d, want %d (all: %v)", kind, ix.Manifest.Skipped[kind], n, ix.Manifest.Skipped)
		}
	}
	problems := strings.Join(ix.Manifest.Problems, "\n")
	for _, f := range []string{"image.png", "empty.html", "noindex.html", "big.html", "crawl.warc.gz"} {
		if !strings.Contains(problems, f) {
			t.Errorf("no problem names %s:\n%s", f, problems)
		}
	}
	if df, _, _ := lookup(ix, "zebra"); df != 4 {
		t.Fatalf("zebras in %d documents, want 4", df)
	}
}

// TestNoSilentLoss indexes a tree of pages whose names the generic sources
// would hide, next to links and files that are not pages: every page is a
// document, every other entry is counted in the manifest with its reason.
func TestNoSilentLoss(t *testing.T) {
	in := t.TempDir()
	write := func(name string, b []byte) {
		p := filepath.Join(in, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	page := func(title string) []byte {
		return []byte("<html><title>" + title + "</title><p>zebras " + title + "</p></html>")
	}
	write("_x.html", page("underscore"))
	write(".y.html", page("dot"))
	write("a b.html", page("space"))
	write("_sub/.z.html", page("nested"))
	write("index", page("noext")) // no extension, sniffed as HTML
	write("style.css", []byte("body { color: red }\n"))
	junk := make([]byte, 200<<10)
	for i := range junk {
		junk[i] = byte(i*7919 + i*i*31 + 3) // deterministic, with NULs
	}
	write("x.html", junk)
	for _, l := range [][2]string{{"_x.html", "link.html"}, {".", "_sub/loop"}, {"nowhere", "dead.html"}} {
		if err := os.Symlink(l[0], filepath.Join(in, l[1])); err != nil {
			t.Fatal(err)
		}
	}

	ix, urls := indexDir(t, in)
	defer ix.Close()
	want := []string{"https://example.org/.y.html", "https://example.org/_sub/.z.html", "https://example.org/_x.html",
		"https://example.org/a%20b.html", "https://example.org/index", "https://example.org/link.html"}
	if !slices.Equal(urls, want) {
		t.Fatalf("documents\n %q\nwant\n %q", urls, want)
	}
	wantSkipped := map[string]int64{"not-html": 2, "symlink-loop": 1, "broken-symlink": 1}
	if !maps.Equal(ix.Manifest.Skipped, wantSkipped) {
		t.Fatalf("skipped %v, want %v\n%s", ix.Manifest.Skipped, wantSkipped, strings.Join(ix.Manifest.Problems, "\n"))
	}
	problems := strings.Join(ix.Manifest.Problems, "\n")
	for _, f := range []string{"x.html: not-html: binary content", "style.css: not-html", "_sub/loop: symlink-loop", "dead.html: broken-symlink"} {
		if !strings.Contains(problems, f) {
			t.Errorf("no problem %q:\n%s", f, problems)
		}
	}
}

// indexDir builds the index of directory in (base URL https://example.org/,
// 2 slots) and returns it, open, with its documents' URLs in ID order.
func indexDir(t *testing.T, in string) (*index.Index, []string) {
	t.Helper()
	cfg := local.DefaultConfig()
	cfg.WorkDir = t.TempDir()
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "index")
	if _, err := ex.RunJob(context.Background(), webindex.Job, []string{"--input", in, "--out", out, "--base-url", "https://example.org/"}, 2); err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for i := range ix.Docs.Len() {
		d, _ := ix.Docs.Doc(i)
		urls = append(urls, d.URL)
	}
	return ix, urls
}
