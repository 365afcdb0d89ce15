package corpus

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// warcCases are the hand-built WARC files; they also seed FuzzReadWARC.
func warcCases() []struct {
	name        string
	data        []byte
	urls, kinds string
} {
	resp := func(u, http string) string { return response(u, http) }
	a, b := "https://sqlite.org/a.html", "https://sqlite.org/b.html"
	two := warcinfo + resp(a, ok200(page1)) + resp(b, ok200(page1))
	chunked := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 10, page1[:10], len(page1)-10, page1[10:])
	gzBody := string(gz([]byte(page1)))
	gzipped := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(gzBody), gzBody)
	bomb := string(gz(bytes.Repeat([]byte("<p>"), MaxPageBytes/3+1000)))
	bombed := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: x-gzip\r\n\r\n%s", bomb)
	hugeHeader := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 1100) + "\r\n" + page1
	gzPerRecord := gzEach(warcinfo, resp(a, ok200(page1)), resp(b, ok200(page1)))
	return []struct {
		name        string
		data        []byte
		urls, kinds string
	}{
		{"two.warc", []byte(two), a + " " + b, ""},
		{"two.warc.gz", gzPerRecord, a + " " + b, ""},
		{"stream.warc.gz", gz([]byte(two)), a + " " + b, ""},
		{"sniffed-gzip.warc", gzPerRecord, a + " " + b, ""},
		{"companions.warc", []byte(warcinfo +
			record("WARC-Type: request\r\nWARC-Target-URI: "+a+"\r\nContent-Type: application/http; msgtype=request\r\n", "GET /a.html HTTP/1.1\r\n\r\n") +
			resp(a, ok200(page1)) +
			record("WARC-Type: metadata\r\nWARC-Target-URI: "+a+"\r\n", "outlinks: b.html\r\n") +
			record("WARC-Type: resource\r\nWARC-Target-URI: file:///x.html\r\nContent-Type: text/html\r\n", page1) +
			record("WARC-Type: revisit\r\nWARC-Target-URI: "+a+"\r\n", "HTTP/1.1 200 OK\r\n\r\n") +
			record("WARC-Type: response\r\nWARC-Target-URI: dns:sqlite.org\r\nContent-Type: text/dns\r\n", "sqlite.org. 300 IN A 1.2.3.4") +
			record("WARC-Type: response\r\nWARC-Target-URI: "+b+"\r\nContent-Type: application/http; msgtype=request\r\n", "GET / HTTP/1.1\r\n\r\n")),
			a, "non-response,non-response,non-response,non-response"},
		{"statuses.warc", []byte(
			resp(a, "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\nno!") +
				resp(a, "HTTP/1.1 301 Moved\r\nLocation: /b.html\r\nContent-Length: 0\r\n\r\n") +
				resp(a, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 4\r\n\r\n\x89PNG") +
				resp(b, "HTTP/1.0 200 OK\r\nContent-Type: application/xhtml+xml\r\n\r\n"+page1)),
			b, "http-status,http-status,not-html"},
		{"sniff.warc", []byte(
			resp(a, "HTTP/1.1 200 OK\r\n\r\n<!DOCTYPE html><html>sniffed</html>") +
				resp(b, "HTTP/1.1 200 OK\r\n\r\n\x00\x01\x02binary")),
			a, "not-html"},
		{"encodings.warc", []byte(
			resp(a, chunked) + resp(b, gzipped) +
				resp(a, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br\r\n\r\nxx") +
				resp(a, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\nnot gzip")),
			a + " " + b, "unsupported-encoding,bad-http"},
		{"bomb.warc", []byte(resp(a, bombed) + resp(b, ok200(page1))), a + " " + b, "too-large"},
		{"bad-http.warc", []byte(
			resp(a, "HTTP/1.1 OK\r\n\r\n") + resp(a, "garbage") + resp(a, hugeHeader) +
				resp(a, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 999\r\n\r\nshort") +
				resp(a, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n") +
				resp(b, ok200(page1))),
			b, "bad-http,bad-http,bad-http,bad-http,empty"},
		{"uris.warc", []byte(
			"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: <" + a + ">\r\nContent-Length: " + fmt.Sprint(len(ok200(page1))) + "\r\n\r\n" + ok200(page1) + "\r\n\r\n" +
				resp("ftp://sqlite.org/x.html", ok200(page1)) + resp("/relative.html", ok200(page1)) + resp("https://", ok200(page1))),
			a, "bad-url,bad-url,bad-url"},
		{"lf-folded.warc", []byte("WARC/1.0\nWARC-Type:\n response\nWARC-Target-URI: " + b + "\nno colon here\nContent-Length: " +
			fmt.Sprint(len(ok200(page1))) + "\n\n" + ok200(page1) + "\n\n"), b, ""},
		{"truncated-record.warc", []byte(
			"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: " + a + "\r\nWARC-Truncated: length\r\nContent-Length: " +
				fmt.Sprint(len(ok200(page1))-5) + "\r\n\r\n" + ok200(page1)[:len(ok200(page1))-5] + "\r\n\r\n"),
			a, "truncated"},
		{"huge-length.warc", []byte(resp(a, ok200(page1)) + strings.Replace(resp(b, ok200(page1)), "Content-Length: ", "Content-Length: 9999999999999", 1)),
			a, "corrupt-warc"},
		{"overflow-length.warc", []byte(strings.Replace(resp(b, ok200(page1)), "Content-Length: ", "Content-Length: 99999999999999999999", 1)), "", "corrupt-warc"},
		{"negative-length.warc", []byte(record("WARC-Type: response\r\nContent-Length: -5\r\n", "x")), "", "corrupt-warc"},
		{"plus-length.warc", []byte(record("WARC-Type: response\r\nContent-Length: +1\r\n", "x")), "", "corrupt-warc"},
		{"two-lengths.warc", []byte(record("WARC-Type: response\r\nContent-Length: 1\r\nContent-Length: 2\r\n", "x")), "", "corrupt-warc"},
		{"no-length.warc", []byte("WARC/1.0\r\nWARC-Type: response\r\n\r\n"), "", "corrupt-warc"},
		{"huge-header.warc", []byte("WARC/1.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 700) + "Content-Length: 0\r\n\r\n"), "", "corrupt-warc"},
		{"long-line.warc", []byte("WARC/1.0\r\nX: " + strings.Repeat("p", 70000) + "\r\nContent-Length: 0\r\n\r\n"), "", "corrupt-warc"},
		{"cut-header.warc", []byte("WARC/1.0\r\nWARC-Type: respo"), "", "corrupt-warc"},
		{"not-warc.warc", []byte(page1), "", "corrupt-warc"},
		{"bad-version.warc", []byte("WARC/one\r\nContent-Length: 0\r\n\r\n"), "", "corrupt-warc"},
		{"cut-gzip.warc.gz", gzPerRecord[:len(gzPerRecord)-20], a, "corrupt-gzip"},
		{"trailing-garbage.warc.gz", append(append([]byte{}, gzPerRecord...), "junk"...), a + " " + b, "corrupt-gzip"},
		{"not-gzip.warc.gz", []byte(two), "", "corrupt-gzip"},
		{"empty.warc", nil, "", "empty"},
		{"empty.warc.gz", nil, "", "empty"},
		{"blank.warc", []byte("\r\n\r\n"), "", "empty"},
		{"empty-gzip.warc.gz", gz(nil), "", "empty"},
	}
}

func TestReadWARC(t *testing.T) {
	for _, tc := range warcCases() {
		t.Run(tc.name, func(t *testing.T) {
			g := readBytes(tc.name, tc.data)
			if g.err != nil {
				t.Fatal(g.err)
			}
			if g.urls() != tc.urls || g.kinds() != tc.kinds {
				t.Fatalf("urls %q kinds %q\nwant %q %q\n(%+v)", g.urls(), g.kinds(), tc.urls, tc.kinds, g.problems)
			}
			for _, p := range g.pages {
				if !strings.HasPrefix(p.Source, tc.name+"@") {
					t.Errorf("page Source %q", p.Source)
				}
				switch {
				case p.Truncated:
					if len(p.Body) > MaxPageBytes {
						t.Errorf("body of %d bytes", len(p.Body))
					}
				case strings.Contains(string(p.Body), "sniffed"):
				case string(p.Body) != page1:
					t.Errorf("body %q", p.Body)
				}
			}
			for _, p := range g.problems {
				if !strings.HasPrefix(p.Source, tc.name) || p.Detail == "" {
					t.Errorf("problem %+v", p)
				}
			}
		})
	}
}

// TestWARCSources checks the offsets that name records: file offsets in a
// plain file, gzip member offsets in a compressed one, member+offset when
// records share a member.
func TestWARCSources(t *testing.T) {
	r1 := response("https://sqlite.org/a.html", ok200(page1))
	r2 := response("https://sqlite.org/b.html", "HTTP/1.1 404 Not Found\r\n\r\n")
	r3 := response("https://sqlite.org/c.html", ok200(page1))
	z1, z2 := gz([]byte(warcinfo)), gz([]byte(r1))
	for _, tc := range []struct {
		name string
		data []byte
		want []string // sources of a.html, b.html's problem, c.html
	}{
		{"p.warc", []byte(warcinfo + r1 + r2 + r3), []string{
			fmt.Sprintf("p.warc@%d", len(warcinfo)),
			fmt.Sprintf("p.warc@%d", len(warcinfo)+len(r1)),
			fmt.Sprintf("p.warc@%d", len(warcinfo)+len(r1)+len(r2))}},
		{"g.warc.gz", gzEach(warcinfo, r1, r2, r3), []string{
			fmt.Sprintf("g.warc.gz@%d", len(z1)),
			fmt.Sprintf("g.warc.gz@%d", len(z1)+len(z2)),
			fmt.Sprintf("g.warc.gz@%d", len(z1)+len(z2)+len(gz([]byte(r2))))}},
		{"s.warc.gz", gzEach(warcinfo+r1, r2+r3), []string{
			fmt.Sprintf("s.warc.gz@0+%d", len(warcinfo)),
			fmt.Sprintf("s.warc.gz@%d", len(gz([]byte(warcinfo+r1)))),
			fmt.Sprintf("s.warc.gz@%d+%d", len(gz([]byte(warcinfo+r1))), len(r2))}},
		{"e.warc.gz", append(append(gz(nil), gz([]byte(warcinfo+r1))...), gzEach(r2, r3)...), []string{
			fmt.Sprintf("e.warc.gz@%d+%d", len(gz(nil)), len(warcinfo)),
			fmt.Sprintf("e.warc.gz@%d", len(gz(nil))+len(gz([]byte(warcinfo+r1)))),
			fmt.Sprintf("e.warc.gz@%d", len(gz(nil))+len(gz([]byte(warcinfo+r1)))+len(gz([]byte(r2))))}},
	} {
		g := readBytes(tc.name, tc.data)
		if len(g.pages) != 2 || len(g.problems) != 1 {
			t.Fatalf("%s: %+v %+v", tc.name, g.pages, g.problems)
		}
		got := []string{g.pages[0].Source, g.problems[0].Source, g.pages[1].Source}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: sources %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestWARCResync damages one record's Content-Length in every way (too
// large, too small, negative, past the end of the file) between good
// records, plain and gzip per record: the damaged record is one Problem
// "corrupt-warc" named by its offset, and every other record is kept,
// with its own offset.
func TestWARCResync(t *testing.T) {
	u := func(c string) string { return "https://sqlite.org/" + c + ".html" }
	ra, rb, rc, rd := response(u("a"), ok200(page1)), response(u("b"), ok200(page1)), response(u("c"), ok200(page1)), response(u("d"), ok200(page1))
	blockLen := len(ok200(page1))
	withLength := func(r string, n string) string {
		return strings.Replace(r, fmt.Sprintf("Content-Length: %d\r\n", blockLen), "Content-Length: "+n+"\r\n", 1)
	}
	v11 := strings.Replace(rc, "WARC/1.0", "WARC/1.1", 1)
	for _, tc := range []struct {
		name string
		b    string // the damaged record b
		c    string
	}{
		{"too-large", withLength(rb, fmt.Sprint(blockLen+60)), rc},
		{"too-large-by-two-records", withLength(rb, fmt.Sprint(blockLen+len(rc)+40)), rc}, // swallows c and part of d
		{"too-small", withLength(rb, fmt.Sprint(blockLen-20)), rc},
		{"negative", withLength(rb, "-5"), rc},
		{"past-the-end", withLength(rb, "99999999"), rc},
		{"unparsable", withLength(rb, "12x"), rc},
		{"warc-1.1-next", withLength(rb, fmt.Sprint(blockLen+60)), v11},
	} {
		parts := []string{warcinfo, ra, tc.b, tc.c, rd}
		wantKinds := "corrupt-warc"
		wantURLs := u("a") + " " + u("c") + " " + u("d")
		t.Run(tc.name+"/plain", func(t *testing.T) {
			data := strings.Join(parts, "")
			g := readBytes("r.warc", []byte(data))
			if g.err != nil {
				t.Fatal(g.err)
			}
			if g.urls() != wantURLs || g.kinds() != wantKinds {
				t.Fatalf("urls %q kinds %q\nwant %q %q\n(%+v)", g.urls(), g.kinds(), wantURLs, wantKinds, g.problems)
			}
			off := func(i int) string { return fmt.Sprintf("r.warc@%d", len(strings.Join(parts[:i], ""))) }
			if g.problems[0].Source != off(2) {
				t.Errorf("damaged record named %q, want %q", g.problems[0].Source, off(2))
			}
			if got := []string{g.pages[0].Source, g.pages[1].Source, g.pages[2].Source}; !slices.Equal(got, []string{off(1), off(3), off(4)}) {
				t.Errorf("page sources %q, want %q", got, []string{off(1), off(3), off(4)})
			}
		})
		t.Run(tc.name+"/gzip", func(t *testing.T) {
			g := readBytes("r.warc.gz", gzEach(parts...))
			if g.err != nil {
				t.Fatal(g.err)
			}
			if g.urls() != wantURLs || g.kinds() != wantKinds {
				t.Fatalf("urls %q kinds %q\nwant %q %q\n(%+v)", g.urls(), g.kinds(), wantURLs, wantKinds, g.problems)
			}
			off := func(i int) string {
				n := 0
				for _, p := range parts[:i] {
					n += len(gz([]byte(p)))
				}
				return fmt.Sprintf("r.warc.gz@%d", n)
			}
			if got := []string{g.pages[0].Source, g.problems[0].Source, g.pages[1].Source, g.pages[2].Source}; !slices.Equal(got, []string{off(1), off(2), off(3), off(4)}) {
				t.Errorf("sources %q, want %q", got, []string{off(1), off(2), off(3), off(4)})
			}
		})
	}
}

// TestWARCResyncTwoDamaged: two damaged records in a row are two Problems.
func TestWARCResyncTwoDamaged(t *testing.T) {
	r := func(c string) string { return response("https://sqlite.org/"+c+".html", ok200(page1)) }
	bad := strings.Replace(r("b"), "Content-Length: ", "Content-Length: 1", 1) // ten times too large, or more
	bad2 := strings.Replace(r("c"), "WARC-Type: response\r\n", "WARC-Type: response\r\nContent-Length: -1\r\n", 1)
	g := readBytes("two.warc", []byte(r("a")+bad+bad2+r("d")))
	if g.urls() != "https://sqlite.org/a.html https://sqlite.org/d.html" || g.kinds() != "corrupt-warc,corrupt-warc" {
		t.Fatalf("urls %q kinds %q (%+v)", g.urls(), g.kinds(), g.problems)
	}
}

// TestWARCResyncLinear: a file of records that each claim the rest of the
// file reads in linear time (without the replay budget it re-read the rest
// of the file per record: quadratic, tens of gigabytes here): the first
// damage is resynchronized, the one that meets the spent budget says that
// the block was not searched.
func TestWARCResyncLinear(t *testing.T) {
	var b strings.Builder
	rec := strings.Replace(response("https://sqlite.org/a.html", ok200(page1)), "Content-Length: ", "Content-Length: 9999999", 1)
	n := 0
	for b.Len() < 4<<20 {
		b.WriteString(rec)
		n++
	}
	start := time.Now()
	g := readBytes("many.warc", []byte(b.String()))
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(g.pages) != 0 || len(g.problems) < 2 {
		t.Fatalf("%d pages, %d problems for %d damaged records", len(g.pages), len(g.problems), n)
	}
	for _, p := range g.problems {
		if p.Kind != KindCorruptWARC {
			t.Fatalf("problem %+v", p)
		}
	}
	if last := g.problems[len(g.problems)-1]; !strings.Contains(last.Detail, "not searched") {
		t.Fatalf("last problem %+v does not say the block was not searched", last)
	}
	t.Logf("%d records, %d problems, %v", n, len(g.problems), time.Since(start))
}
