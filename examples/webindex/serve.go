package webindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/superstep/superstep/examples/webindex/search"
)

func newServeCmd() *cobra.Command {
	var dir, listen string
	cmd := &cobra.Command{
		Use:   "serve --index DIR [--listen ADDR]",
		Short: "serve a search page and a JSON search API over a web index",
		Long: `Serve a web index over HTTP:

  GET /                          the search page (?q=QUERY&k=10&offset=0)
  GET /api/search?q=QUERY&k=&offset=   results as JSON, as 'superstep search --json'
  GET /healthz                   "ok"

Prints "serving on http://ADDR" with the address bound (useful with port 0) and
serves until interrupted (SIGINT or SIGTERM).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ix, err := openIndex(dir)
			if err != nil {
				return err
			}
			defer ix.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: newSearchHandler(search.NewSearcher(ix)), ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "serving on http://%s\n", ln.Addr())
			return serveUntilDone(cmd.Context(), srv, ln)
		},
	}
	indexFlag(cmd, &dir)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	return cmd
}

// serveUntilDone serves on ln until srv fails or ctx is done, then shuts
// srv down, letting requests in flight finish for a few seconds.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// searchHandler serves the search page and API over one Searcher.
type searchHandler struct {
	s   *search.Searcher
	mux *http.ServeMux
}

func newSearchHandler(s *search.Searcher) http.Handler {
	h := &searchHandler{s: s, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /api/search", h.api)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return h.mux
}

const defaultK = 10

// request is the query of a search request.
type request struct {
	q         string
	k, offset int
}

func parseRequest(v url.Values) (request, error) {
	r := request{q: v.Get("q"), k: defaultK}
	var err error
	if s := v.Get("k"); s != "" {
		if r.k, err = strconv.Atoi(s); err != nil || r.k < 1 || r.k > search.MaxK {
			return r, fmt.Errorf("k = %q: want a number from 1 to %d", s, search.MaxK)
		}
	}
	if s := v.Get("offset"); s != "" {
		if r.offset, err = strconv.Atoi(s); err != nil || r.offset < 0 {
			return r, fmt.Errorf("offset = %q: want a number from 0", s)
		}
	}
	return r, nil
}

func (h *searchHandler) api(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	fail := func(code int, err error) {
		w.WriteHeader(code)
		enc.Encode(map[string]string{"error": err.Error()})
	}
	r, err := parseRequest(req.URL.Query())
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	res, err := h.s.Search(r.q, r.k, r.offset)
	switch {
	case errors.Is(err, search.ErrEmptyQuery):
		fail(http.StatusBadRequest, err)
		return
	case err != nil:
		fail(http.StatusInternalServerError, err)
		return
	}
	enc.Encode(res)
}

// pageData is what the page template shows.
type pageData struct {
	Query      string
	K          int
	KHidden    bool // K is not the default, so the form carries it
	Results    *search.Results
	First      int // rank of the first hit shown
	Last       int
	Took       time.Duration
	Prev, Next string // paging links, empty at either end
	Err        string
}

func (h *searchHandler) page(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	r, err := parseRequest(req.URL.Query())
	d := pageData{Query: r.q, K: r.k, KHidden: r.k != defaultK}
	code := http.StatusOK
	switch {
	case err != nil:
		d.Err, code = err.Error(), http.StatusBadRequest
	case r.q != "":
		start := time.Now()
		res, err := h.s.Search(r.q, r.k, r.offset)
		d.Took = time.Since(start).Round(10 * time.Microsecond)
		switch {
		case errors.Is(err, search.ErrEmptyQuery):
			d.Err, code = err.Error(), http.StatusBadRequest
		case err != nil:
			d.Err, code = err.Error(), http.StatusInternalServerError
		default:
			d.Results = res
			d.First, d.Last = r.offset+1, r.offset+len(res.Hits)
			link := func(offset int) string {
				v := url.Values{"q": {r.q}, "offset": {strconv.Itoa(offset)}}
				if r.k != defaultK {
					v.Set("k", strconv.Itoa(r.k))
				}
				return "/?" + v.Encode()
			}
			if r.offset > 0 {
				d.Prev = link(max(0, r.offset-r.k))
			}
			if r.offset+r.k < res.Total {
				d.Next = link(r.offset + r.k)
			}
		}
	}
	w.WriteHeader(code)
	pageTemplate.Execute(w, d) // a failed write is the client's problem
}

// pageTemplate is the search page; html/template escapes every value for
// its context (text, attribute, URL).
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Query}}{{.Query}} – {{end}}superstep search</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
form { display: flex; gap: .5rem; }
input[type=search] { flex: 1; font-size: 1.1rem; padding: .3rem .5rem; }
.summary, .url, .score { color: #666; font-size: .9rem; }
.hits { padding-left: 1.5rem; }
.hit { margin: 1.2rem 0; }
.title { font-size: 1.15rem; }
.url { color: #060; overflow-wrap: anywhere; }
.snippet { margin: .3rem 0; }
mark { background: #fde68a; }
.error { color: #b00; }
nav a { margin-right: 1rem; }
</style>
</head>
<body>
<form action="/" method="get" role="search">
<input type="search" name="q" value="{{.Query}}" placeholder="search" aria-label="query" autofocus>
{{- if .KHidden}}
<input type="hidden" name="k" value="{{.K}}">
{{- end}}
<button type="submit">Search</button>
</form>
{{- with .Err}}
<p class="error">{{.}}</p>
{{- end}}
{{- with .Results}}
<p class="summary">{{if .Hits}}{{$.First}}–{{$.Last}} of {{end}}<span class="total">{{.Total}}</span> results for “{{.Query}}” in {{$.Took}}</p>
<ol class="hits" start="{{$.First}}">
{{- range .Hits}}
<li class="hit">
<a class="title" href="{{.URL}}">{{or .Title .URL}}</a>
<div class="url">{{.URL}}</div>
<div class="score">score {{printf "%.4f" .Score}} · PageRank {{printf "%.3g" .PageRank}}</div>
<p class="snippet">{{range .Snippet}}{{if .Match}}<mark>{{.Text}}</mark>{{else}}{{.Text}}{{end}}{{end}}</p>
</li>
{{- end}}
</ol>
<nav>
{{- with $.Prev}}<a class="prev" rel="prev" href="{{.}}">previous</a>{{end}}
{{- with $.Next}}<a class="next" rel="next" href="{{.}}">next</a>{{end}}
</nav>
{{- end}}
</body>
</html>
`))
