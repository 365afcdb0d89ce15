package corpus

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// response turns a WARC response record into a page, or into Problems:
// "non-response" for a payload that is not an HTTP response, "bad-url" for a
// target URI that is not an absolute http(s) URL, "bad-http" for a response
// that does not parse or whose body does not decode, "http-status" for a
// status other than 200, "not-html" for a Content-Type other than text/html
// or application/xhtml+xml (without one, the body is sniffed with
// http.DetectContentType), "unsupported-encoding" for a Content-Encoding
// other than gzip, x-gzip or identity, and "empty", "too-large" and
// "truncated" (the record says WARC-Truncated) as for every page.
//
// Transfer-Encoding: chunked is undone by net/http; Content-Encoding: gzip
// here, reading at most MaxPageBytes+1 decoded bytes (a gzip bomb costs no
// more). The HTTP header is read through a limit of MaxHTTPHeaderBytes.
func (w *warcReader) response(rec warcRecord, block io.Reader) (out result) {
	if rec.contentType != "" {
		mt, params, err := mime.ParseMediaType(rec.contentType)
		if err != nil {
			mt, _, _ = strings.Cut(strings.ToLower(rec.contentType), ";")
			mt = strings.TrimSpace(mt)
		}
		if mt != "application/http" || params["msgtype"] != "" && params["msgtype"] != "response" {
			out.problem(rec.source, KindNonResponse, fmt.Sprintf("response record with Content-Type %q", clip([]byte(rec.contentType), 64)))
			return out
		}
	}
	u, err := url.Parse(rec.uri)
	if err != nil || !isHTTP(u) {
		out.problem(rec.source, KindBadURL, fmt.Sprintf("target URI %q is not an absolute http(s) URL", clip([]byte(rec.uri), 128)))
		return out
	}

	limit := &headerLimit{r: block, n: MaxHTTPHeaderBytes, on: true}
	if w.hr == nil {
		w.hr = bufio.NewReaderSize(limit, 16<<10)
	} else {
		w.hr.Reset(limit)
	}
	resp, err := http.ReadResponse(w.hr, nil)
	if err != nil {
		out.problem(rec.source, KindBadHTTP, "HTTP response: "+err.Error())
		return out
	}
	limit.on = false
	// resp.Body is not closed: closing drains it, and the record's end is
	// found by the WARC framing anyway.
	if resp.StatusCode != http.StatusOK {
		out.problem(rec.source, KindHTTPStatus, fmt.Sprintf("HTTP status %d", resp.StatusCode))
		return out
	}
	ctype := resp.Header.Get("Content-Type")
	if ctype != "" && !isHTMLType(ctype) {
		out.problem(rec.source, KindNotHTML, fmt.Sprintf("Content-Type %q", clip([]byte(ctype), 64)))
		return out
	}
	var body io.Reader = resp.Body
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		z, err := gzip.NewReader(body)
		if err != nil {
			out.problem(rec.source, KindBadHTTP, "gzip Content-Encoding: "+err.Error())
			return out
		}
		body = z
	default:
		out.problem(rec.source, KindUnsupportedEncoding, fmt.Sprintf("Content-Encoding %q", clip([]byte(enc), 32)))
		return out
	}
	data, err := readBody(body, MaxPageBytes+1, resp.ContentLength)
	if err != nil && rec.truncated == "" {
		// A record cut short is reported by the framing instead.
		out.problem(rec.source, KindBadHTTP, "HTTP body: "+err.Error())
		return out
	}
	if ctype == "" && len(data) > 0 && !isHTMLType(http.DetectContentType(data)) {
		out.problem(rec.source, KindNotHTML, fmt.Sprintf("no Content-Type; sniffed %q", http.DetectContentType(data)))
		return out
	}
	p := Page{URL: rec.uri, ContentType: ctype, Source: rec.source}
	if rec.truncated != "" {
		p.Truncated = true
		out.problem(rec.source, KindTruncated, fmt.Sprintf("WARC-Truncated: %q", clip([]byte(rec.truncated), 32)))
	}
	// The checks shared with other kinds of file, delivered with the rest.
	if !checkBody(&p, data, out.problem) {
		return out
	}
	out.page = &p
	return out
}

// isHTMLType reports whether a Content-Type is HTML.
func isHTMLType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(strings.ToLower(ct), ";")
		mt = strings.TrimSpace(mt)
	}
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// errHeaderTooLarge is what an HTTP header over MaxHTTPHeaderBytes reads as.
var errHeaderTooLarge = errors.New("header over 1 MiB")

// headerLimit lets at most n bytes through while on: the HTTP header is read
// with it on, the body with it off.
type headerLimit struct {
	r  io.Reader
	n  int64
	on bool
}

func (h *headerLimit) Read(p []byte) (int, error) {
	if !h.on {
		return h.r.Read(p)
	}
	if h.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > h.n {
		p = p[:h.n]
	}
	n, err := h.r.Read(p)
	h.n -= int64(n)
	return n, err
}
