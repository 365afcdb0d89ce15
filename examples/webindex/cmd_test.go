package webindex_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/superstep/superstep/cli"
	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
	"github.com/superstep/superstep/examples/webindex/tokenize"
)

// testDocs is the corpus of the test index, indexed with stemming and
// stopwords.
var testDocs = []index.Doc{
	{URL: "https://sqlite.org/queryplanner.html", Title: "Query Planning", PageRank: 0.3,
		Text: "The query planner chooses the best algorithm for each SQL statement. Query planning is hard."},
	{URL: "https://sqlite.org/optoverview.html", Title: "The SQLite Query Optimizer Overview", PageRank: 0.2,
		Text: "The query optimizer rewrites queries. Indexes help the optimizer run faster."},
	{URL: "https://sqlite.org/vtab.html", Title: "The Virtual Table Mechanism", PageRank: 0.2,
		Text: "A virtual table is an object that is registered with an open database connection. Virtual tables run queries."},
	{URL: "https://sqlite.org/lang_select.html", Title: "SELECT", PageRank: 0.2,
		Text: "The SELECT statement is used to query the database. Running a SELECT returns rows."},
	{URL: "https://sqlite.org/fts5.html", Title: "FTS5 <Full-Text>\tSearch", PageRank: 0.1,
		Text: "FTS5 is a virtual table module that provides full-text search. Run a query with MATCH."},
}

// buildTestIndex writes testDocs as an index of two partitions (terms before
// "m" in partition 0) with the files and manifest the webindex job writes.
func buildTestIndex(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	analyze := tokenize.New(tokenize.Options{Stem: true, Stopwords: true}).Tokens
	count := tokenize.New(tokenize.Options{}).Tokens
	docs := slices.Clone(testDocs)
	inv := map[string][]postings.Posting{}
	var tokens int64
	for d := range docs {
		n := 0
		count(docs[d].Text, func(string, int) { n++ })
		docs[d].Length = uint32(n)
		tokens += int64(n)
		pos := map[string][]uint32{}
		var order []string
		analyze(docs[d].Text, func(term string, p int) {
			if pos[term] == nil {
				order = append(order, term)
			}
			pos[term] = append(pos[term], uint32(p))
		})
		for _, term := range order {
			inv[term] = append(inv[term], postings.Posting{Doc: uint32(d), Positions: pos[term]})
		}
	}
	terms := slices.Sorted(func(yield func(string) bool) {
		for term := range inv {
			if !yield(term) {
				return
			}
		}
	})
	for part, keep := range []func(string) bool{
		func(s string) bool { return s < "m" },
		func(s string) bool { return s >= "m" },
	} {
		w, err := index.NewTermsWriter(filepath.Join(dir, index.TermsName(part)))
		if err != nil {
			t.Fatal(err)
		}
		for _, term := range terms {
			if keep(term) {
				if err := w.Add(term, inv[term]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := index.WriteDocs(filepath.Join(dir, index.DocsName), docs); err != nil {
		t.Fatal(err)
	}
	m := index.Manifest{
		FormatVersion: index.FormatVersion, Partitions: 2,
		Docs: int64(len(docs)), Tokens: tokens, AvgLen: float64(tokens) / float64(len(docs)),
		Terms: int64(len(terms)), Links: 7,
		Skipped:  map[string]int64{"not-html": 2, "too-large": 1},
		Problems: []string{"site.tar:4096: not HTML"},
		Build: index.BuildParams{Inputs: []string{"site.tar"}, BaseURL: "https://sqlite.org/",
			Stem: true, Stopwords: true, Damping: 0.85, Tol: 1e-9, MaxIter: 50},
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, index.ManifestName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "_SUCCESS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSearchCommand(t *testing.T) {
	dir := buildTestIndex(t)
	cases := []struct {
		args []string
		want string
	}{{
		// Doc 2 has both terms twice, doc 4 once each.
		args: []string{"virtual", "table"},
		want: `2 results for "virtual table":
1. The Virtual Table Mechanism  (score 4.3670)
   https://sqlite.org/vtab.html
   A [virtual] [table] is an object that is registered with an open database connection. [Virtual] [tables] run queries.
2. FTS5 <Full-Text> Search  (score 2.7729)
   https://sqlite.org/fts5.html
   FTS5 is a [virtual] [table] module that provides full-text search. Run a query with MATCH.
`,
	}, {
		// Stemmed: "running" finds run, Run and Running; paging by k and
		// offset; a snippet of 5 words centred on the match (words 7-11).
		args: []string{"--k", "2", "--offset", "1", "--snippet-words", "5", "running"},
		want: `4 results for "running", 2 to 3:
2. SELECT  (score 0.6408)
   https://sqlite.org/lang_select.html
   … the database. [Running] a SELECT …
3. The Virtual Table Mechanism  (score 0.6109)
   https://sqlite.org/vtab.html
   … connection. Virtual tables [run] queries.
`,
	}, {
		// Doc 0 matches the phrase, doc 1 the other alternative; every
		// query term a matching document has counts towards its score and
		// is marked.
		args: []string{`"query planner"`, "OR", "optimizer"},
		want: `2 results for "\"query planner\" OR optimizer":
1. The SQLite Query Optimizer Overview  (score 4.0033)
   https://sqlite.org/optoverview.html
   The [query] [optimizer] rewrites [queries]. Indexes help the [optimizer] run faster.
2. Query Planning  (score 2.0430)
   https://sqlite.org/queryplanner.html
   The [query] [planner] chooses the best algorithm for each SQL statement. [Query] planning is hard.
`,
	}, {
		args: []string{"nothing"},
		want: "no results for \"nothing\"\n",
	}}
	for _, tc := range cases {
		out, stderr, err := run(t, append([]string{"search", "--index", dir}, tc.args...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, stderr)
		}
		if out != tc.want {
			t.Errorf("%v:\ngot:\n%s\nwant:\n%s", tc.args, out, tc.want)
		}
	}
}

func TestSearchJSON(t *testing.T) {
	dir := buildTestIndex(t)
	out, _, err := run(t, "search", "--index", dir, "--json", "virtual table")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Query  string   `json:"query"`
		Terms  []string `json:"terms"`
		Total  int      `json:"total"`
		Offset int      `json:"offset"`
		K      int      `json:"k"`
		Hits   []struct {
			Rank     int     `json:"rank"`
			Doc      int     `json:"doc"`
			URL      string  `json:"url"`
			Title    string  `json:"title"`
			Score    float64 `json:"score"`
			PageRank float64 `json:"pagerank"`
			Snippet  []struct {
				Text  string `json:"text"`
				Match bool   `json:"match"`
			} `json:"snippet"`
		} `json:"hits"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Query != "virtual table" || !slices.Equal(res.Terms, []string{"virtual", "tabl"}) || res.Total != 2 ||
		res.Offset != 0 || res.K != 10 || len(res.Hits) != 2 {
		t.Fatalf("results: %+v", res)
	}
	h := res.Hits[0]
	if h.Rank != 1 || h.Doc != 2 || h.URL != "https://sqlite.org/vtab.html" || h.Title != "The Virtual Table Mechanism" || h.PageRank != 0.2 {
		t.Fatalf("hit 1: %+v", h)
	}
	// By hand: N = 5, both terms in 2 documents, each twice in doc 2 of 18
	// tokens; 74 tokens in all; PageRank 0.2.
	idf := math.Log(1 + (5-2+0.5)/(2+0.5))
	bm25 := idf * 2 * 2.2 / (2 + 1.2*(1-0.75+0.75*18/(74.0/5)))
	// Both terms are in the title: 2 × TitleWeight (1) × idf; prior weight 0.5.
	if want := 2*bm25 + 2*idf + 0.5*math.Log(1+5*0.2); math.Abs(h.Score-want) > 1e-12 {
		t.Fatalf("score %v, want %v", h.Score, want)
	}
	var marked []string
	for _, f := range h.Snippet {
		if f.Match {
			marked = append(marked, f.Text)
		}
	}
	if !slices.Equal(marked, []string{"virtual", "table", "Virtual", "tables"}) {
		t.Fatalf("marked %q", marked)
	}
	if res.Hits[1].Doc != 4 || res.Hits[1].Title != "FTS5 <Full-Text>\tSearch" {
		t.Fatalf("hit 2: %+v", res.Hits[1])
	}
}

func TestSearchErrors(t *testing.T) {
	dir := buildTestIndex(t)
	empty := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"search", "--index", empty, "sqlite"}, empty + " is not an index: no manifest.json"},
		{[]string{"search", "--index", filepath.Join(empty, "missing"), "sqlite"}, filepath.Join(empty, "missing") + " is not an index: no manifest.json"},
		{[]string{"search", "--index", dir}, "empty query: give the words to search for"},
		{[]string{"search", "--index", dir, " "}, "empty query: give the words to search for"},
		{[]string{"search", "--index", dir, "the", "of"}, `empty query: "the of" has no searchable words`},
		{[]string{"search", "sqlite"}, "--index DIR is required"},
		{[]string{"search", "--index", dir, "--k", "0", "sqlite"}, "k = 0: want 1 to 1000"},
		{[]string{"index", "stats", "--index", empty}, empty + " is not an index: no manifest.json"},
		{[]string{"index", "term", "--index", dir, "the"}, `"the" has no index term (a stopword or punctuation)`},
		{[]string{"index", "term", "--index", dir, "query-planner"}, `"query-planner" is 2 terms (queri planner): give one`},
	}
	for _, tc := range cases {
		_, _, err := run(t, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: got error %v, want %q", tc.args, err, tc.want)
		}
	}
	// A damaged manifest is reported as such, not as a missing index.
	os.WriteFile(filepath.Join(empty, "manifest.json"), []byte("{"), 0o644)
	if _, _, err := run(t, "search", "--index", empty, "x"); err == nil || !errors.Is(err, index.ErrCorrupt) {
		t.Errorf("damaged manifest: %v", err)
	}
}

func TestIndexStats(t *testing.T) {
	dir := buildTestIndex(t)
	out, _, err := run(t, "index", "stats", "--index", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"index                 " + dir + "\n",
		"format version        2\n", "partitions            2\n", "documents             5\n",
		"tokens                74\n", "avg length            14.80\n", "terms                 33\n",
		"links                 7\n", "skipped               not-html 2, too-large 1\n",
		"problem               site.tar:4096: not HTML\n", "inputs                site.tar\n",
		"base url              https://sqlite.org/\n", "analyzer              stem=true stopwords=true\n",
		"pagerank              damping=0.85 tol=1e-09 max_iter=50\n",
		"file _SUCCESS         0 B\n", "file terms-00001.idx  ", "total size            1.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stats lack %q:\n%s", want, out)
		}
	}
	out, _, err = run(t, "index", "stats", "--index", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Dir      string         `json:"dir"`
		Manifest index.Manifest `json:"manifest"`
		Files    []struct {
			Name  string `json:"name"`
			Bytes int64  `json:"bytes"`
		} `json:"files"`
		TotalBytes int64 `json:"total_bytes"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	var names []string
	var sum int64
	for _, f := range st.Files {
		names = append(names, f.Name)
		info, err := os.Stat(filepath.Join(dir, f.Name))
		if err != nil || info.Size() != f.Bytes {
			t.Errorf("%s: %d bytes, stat says %v %v", f.Name, f.Bytes, info.Size(), err)
		}
		sum += f.Bytes
	}
	if !slices.Equal(names, []string{"_SUCCESS", "docs.idx", "manifest.json", "terms-00000.idx", "terms-00001.idx"}) ||
		sum != st.TotalBytes || st.Dir != dir || st.Manifest.Docs != 5 || st.Manifest.Terms != 33 || !st.Manifest.Build.Stem {
		t.Fatalf("stats: %+v", st)
	}
}

func TestIndexDocs(t *testing.T) {
	dir := buildTestIndex(t)
	out, _, err := run(t, "index", "docs", "--index", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "0\thttps://sqlite.org/queryplanner.html\tQuery Planning\t15\t0.3\n" +
		"1\thttps://sqlite.org/optoverview.html\tThe SQLite Query Optimizer Overview\t11\t0.2\n" +
		"2\thttps://sqlite.org/vtab.html\tThe Virtual Table Mechanism\t18\t0.2\n" +
		"3\thttps://sqlite.org/lang_select.html\tSELECT\t14\t0.2\n" +
		"4\thttps://sqlite.org/fts5.html\tFTS5 <Full-Text>\\tSearch\t16\t0.1\n"
	if out != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out, want)
	}
	out, _, err = run(t, "index", "docs", "--index", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || lines[4] != `{"doc":4,"url":"https://sqlite.org/fts5.html","title":"FTS5 \u003cFull-Text\u003e\tSearch","length":16,"pagerank":0.1}` {
		t.Fatalf("JSON lines:\n%s", out)
	}
}

func TestIndexTerm(t *testing.T) {
	dir := buildTestIndex(t)
	out, _, err := run(t, "index", "term", "--index", dir, "Running")
	if err != nil {
		t.Fatal(err)
	}
	want := `term       run (from "Running")
partition  1
df         4
DOC  TF  POSITIONS  URL
1    1   9          https://sqlite.org/optoverview.html
2    1   16         https://sqlite.org/vtab.html
3    1   9          https://sqlite.org/lang_select.html
4    1   11         https://sqlite.org/fts5.html
`
	if out != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out, want)
	}
	out, _, err = run(t, "index", "term", "--index", dir, "--json", "--limit", "1", "query")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Word, Term string
		Partition  int
		DF         int
		Postings   []struct {
			Doc       int      `json:"doc"`
			URL       string   `json:"url"`
			TF        int      `json:"tf"`
			Positions []uint32 `json:"positions"`
		}
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	// "query" is words 1 and 11 of doc 0 ("… statement. Query planning").
	if info.Word != "query" || info.Term != "queri" || info.Partition != 1 || info.DF != 5 || len(info.Postings) != 1 ||
		info.Postings[0].Doc != 0 || info.Postings[0].TF != 2 || !slices.Equal(info.Postings[0].Positions, []uint32{1, 11}) {
		t.Fatalf("term: %s", out)
	}
	out, _, err = run(t, "index", "term", "--index", dir, "zebra")
	if err != nil || out != "term  zebra\ndf    0 (in no document)\n" {
		t.Fatalf("absent term: %v %q", err, out)
	}
}

// run runs the command line (with webindex's commands registered) in
// process.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	root := cli.NewRoot(&o, &e)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return o.String(), e.String(), err
}
