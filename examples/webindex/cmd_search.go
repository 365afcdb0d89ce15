package webindex

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/superstep/superstep/cli"

	"github.com/superstep/superstep/examples/webindex/index"
	"github.com/superstep/superstep/examples/webindex/search"
)

// notIndexError is the one-line error for a directory without an index.
type notIndexError struct{ dir string }

func (e notIndexError) Error() string {
	return fmt.Sprintf("%s is not an index: no %s", e.dir, index.ManifestName)
}

func (e notIndexError) Unwrap() error { return index.ErrNotIndex }

// openIndex opens the index of the --index flag. Opening maps the files, so
// it takes milliseconds whatever the index size.
func openIndex(dir string) (*index.Index, error) {
	if dir == "" {
		return nil, cli.Usagef("--index DIR is required")
	}
	ix, err := index.Open(dir)
	if errors.Is(err, index.ErrNotIndex) {
		return nil, notIndexError{dir}
	}
	return ix, err
}

// indexFlag adds the --index flag.
func indexFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "index", "", "index directory (written by the webindex job)")
}

func newSearchCmd() *cobra.Command {
	var (
		dir          string
		k, offset    int
		snippetWords int
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "search --index DIR [flags] QUERY...",
		Short: "search a web index",
		Long: `Search a web index: the words of the query are ANDed, OR separates
alternatives, "double quotes" make a phrase. Hits are ranked by BM25 combined
with the PageRank prior; each comes with a snippet of the page, the matching
words in [brackets] (with --json, as fragments marked "match").`,
		Example: `  superstep search --index /tmp/webindex query planner
  superstep search --index /tmp/webindex --k 5 --offset 5 '"virtual table" OR vtab'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := strings.TrimSpace(strings.Join(args, " "))
			if q == "" {
				return cli.Usagef("empty query: give the words to search for")
			}
			ix, err := openIndex(dir)
			if err != nil {
				return err
			}
			defer ix.Close()
			s := search.NewSearcher(ix)
			s.SnippetWords = snippetWords
			res, err := s.Search(q, k, offset)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.PrintJSON(cmd.OutOrStdout(), res)
			}
			return printResults(cmd.OutOrStdout(), res)
		},
	}
	indexFlag(cmd, &dir)
	cmd.Flags().IntVar(&k, "k", 10, fmt.Sprintf("number of hits to print (1 to %d)", search.MaxK))
	cmd.Flags().IntVar(&offset, "offset", 0, "number of best hits to skip (for paging)")
	cmd.Flags().IntVar(&snippetWords, "snippet-words", search.DefaultSnippetWords, "snippet length in words")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// printResults prints results for a terminal:
//
//	2 results for "query planner"
//	1. Title                                       (score 3.1416)
//	   https://example.com/page
//	   … the [query] [planner] chooses …
func printResults(w io.Writer, res *search.Results) error {
	switch {
	case res.Total == 0:
		fmt.Fprintf(w, "no results for %q\n", res.Query)
	case len(res.Hits) == 0:
		fmt.Fprintf(w, "%d results for %q, none after the first %d\n", res.Total, res.Query, res.Offset)
	case len(res.Hits) < res.Total:
		fmt.Fprintf(w, "%d results for %q, %d to %d:\n", res.Total, res.Query, res.Offset+1, res.Offset+len(res.Hits))
	default:
		fmt.Fprintf(w, "%d results for %q:\n", res.Total, res.Query)
	}
	for _, h := range res.Hits {
		title := oneLine(h.Title)
		if title == "" {
			title = "(untitled)"
		}
		fmt.Fprintf(w, "%d. %s  (score %.4f)\n", h.Rank, title, h.Score)
		fmt.Fprintf(w, "   %s\n", h.URL)
		if sn := oneLine(search.Marked(h.Snippet, "[", "]")); sn != "" {
			fmt.Fprintf(w, "   %s\n", sn)
		}
	}
	return nil
}

// oneLine collapses runs of whitespace, newlines included, into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
