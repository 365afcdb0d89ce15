// Package webindex is the flagship job: it builds a search index of a web
// crawl.
//
//	superstep run webindex --input PATH... --out INDEX [--base-url URL] [--overwrite]
//
// PATH may be a directory tree of HTML files (a page's URL is --base-url
// joined with its path below PATH), .tar.gz archives of such trees, or
// WARC / WARC.gz files (their HTML response records). The job
//
//  1. reads and parses every page (title, visible text, links; pages
//     marked noindex are skipped), keeping the first page of each URL;
//  2. numbers the documents in URL order;
//  3. builds the link graph (one edge per distinct pair of pages of the
//     corpus, without self-links) and ranks it with PageRank (a Pregel
//     iteration, networkx semantics);
//  4. tokenizes title and text once (Unicode segmentation, case folding,
//     stopwords, Snowball stemming) and inverts them: a shuffle by term,
//     combined on the map side, builds each term's posting list as
//     columns (documents, term frequencies, positions); the documents'
//     lengths travel in the same shuffle;
//  5. writes the index directory (see examples/webindex/index and
//     docs/index-format.md): the document table, one terms file per
//     partition and a manifest, all appearing at once when the job commits.
//
// The package also owns the commands that read an index — `superstep
// search`, `superstep serve` (the search page and JSON API, newSearchHandler)
// and `superstep index stats|docs|term` — registered with
// cli.RegisterCommand, so a binary that links the job in has them.
//
// Bad input (non-HTML files, corrupt archives or records, oversized pages)
// is skipped or truncated and counted in the manifest, with the first
// problems named by file and offset; the build never fails on one page.
package webindex

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/examples/graph"
	"github.com/superstep/superstep/examples/webindex/corpus"
	"github.com/superstep/superstep/examples/webindex/extract"
	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
	"github.com/superstep/superstep/examples/webindex/tokenize"
)

// Job is the registered webindex job.
var Job = bsp.Register("webindex", build,
	bsp.WithDescription("build a search index of HTML pages (directories, .tar.gz, WARC); query it with `superstep search`"),
	bsp.WithFlags(func(fs *pflag.FlagSet) {
		fs.StringSlice("input", nil, "HTML directories, .tar.gz archives or WARC(.gz) files (required); every file below a directory is read whatever its name (files that are not HTML by name or content are counted as not-html), symbolic links are followed, loops and broken links counted in the manifest")
		fs.String("out", "", "index directory to create (required)")
		fs.String("base-url", "https://example.org/", "URL of the root of directory and archive inputs")
		fs.Bool("overwrite", false, "replace the index if it exists")
		fs.Bool("no-stem", false, "do not stem terms")
		fs.Bool("no-stopwords", false, "keep stopwords")
		fs.Float64("damping", 0.85, "PageRank damping factor")
		fs.Float64("tol", 1e-10, "PageRank convergence tolerance (networkx's: L1 change below N*tol)")
		fs.Int("max-iter", 100, "PageRank iterations at most")
	}))

// maxProblems is how many problems the manifest names (all are counted).
const maxProblems = 100

// item is a parsed page or something skipped.
type item struct {
	URL    string
	Title  string
	Text   string
	Links  []string
	Source string
	// Kind is set when the input was skipped (see corpus.Problem): the
	// item is then a problem, not a page. Truncated pages are pages with
	// Problem set.
	Kind    string
	Problem string
	// File and Seq order pages by input: the input file's path and the
	// page's number in it.
	File string
	Seq  int64
}

// rawPage is a page as read, or a problem (Kind set). A page of an
// archive or WARC file is parsed after the repartition that spreads it
// (Body set); a page that is a file of its own is parsed where it is read,
// as the file splits already spread those, and crosses the shuffle as
// extracted text (Parsed, with Title, Text and Links).
type rawPage struct {
	URL, ContentType string
	Body             []byte
	Truncated        bool
	Source           string
	File             string
	Seq              int64
	Kind, Problem    string
	Parsed           bool
	Title, Text      string
	Links            []string
}

// doc is a numbered page.
type doc struct {
	ID    uint32
	URL   string
	Title string
	Text  string
	Links []string
}

// stat is one contribution to the manifest's statistics.
type stat struct {
	Docs, Tokens, Terms, Links int64
	Skipped                    []kindCount
	Problems                   []string
	// Lengths are the documents' lengths in tokens (Docs and Pos of the
	// lengths list: see lengthsKey).
	Lengths postings.Columns
}

type kindCount struct {
	Kind  string
	Count int64
}

func (a stat) merge(b stat) stat {
	a.Docs += b.Docs
	a.Tokens += b.Tokens
	a.Terms += b.Terms
	a.Links += b.Links
	counts := map[string]int64{}
	for _, k := range append(a.Skipped, b.Skipped...) {
		counts[k.Kind] += k.Count
	}
	a.Skipped = a.Skipped[:0:0]
	for k, n := range counts {
		a.Skipped = append(a.Skipped, kindCount{k, n})
	}
	slices.SortFunc(a.Skipped, func(x, y kindCount) int { return cmp.Compare(x.Kind, y.Kind) })
	a.Lengths.Append(b.Lengths)
	a.Problems = append(slices.Clone(a.Problems), b.Problems...)
	slices.Sort(a.Problems)
	if len(a.Problems) > maxProblems {
		a.Problems = a.Problems[:maxProblems]
	}
	return a
}

// Params are the build parameters of an index.
type Params struct {
	Inputs    []string
	Out       string
	BaseURL   string
	Overwrite bool
	Stem      bool
	Stopwords bool
	PageRank  graph.PageRankConfig
}

func build(p *bsp.Plan, a bsp.Args) error {
	prm := Params{Inputs: a.Strings("input"), Out: a.String("out"), BaseURL: a.String("base-url"),
		Overwrite: a.Bool("overwrite"), Stem: !a.Bool("no-stem"), Stopwords: !a.Bool("no-stopwords"),
		PageRank: graph.PageRankConfig{Damping: a.Float64("damping"), Tol: a.Float64("tol"), MaxIter: a.Int("max-iter"),
			CheckpointEvery: bsp.DefaultCheckpointEvery}}
	switch {
	case len(prm.Inputs) == 0 || prm.Out == "":
		return errors.New("webindex: --input and --out are required")
	case !strings.HasPrefix(prm.BaseURL, "http://") && !strings.HasPrefix(prm.BaseURL, "https://"):
		return fmt.Errorf("webindex: --base-url must be an absolute http(s) URL, got %q", prm.BaseURL)
	case prm.PageRank.Damping < 0 || prm.PageRank.Damping > 1 || prm.PageRank.Tol <= 0 || prm.PageRank.MaxIter < 1:
		return errors.New("webindex: --damping must be in [0,1], --tol positive and --max-iter at least 1")
	}
	Build(p, prm)
	return nil
}

// Build adds the index build to p.
func Build(p *bsp.Plan, prm Params) {
	var opts []bsp.Option
	if prm.Overwrite {
		opts = append(opts, bsp.Overwrite())
	}
	tok := tokenize.New(tokenize.Options{Stem: prm.Stem, Stopwords: prm.Stopwords})
	roots := make([]string, len(prm.Inputs))
	for i, in := range prm.Inputs {
		roots[i] = filepath.Clean(in)
	}

	// Reading an archive is sequential (one task per input file); parsing
	// is spread over the partitions.
	// Every entry below the inputs is read or counted: AllFiles hides no
	// name ("_Exit.html" is a page) and follows links with loop detection.
	raw := bsp.FlatMap(bsp.AllFiles(p, prm.Inputs...), func(e bsp.FileEntry, emit func(rawPage)) {
		rel := relPath(e.Path, roots)
		if e.Skipped != "" {
			emit(rawPage{Source: rel, File: e.Path, Kind: e.Skipped, Problem: skipDetail[e.Skipped]})
			return
		}
		if corpus.IsArchive(e.Path) {
			readInput(e.Path, rel, prm.BaseURL, emit)
			return
		}
		readInput(e.Path, rel, prm.BaseURL, func(pg rawPage) {
			parsePage(pg, func(it item) {
				emit(rawPage{URL: it.URL, Source: it.Source, File: it.File, Seq: it.Seq, Kind: it.Kind, Problem: it.Problem,
					Parsed: true, Title: it.Title, Text: it.Text, Links: it.Links})
			})
		})
	})
	items := bsp.FlatMap(bsp.Repartition(raw, p.DefaultPartitions()), parsePage)
	// Keep the first page of every URL, in input order (input file, then
	// position in it); later ones are duplicates.
	firsts := bsp.FlatMapGroups(bsp.Map(items, func(it item) bsp.KV[string, item] { return bsp.KV[string, item]{Key: it.URL, Value: it} }),
		func(url string, its iter.Seq[item], emit func(item)) {
			var first *item
			for it := range its {
				switch {
				case it.Kind != "" && it.Kind != "too-large":
					emit(it)
				case first == nil:
					first = &it
				case it.File < first.File || it.File == first.File && it.Seq < first.Seq:
					emit(item{URL: url, Source: first.Source, Kind: "duplicate-url", Problem: "another page has the URL " + url})
					first = &it
				default:
					emit(item{URL: url, Source: it.Source, Kind: "duplicate-url", Problem: "another page has the URL " + url})
				}
			}
			if first != nil {
				emit(*first)
			}
		})
	pages := bsp.Filter(firsts, func(it item) bool { return it.Kind == "" || it.Kind == "too-large" })
	problems := bsp.Filter(firsts, func(it item) bool { return it.Kind != "" })

	// Number the documents in URL order.
	urls := bsp.SortBy(bsp.Map(pages, func(it item) string { return it.URL }), func(u string) string { return u }, bsp.Partitions(1))
	ids := bsp.MapPartitions(urls, func(_ int, in []string, emit func(bsp.KV[string, uint32])) {
		for i, u := range in {
			emit(bsp.KV[string, uint32]{Key: u, Value: uint32(i)})
		}
	})
	docs := bsp.Map(bsp.Join(bsp.Map(pages, func(it item) bsp.KV[string, item] { return bsp.KV[string, item]{Key: it.URL, Value: it} }), ids),
		func(kv bsp.KV[string, bsp.Joined[item, uint32]]) doc {
			it := kv.Value.Left
			return doc{ID: kv.Value.Right, URL: it.URL, Title: it.Title, Text: it.Text, Links: it.Links}
		})

	// The link graph between pages of the corpus, and PageRank over it.
	pairs := bsp.FlatMap(docs, func(d doc, emit func(bsp.KV[string, string])) {
		for _, l := range d.Links {
			if l != d.URL {
				emit(bsp.KV[string, string]{Key: l, Value: d.URL})
			}
		}
	})
	edges := bsp.Distinct(bsp.Map(bsp.Join(pairs, ids), func(kv bsp.KV[string, bsp.Joined[string, uint32]]) bsp.Edge[string, float64] {
		return bsp.Edge[string, float64]{Src: kv.Value.Left, Dst: kv.Key}
	}))
	vertices := bsp.Map(ids, func(kv bsp.KV[string, uint32]) bsp.KV[string, float64] {
		return bsp.KV[string, float64]{Key: kv.Key}
	})
	ranks := graph.PageRank(vertices, edges, prm.PageRank)

	// The inverted index. Each document is tokenized once: every token
	// is one record (term, document, position), combined on the map side
	// into the term's postings as columns (postings.Columns: flat arrays
	// that grow, no allocation per posting or token), and the document's
	// length in tokens rides along under lengthsKey.
	occ := bsp.FlatMap(docs, func(d doc, emit func(bsp.KV[string, token])) {
		n := uint32(0)
		tok.Tokens(indexedText(d), func(term string, p int) {
			emit(bsp.KV[string, token]{Key: term, Value: token{Doc: d.ID, Pos: uint32(p)}})
			n++
		})
		emit(bsp.KV[string, token]{Key: lengthsKey, Value: token{Doc: d.ID, Pos: n}})
	})
	terms := bsp.CombineByKey(occ,
		func(t token) postings.Columns {
			return postings.Columns{Docs: []uint32{t.Doc}, TFs: []uint32{1}, Pos: []uint32{t.Pos}}
		},
		func(c postings.Columns, t token) postings.Columns { c.Add(t.Doc, t.Pos); return c },
		func(a, b postings.Columns) postings.Columns { a.Append(b); return a })
	bsp.WriteBinary(terms, prm.Out, "terms", "idx", writeTerms, opts...)

	// The document table, in ID order, in one file: each document's row
	// (with its PageRank) meets its length from the manifest's statistics
	// in the sort by ID, the length first.
	rows := bsp.Map(bsp.LeftJoin(bsp.Map(docs, func(d doc) bsp.KV[string, doc] {
		d.Links = nil // not needed past here
		return bsp.KV[string, doc]{Key: d.URL, Value: d}
	}), ranks),
		func(kv bsp.KV[string, bsp.LeftJoined[doc, float64]]) docRow {
			d := kv.Value.Left
			return docRow{ID: d.ID, Doc: index.Doc{URL: d.URL, Title: d.Title, PageRank: kv.Value.Right, Text: d.Text}}
		})

	// The manifest.
	// Documents are counted from their IDs, tokens from the postings (every
	// token is one position of one posting): neither re-reads the
	// documents nor tokenizes them again.
	st := bsp.Union([]bsp.Dataset[stat]{
		bsp.Map(ids, func(bsp.KV[string, uint32]) stat { return stat{Docs: 1} }),
		bsp.Map(terms, func(kv bsp.KV[string, postings.Columns]) stat {
			if kv.Key == lengthsKey {
				return stat{Lengths: kv.Value}
			}
			return stat{Terms: 1, Tokens: int64(len(kv.Value.Pos))}
		}),
		bsp.Map(edges, func(bsp.Edge[string, float64]) stat { return stat{Links: 1} }),
		bsp.Map(problems, func(it item) stat {
			return stat{Skipped: []kindCount{{it.Kind, 1}}, Problems: []string{it.Source + ": " + it.Kind + ": " + it.Problem}}
		}),
	})
	total := bsp.ReduceByKey(bsp.Map(st, func(s stat) bsp.KV[int8, stat] { return bsp.KV[int8, stat]{Value: s} }),
		func(a, b stat) stat { return a.merge(b) }, bsp.Partitions(1))
	lengths := bsp.FlatMap(total, func(kv bsp.KV[int8, stat], emit func(docRow)) {
		l := kv.Value.Lengths
		for i, id := range l.Docs {
			emit(docRow{ID: id, LengthOnly: true, Doc: index.Doc{Length: l.Pos[i]}})
		}
	})
	sortedRows := bsp.SortBy(bsp.Union([]bsp.Dataset[docRow]{lengths, rows}),
		rowOrder, bsp.Partitions(1))
	bsp.WriteBinary(sortedRows, prm.Out, "docs", "idx", writeDocs, append(opts, bsp.SingleFile())...)
	bsp.WriteBinary(total, prm.Out, "manifest", "json", func(w io.Writer) (func(bsp.KV[int8, stat]) error, func() error) {
		var got *stat
		return func(kv bsp.KV[int8, stat]) error {
				got = &kv.Value
				return nil
			}, func() error {
				s := stat{}
				if got != nil {
					s = *got
				}
				return writeManifest(w, s, p.DefaultPartitions(), prm)
			}
	}, append(opts, bsp.SingleFile())...)
}

// docRow is a row of the document table with its ID, or (LengthOnly)
// the document's length alone, in Doc.Length.
type docRow struct {
	ID         uint32
	Doc        index.Doc
	LengthOnly bool
}

// token is one token of a document: the document and the position.
type token struct{ Doc, Pos uint32 }

// lengthsKey is the key, in the shuffle by term, of the documents'
// lengths (as a list whose positions are the lengths). No term is empty.
const lengthsKey = ""

// indexedText is what is tokenized of a document: its title, then its text.
func indexedText(d doc) string { return d.Title + "\n" + d.Text }

func writeDocs(w io.Writer) (func(docRow) error, func() error) {
	var (
		docs      []index.Doc
		length    uint32
		lengthFor = -1 // the document whose length came last, until its row
	)
	return func(r docRow) error {
			if r.LengthOnly {
				if lengthFor >= 0 {
					return fmt.Errorf("webindex: a length for document %d, which has no row", lengthFor)
				}
				length, lengthFor = r.Doc.Length, int(r.ID)
				return nil
			}
			if int(r.ID) != len(docs) {
				return fmt.Errorf("webindex: document %d arrived as number %d", r.ID, len(docs))
			}
			if lengthFor != int(r.ID) {
				return fmt.Errorf("webindex: document %d has no length", r.ID)
			}
			r.Doc.Length, lengthFor = length, -1
			docs = append(docs, r.Doc)
			return nil
		}, func() error {
			if lengthFor >= 0 {
				return fmt.Errorf("webindex: a length for document %d, which has no row", lengthFor)
			}
			return index.WriteDocsTo(w, docs)
		}
}

func writeTerms(w io.Writer) (func(bsp.KV[string, postings.Columns]) error, func() error) {
	tw := index.NewTermsWriterTo(w)
	return func(kv bsp.KV[string, postings.Columns]) error {
		if kv.Key == lengthsKey {
			return nil // not a term: the lengths go to the document table
		}
		return tw.AddColumns(kv.Key, kv.Value)
	}, tw.Finish
}

func writeManifest(w io.Writer, s stat, partitions int, prm Params) error {
	m := index.Manifest{FormatVersion: index.FormatVersion, Partitions: partitions, Docs: s.Docs, Tokens: s.Tokens,
		Terms: s.Terms, Links: s.Links, Problems: s.Problems,
		Build: index.BuildParams{Inputs: prm.Inputs, BaseURL: prm.BaseURL, Stem: prm.Stem, Stopwords: prm.Stopwords,
			Damping: prm.PageRank.Damping, Tol: prm.PageRank.Tol, MaxIter: prm.PageRank.MaxIter}}
	if s.Docs > 0 {
		m.AvgLen = float64(s.Tokens) / float64(s.Docs)
	}
	if len(s.Skipped) > 0 {
		m.Skipped = map[string]int64{}
		for _, k := range s.Skipped {
			m.Skipped[k.Kind] = k.Count
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// relPath is path relative to the input root it was listed under.
func relPath(path string, roots []string) string {
	for _, r := range roots {
		if rel, err := filepath.Rel(r, path); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(path)
}

// skipDetail explains the entries of input directories that are not files.
var skipDetail = map[string]string{
	bsp.SkipSymlinkLoop:      "a symbolic link to a directory that contains it (not followed)",
	bsp.SkipSymlinkDuplicate: "a symbolic link to a directory already read through another link (not followed)",
	bsp.SkipBrokenSymlink:    "a symbolic link whose target does not exist",
	bsp.SkipNotRegular:       "not a regular file (socket, FIFO or device)",
	bsp.SkipUnreadable:       "a directory that cannot be listed",
}

// readInput reads the pages of one input file.
func readInput(path, rel, baseURL string, emit func(rawPage)) {
	var seq int64
	err := corpus.ReadFile(path, rel, baseURL, func(pg corpus.Page) error {
		emit(rawPage{URL: pg.URL, ContentType: pg.ContentType, Body: pg.Body, Truncated: pg.Truncated,
			Source: pg.Source, File: path, Seq: seq})
		seq++
		return nil
	}, func(pr corpus.Problem) {
		if pr.Kind == "too-large" {
			return // reported with the truncated page
		}
		emit(rawPage{Source: pr.Source, File: path, Seq: seq, Kind: pr.Kind, Problem: pr.Detail})
		seq++
	})
	if err != nil {
		emit(rawPage{Source: path, File: path, Kind: "unreadable", Problem: err.Error()})
	}
}

// parsePage extracts a page's title, text and links.
func parsePage(pg rawPage, emit func(item)) {
	if pg.Parsed {
		emit(item{URL: pg.URL, Title: pg.Title, Text: pg.Text, Links: pg.Links, Source: pg.Source,
			Kind: pg.Kind, Problem: pg.Problem, File: pg.File, Seq: pg.Seq})
		return
	}
	if pg.Kind != "" {
		emit(item{Source: pg.Source, Kind: pg.Kind, Problem: pg.Problem, File: pg.File, Seq: pg.Seq})
		return
	}
	x, err := extract.HTML(pg.URL, pg.Body, pg.ContentType)
	if err != nil {
		emit(item{URL: pg.URL, Source: pg.Source, Kind: "bad-url", Problem: err.Error(), File: pg.File, Seq: pg.Seq})
		return
	}
	if x.NoIndex {
		emit(item{URL: x.URL, Source: pg.Source, Kind: "noindex", Problem: "the page asks not to be indexed", File: pg.File, Seq: pg.Seq})
		return
	}
	it := item{URL: x.URL, Title: x.Title, Text: x.Text, Links: x.Links, Source: pg.Source, File: pg.File, Seq: pg.Seq}
	if pg.Truncated || x.Truncated {
		it.Kind, it.Problem = "too-large", fmt.Sprintf("truncated to %d bytes", corpus.MaxPageBytes)
	}
	emit(it)
}

// rowOrder sorts the document table by ID, a document's length before
// its row.
func rowOrder(r docRow) uint64 {
	k := uint64(r.ID) << 1
	if !r.LengthOnly {
		k |= 1
	}
	return k
}
