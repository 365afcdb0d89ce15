package webindex

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/superstep/superstep/cli"

	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/postings"
	"github.com/superstep/superstep/examples/webindex/search"
)

func newIndexCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "inspect a web index: its statistics, documents and terms",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newIndexStatsCmd(), newIndexDocsCmd(), newIndexTermCmd())
	return cmd
}

// indexStats is the JSON of `index stats`.
type indexStats struct {
	Dir        string         `json:"dir"`
	Manifest   index.Manifest `json:"manifest"`
	Files      []indexFile    `json:"files"`
	TotalBytes int64          `json:"total_bytes"`
}

type indexFile struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

func newIndexStatsCmd() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats --index DIR",
		Short: "print an index's manifest and file sizes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ix, err := openIndex(dir)
			if err != nil {
				return err
			}
			defer ix.Close()
			st := indexStats{Dir: dir, Manifest: ix.Manifest, Files: []indexFile{}}
			ents, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if !e.Type().IsRegular() {
					continue
				}
				info, err := e.Info()
				if err != nil {
					return err
				}
				st.Files = append(st.Files, indexFile{e.Name(), info.Size()})
				st.TotalBytes += info.Size()
			}
			if asJSON {
				return cli.PrintJSON(cmd.OutOrStdout(), st)
			}
			return printStats(cmd.OutOrStdout(), st)
		},
	}
	indexFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStats(w io.Writer, st indexStats) error {
	m := st.Manifest
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "index\t%s\n", st.Dir)
	fmt.Fprintf(tw, "format version\t%d\n", m.FormatVersion)
	fmt.Fprintf(tw, "partitions\t%d\n", m.Partitions)
	fmt.Fprintf(tw, "documents\t%d\n", m.Docs)
	fmt.Fprintf(tw, "tokens\t%d\n", m.Tokens)
	fmt.Fprintf(tw, "avg length\t%.2f\n", m.AvgLen)
	fmt.Fprintf(tw, "terms\t%d\n", m.Terms)
	fmt.Fprintf(tw, "links\t%d\n", m.Links)
	var skipped []string
	for _, reason := range slices.Sorted(maps.Keys(m.Skipped)) {
		skipped = append(skipped, fmt.Sprintf("%s %d", reason, m.Skipped[reason]))
	}
	if len(skipped) == 0 {
		skipped = []string{"none"}
	}
	fmt.Fprintf(tw, "skipped\t%s\n", strings.Join(skipped, ", "))
	for _, p := range m.Problems {
		fmt.Fprintf(tw, "problem\t%s\n", oneLine(p))
	}
	b := m.Build
	fmt.Fprintf(tw, "inputs\t%s\n", strings.Join(b.Inputs, ", "))
	if b.BaseURL != "" {
		fmt.Fprintf(tw, "base url\t%s\n", b.BaseURL)
	}
	fmt.Fprintf(tw, "analyzer\tstem=%t stopwords=%t\n", b.Stem, b.Stopwords)
	fmt.Fprintf(tw, "pagerank\tdamping=%g tol=%g max_iter=%d\n", b.Damping, b.Tol, b.MaxIter)
	for _, f := range st.Files {
		fmt.Fprintf(tw, "file %s\t%s\n", f.Name, cli.FormatBytes(f.Bytes))
	}
	fmt.Fprintf(tw, "total size\t%s\n", cli.FormatBytes(st.TotalBytes))
	return tw.Flush()
}

// docLine is one line of `index docs --json`.
type docLine struct {
	Doc      int     `json:"doc"`
	URL      string  `json:"url"`
	Title    string  `json:"title"`
	Length   uint32  `json:"length"`
	PageRank float64 `json:"pagerank"`
}

func newIndexDocsCmd() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "docs --index DIR",
		Short: "print the document table",
		Long: `Print the document table, one document a line:

  id<TAB>url<TAB>title<TAB>length in tokens<TAB>PageRank

with backslash, tab, newline and carriage return in the URL and title written
as \\, \t, \n and \r. With --json, one JSON object a line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ix, err := openIndex(dir)
			if err != nil {
				return err
			}
			defer ix.Close()
			w := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(w)
			for i := range ix.Docs.Len() {
				d, err := ix.Docs.Doc(i)
				if err != nil {
					return err
				}
				if asJSON {
					if err := enc.Encode(docLine{i, d.URL, d.Title, d.Length, d.PageRank}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\n", i, tsvEscape(d.URL), tsvEscape(d.Title), d.Length,
					strconv.FormatFloat(d.PageRank, 'g', -1, 64))
			}
			return w.Flush()
		},
	}
	indexFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	return cmd
}

var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func tsvEscape(s string) string { return tsvEscaper.Replace(s) }

// termInfo is the JSON of `index term`.
type termInfo struct {
	Word      string        `json:"word"` // as given
	Term      string        `json:"term"` // analyzed
	Partition int           `json:"partition"`
	DF        int           `json:"df"`
	Postings  []termPosting `json:"postings"`
}

type termPosting struct {
	Doc       int      `json:"doc"`
	URL       string   `json:"url"`
	TF        int      `json:"tf"`
	Positions []uint32 `json:"positions"`
}

func newIndexTermCmd() *cobra.Command {
	var dir string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "term --index DIR WORD",
		Short: "print a term's document frequency and postings",
		Long: `Analyze WORD as queries are (so "Running" looks up "run" in a stemmed index)
and print the term's partition, document frequency and postings: document,
URL, term frequency and token positions. A term in no document has df 0 and
partition -1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ix, err := openIndex(dir)
			if err != nil {
				return err
			}
			defer ix.Close()
			word := args[0]
			var terms []string
			search.AnalyzerFor(ix.Manifest)(word, func(t string, _ int) { terms = append(terms, t) })
			switch {
			case len(terms) == 0:
				return fmt.Errorf("%q has no index term (a stopword or punctuation)", word)
			case len(terms) > 1:
				return fmt.Errorf("%q is %d terms (%s): give one", word, len(terms), strings.Join(terms, " "))
			}
			info, err := lookupTerm(ix, terms[0], limit)
			if err != nil {
				return err
			}
			info.Word = word
			if asJSON {
				return cli.PrintJSON(cmd.OutOrStdout(), info)
			}
			return printTerm(cmd.OutOrStdout(), info)
		},
	}
	indexFlag(cmd, &dir)
	cmd.Flags().IntVar(&limit, "limit", 0, "print at most this many postings (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// lookupTerm reads a term's postings from whichever partition holds it.
func lookupTerm(ix *index.Index, term string, limit int) (*termInfo, error) {
	info := &termInfo{Term: term, Partition: -1, Postings: []termPosting{}}
	for p, t := range ix.Terms {
		e, ok, err := t.Lookup(term)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		info.Partition, info.DF = p, e.DF
		it, err := postings.NewIterator(e.Postings)
		if err != nil {
			return nil, fmt.Errorf("term %q: %w", term, err)
		}
		for (limit <= 0 || len(info.Postings) < limit) && it.Next() {
			d, err := ix.Docs.Doc(int(it.Doc()))
			if err != nil {
				return nil, err
			}
			info.Postings = append(info.Postings, termPosting{int(it.Doc()), d.URL, it.TF(), it.Positions(nil)})
		}
		if it.Err() != nil {
			return nil, fmt.Errorf("term %q: %w", term, it.Err())
		}
		break
	}
	return info, nil
}

func printTerm(w io.Writer, info *termInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if info.Term != info.Word {
		fmt.Fprintf(tw, "term\t%s (from %q)\n", info.Term, info.Word)
	} else {
		fmt.Fprintf(tw, "term\t%s\n", info.Term)
	}
	if info.Partition < 0 {
		fmt.Fprintf(tw, "df\t0 (in no document)\n")
		return tw.Flush()
	}
	fmt.Fprintf(tw, "partition\t%d\n", info.Partition)
	fmt.Fprintf(tw, "df\t%d\n", info.DF)
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DOC\tTF\tPOSITIONS\tURL")
	for _, p := range info.Postings {
		pos := make([]string, len(p.Positions))
		for i, x := range p.Positions {
			pos[i] = strconv.FormatUint(uint64(x), 10)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", p.Doc, p.TF, strings.Join(pos, ","), p.URL)
	}
	if len(info.Postings) < info.DF {
		fmt.Fprintf(tw, "… %d more\t\t\t\n", info.DF-len(info.Postings))
	}
	return tw.Flush()
}
