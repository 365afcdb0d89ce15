// Command bleve compares the webindex job with Bleve on the same pages: it
// builds the Superstep index in-process (local executor, 2 slots) and a
// Bleve index of the same extracted pages (title and text, URL as ID,
// English analyzer, batches of 1000), each in a child process of its own
// so that its peak RSS can be read, then runs the same queries on both
// and prints a Markdown table.
//
//	cd bench/bleve && go run . --corpus ../../examples/webindex/testdata/sqlite-doc.tar.gz
//
// It is a module of its own so that the main module does not depend on
// Bleve.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/superstep/superstep/bench/webload"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/webindex"
	"github.com/superstep/superstep/examples/webindex/corpus"
	"github.com/superstep/superstep/examples/webindex/extract"
	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/search"
)

// buildReport is what a build child prints on stdout.
type buildReport struct {
	WallS float64 `json:"wall_s"`
	Docs  int     `json:"docs"`
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "build-superstep" || os.Args[1] == "build-bleve") {
		if err := child(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bleve:", err)
			os.Exit(1)
		}
		return
	}
	corpusPath := flag.String("corpus", "../../"+webload.BundledCorpus, "input of the webindex job (a .tar.gz of HTML pages, a directory, WARC files)")
	baseURL := flag.String("base-url", webload.BundledBaseURL, "base URL of the pages")
	runs := flag.Int("runs", 3, "builds of each system (alternating); the table gives the median and min–max")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bleve: --runs must be at least 1")
		os.Exit(2)
	}
	if err := compare(*corpusPath, *baseURL, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bleve:", err)
		os.Exit(1)
	}
}

// child builds one index and prints a buildReport.
func child(kind string, args []string) error {
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	in := fs.String("corpus", "", "input")
	base := fs.String("base-url", "", "base URL")
	out := fs.String("out", "", "index directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	var docs int
	var err error
	if kind == "build-superstep" {
		docs, err = buildSuperstep(*in, *base, *out)
	} else {
		docs, err = buildBleve(*in, *base, *out)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(buildReport{WallS: time.Since(start).Seconds(), Docs: docs})
}

func buildSuperstep(in, base, out string) (int, error) {
	cfg := local.DefaultConfig()
	cfg.Slots, cfg.WorkDir = 2, out+".work"
	defer os.RemoveAll(cfg.WorkDir)
	ex, err := local.New(cfg)
	if err != nil {
		return 0, err
	}
	if _, err := ex.RunJob(context.Background(), webindex.Job, []string{"--input", in, "--out", out, "--base-url", base}, 4); err != nil {
		return 0, err
	}
	ix, err := index.Open(out)
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	return ix.Docs.Len(), nil
}

// page is what Bleve indexes of a page.
type page struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// buildBleve reads the pages as the job does (corpus reader, extract,
// noindex skipped, first page of a URL kept) and indexes them with Bleve.
func buildBleve(in, base, out string) (int, error) {
	m := bleve.NewIndexMapping()
	m.DefaultAnalyzer = en.AnalyzerName
	idx, err := bleve.New(out, m)
	if err != nil {
		return 0, err
	}
	paths, rels, err := webload.Files([]string{in})
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	b := idx.NewBatch()
	var berr error
	for i, p := range paths {
		err := corpus.ReadFile(p, rels[i], base, func(pg corpus.Page) error {
			x, err := extract.HTML(pg.URL, pg.Body, pg.ContentType)
			if err != nil || x.NoIndex || seen[x.URL] {
				return nil
			}
			seen[x.URL] = true
			if err := b.Index(x.URL, page{Title: x.Title, Text: x.Text}); err != nil {
				return err
			}
			if b.Size() >= 1000 {
				berr = idx.Batch(b)
				b.Reset()
			}
			return berr
		}, func(corpus.Problem) {})
		if err != nil {
			idx.Close()
			return 0, err
		}
	}
	if err := idx.Batch(b); err != nil {
		idx.Close()
		return 0, err
	}
	return len(seen), idx.Close()
}

// side is one system's measured builds.
type side struct {
	name  string
	walls []float64 // one per run, sorted
	rss   []int64   // peak RSS per run, sorted
	cpu   []float64 // user+system CPU seconds per run, sorted
	bytes int64
	docs  int
	lat   webload.Latency
}

func (s side) wall() float64  { return s.walls[len(s.walls)/2] }
func (s side) peakRSS() int64 { return s.rss[len(s.rss)/2] }

func compare(in, base string, runs int) error {
	in, err := filepath.Abs(in)
	if err != nil {
		return err
	}
	size, err := webload.MeasureInput([]string{in}, base)
	if err != nil {
		return err
	}
	htmlFiles, err := webload.HTMLFiles([]string{in})
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "superstep-bleve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ss, bl := side{name: "superstep"}, side{name: "bleve"}
	for run := range runs {
		for _, sd := range []*side{&ss, &bl} {
			out := filepath.Join(tmp, sd.name)
			if err := os.RemoveAll(out); err != nil {
				return err
			}
			cmd := exec.Command(self, "build-"+sd.name, "--corpus", in, "--base-url", base, "--out", out)
			cmd.Stderr = os.Stderr
			stdout, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("%s build %d: %w", sd.name, run+1, err)
			}
			var r buildReport
			if err := json.Unmarshal(stdout, &r); err != nil {
				return fmt.Errorf("%s build: %w", sd.name, err)
			}
			sd.walls, sd.docs = append(sd.walls, r.WallS), r.Docs
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				sd.rss = append(sd.rss, ru.Maxrss*1024)
				sd.cpu = append(sd.cpu, time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds())
			}
			if sd.bytes, err = webload.DirBytes(out); err != nil {
				return err
			}
		}
	}
	for _, sd := range []*side{&ss, &bl} {
		slices.Sort(sd.walls)
		slices.Sort(sd.rss)
		slices.Sort(sd.cpu)
	}
	if ss.docs != bl.docs {
		return fmt.Errorf("superstep indexed %d pages, bleve %d", ss.docs, bl.docs)
	}
	qs, err := queryBoth(filepath.Join(tmp, "superstep"), filepath.Join(tmp, "bleve"), &ss, &bl)
	if err != nil {
		return err
	}
	printTable(size, htmlFiles, runs, qs, ss, bl)
	return nil
}

// queryBoth times the same queries on both indexes: Superstep's Searcher
// (top 10, with snippets) and a Bleve conjunction of match queries (a
// match-phrase query for a phrase) over all fields, top 10.
func queryBoth(ssDir, blDir string, ss, bl *side) (int, error) {
	ix, err := index.Open(ssDir)
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	titles := make([]string, ix.Docs.Len())
	for i := range titles {
		d, err := ix.Docs.Doc(i)
		if err != nil {
			return 0, err
		}
		titles[i] = d.Title
	}
	qs := webload.Queries(titles, webload.Analyzer(search.AnalyzerFor(ix.Manifest)), webload.TermQueries, webload.PhraseQueries, webload.Seed)
	s := search.NewSearcher(ix)
	if ss.lat, err = webload.Measure(qs, func(q string) error {
		_, err := s.Search(q, 10, 0)
		if errors.Is(err, search.ErrEmptyQuery) {
			return nil
		}
		return err
	}); err != nil {
		return 0, err
	}
	bi, err := bleve.Open(blDir)
	if err != nil {
		return 0, err
	}
	defer bi.Close()
	bl.lat, err = webload.Measure(qs, func(q string) error {
		_, err := bi.Search(bleve.NewSearchRequestOptions(bleveQuery(q), 10, 0, false))
		return err
	})
	return len(qs), err
}

func bleveQuery(q string) query.Query {
	if strings.HasPrefix(q, `"`) {
		return bleve.NewMatchPhraseQuery(strings.Trim(q, `"`))
	}
	var terms []query.Query
	for _, w := range strings.Fields(q) {
		terms = append(terms, bleve.NewMatchQuery(w))
	}
	return bleve.NewConjunctionQuery(terms...)
}

func printTable(size webload.Size, htmlFiles, runs, queries int, ss, bl side) {
	mb := func(b int64, s float64) float64 { return float64(b) / (1 << 20) / s }
	fmt.Printf("Corpus: %d HTML files (by name), %d pages indexed, %.1f MiB as stored, %.1f MiB of HTML; %d builds of each (median [min–max]); %d queries.\n\n",
		htmlFiles, ss.docs, float64(size.Compressed)/(1<<20), float64(size.HTML)/(1<<20), runs, queries)
	fmt.Printf("| system | build wall s | CPU s | pages/s | HTML MB/s | peak RSS | index size | query p50 ms | query p99 ms | query max ms |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range []side{ss, bl} {
		fmt.Printf("| %s | %.3f [%.3f–%.3f] | %.2f [%.2f–%.2f] | %.0f | %.1f | %.1f MiB [%.1f–%.1f] | %.1f MiB | %.3f | %.3f | %.3f |\n", s.name,
			s.wall(), s.walls[0], s.walls[len(s.walls)-1], s.cpu[len(s.cpu)/2], s.cpu[0], s.cpu[len(s.cpu)-1],
			float64(s.docs)/s.wall(), mb(size.HTML, s.wall()),
			float64(s.peakRSS())/(1<<20), float64(s.rss[0])/(1<<20), float64(s.rss[len(s.rss)-1])/(1<<20),
			float64(s.bytes)/(1<<20), webload.Ms(s.lat.P50), webload.Ms(s.lat.P99), webload.Ms(s.lat.Max))
	}
	speed := bl.wall() / ss.wall()
	fmt.Printf("\nCPU seconds (less sensitive to a loaded machine than wall time): Bleve/Superstep = %.2f.\n", bl.cpu[len(bl.cpu)/2]/ss.cpu[len(ss.cpu)/2])
	mem := float64(ss.peakRSS()) / float64(bl.peakRSS())
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	fmt.Printf("\nTargets: Superstep builds >= 5x faster than Bleve: %.2fx, %s; peak memory <= 1/3 of Bleve's: %.2f of it, %s; "+
		"documents = HTML files: %d of %d, %s; search p50 <= 0.1 ms: %.3f, %s; p99 <= 0.4 ms: %.3f, %s.\n",
		speed, verdict(speed >= 5), mem, verdict(mem <= 1.0/3), ss.docs, htmlFiles, verdict(ss.docs == htmlFiles),
		webload.Ms(ss.lat.P50), verdict(webload.Ms(ss.lat.P50) <= 0.1), webload.Ms(ss.lat.P99), verdict(webload.Ms(ss.lat.P99) <= 0.4))
}
