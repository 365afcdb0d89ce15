package webindex_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superstep/superstep/cli"
)

// addrWriter is the stdout of `serve`: it hands the address of the
// "serving on" line to addr.
type addrWriter struct {
	mu   sync.Mutex // guards buf
	buf  bytes.Buffer
	addr chan string
}

func (w *addrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if line, ok := strings.CutSuffix(w.buf.String(), "\n"); ok && w.addr != nil {
		if a, ok := strings.CutPrefix(line, "serving on "); ok {
			w.addr <- a
			w.addr = nil
		}
	}
	return len(p), nil
}

// serve starts `superstep serve` on a free port over the index in dir and
// returns its base URL; the server stops when the test ends.
func serve(t *testing.T, dir string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &addrWriter{addr: make(chan string, 1)}
	addr := out.addr
	var stderr bytes.Buffer
	root := cli.NewRoot(out, &stderr)
	root.SetArgs([]string{"serve", "--index", dir, "--listen", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not stop")
		}
	})
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not print its address")
	}
	return ""
}

func get(t *testing.T, u string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestServe(t *testing.T) {
	base := serve(t, buildTestIndex(t))
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("address %q", base)
	}

	if code, _, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}

	// The API answers as `search --json` does.
	code, ctype, body := get(t, base+"/api/search?"+url.Values{"q": {"virtual table"}, "k": {"1"}, "offset": {"1"}}.Encode())
	if code != 200 || ctype != "application/json" {
		t.Fatalf("api: %d %s %s", code, ctype, body)
	}
	var res struct {
		Query  string
		Total  int
		Offset int
		K      int
		Hits   []struct {
			Rank  int
			Doc   int
			Title string
		}
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if res.Query != "virtual table" || res.Total != 2 || res.Offset != 1 || res.K != 1 || len(res.Hits) != 1 ||
		res.Hits[0].Rank != 2 || res.Hits[0].Doc != 4 {
		t.Fatalf("api: %s", body)
	}
	for _, bad := range []string{"q=", "q=the", "q=x&k=0", "q=x&k=abc", "q=x&offset=-1"} {
		code, _, body := get(t, base+"/api/search?"+bad)
		var e struct{ Error string }
		if json.Unmarshal([]byte(body), &e); code != 400 || e.Error == "" {
			t.Errorf("api?%s: %d %s", bad, code, body)
		}
	}

	// The page: an empty form, then results with marks, escaped titles
	// and paging links.
	code, ctype, body = get(t, base+"/")
	if code != 200 || ctype != "text/html; charset=utf-8" || !strings.Contains(body, `<input type="search" name="q" value=""`) ||
		strings.Contains(body, `class="hit"`) {
		t.Fatalf("empty page: %d %s\n%s", code, ctype, body)
	}
	code, _, body = get(t, base+"/?q=virtual+table&k=1")
	for _, want := range []string{
		`<input type="search" name="q" value="virtual table"`,
		`<input type="hidden" name="k" value="1">`,
		`1–1 of <span class="total">2</span> results for “virtual table” in `,
		`<a class="title" href="https://sqlite.org/vtab.html">The Virtual Table Mechanism</a>`,
		`<p class="snippet">A <mark>virtual</mark> <mark>table</mark> is an object`,
		`<a class="next" rel="next" href="/?k=1&amp;offset=1&amp;q=virtual&#43;table">next</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if code != 200 || strings.Contains(body, `class="prev"`) {
		t.Errorf("page: %d\n%s", code, body)
	}
	code, _, body = get(t, base+"/?q=virtual+table&k=1&offset=1")
	for _, want := range []string{
		`<ol class="hits" start="2">`,
		`<a class="title" href="https://sqlite.org/fts5.html">FTS5 &lt;Full-Text&gt;	Search</a>`,
		`<a class="prev" rel="prev" href="/?k=1&amp;offset=0&amp;q=virtual&#43;table">previous</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page 2 lacks %q", want)
		}
	}
	if code != 200 || strings.Contains(body, `class="next"`) {
		t.Errorf("page 2: %d\n%s", code, body)
	}
	// Markup in a query is text.
	code, _, body = get(t, base+"/?q="+url.QueryEscape(`<script>alert(1)</script>`))
	if code != 200 || strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("query with markup: %d\n%s", code, body)
	}
	if code, _, body := get(t, base+"/?q=the"); code != 400 || !strings.Contains(body, `<p class="error">empty query: &#34;the&#34; has no searchable words</p>`) {
		t.Errorf("stopword query: %d\n%s", code, body)
	}
	if code, _, _ := get(t, base+"/nowhere"); code != 404 {
		t.Errorf("/nowhere: %d", code)
	}
}
