// Package extract turns one HTML page into what the web index needs: its
// title, its visible text and its outgoing links, resolved and normalized.
//
// It streams the page through golang.org/x/net/html's tokenizer (no tree is
// built, so deep nesting costs nothing), decodes the declared charset with
// golang.org/x/net/html/charset, replaces invalid UTF-8, and bounds what it
// keeps from hostile input: the page, the title, each link and the number
// of links are capped.
package extract

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// Limits on what one page may contribute.
const (
	MaxPageBytes = 10 << 20 // bytes of HTML read; the rest is dropped and Truncated set
	MaxTitle     = 1024     // bytes of title kept
	MaxLinkBytes = 2048     // longer hrefs are ignored
	MaxLinks     = 10000    // links kept per page
)

// Page is the extracted content of one HTML page.
type Page struct {
	URL       string   // the page's own URL, normalized
	Title     string   // text of the first <title>, whitespace collapsed
	Text      string   // visible text (not script, style, template, noscript), whitespace collapsed
	Links     []string // absolute http(s) URLs of <a href>, normalized, without fragments, first occurrence order
	NoIndex   bool     // <meta name=robots content=noindex>
	Truncated bool     // the page was longer than MaxPageBytes
}

// ErrBadURL is returned for a page URL that is not absolute http(s).
var ErrBadURL = errors.New("extract: page URL must be absolute http or https")

// HTML extracts a page. contentType is the HTTP Content-Type (may be
// empty); it and <meta charset> select the decoding. It never fails on
// malformed HTML: browsers accept anything, and so does this.
func HTML(pageURL string, body []byte, contentType string) (*Page, error) {
	base, err := url.Parse(pageURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, ErrBadURL
	}
	p := &Page{URL: Normalize(base)}
	if len(body) > MaxPageBytes {
		body, p.Truncated = body[:MaxPageBytes], true
	}
	var r io.Reader = bytes.NewReader(body)
	// A page that is UTF-8 and valid is read as it is: decoding it would
	// copy every byte to change none.
	if _, name, _ := charset.DetermineEncoding(body, contentType); name != "utf-8" || !utf8.Valid(body) {
		if dec, err := charset.NewReader(r, contentType); err == nil {
			r = dec
		}
	}
	z := html.NewTokenizer(r)
	z.SetMaxBuf(2 * MaxPageBytes)
	var (
		text    strings.Builder
		title   strings.Builder
		skip    int // depth inside elements whose text is not visible
		inTitle bool
		seen    = map[string]bool{}
		baseSet bool
	)
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			p.Text = collapse(text.String())
			p.Title = truncate(collapse(title.String()), MaxTitle)
			return p, nil
		case html.TextToken:
			t := z.Text()
			switch {
			case inTitle:
				if title.Len() < 4*MaxTitle {
					title.Write(t)
				}
			case skip == 0:
				text.Write(t)
				text.WriteByte(' ')
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if tt == html.EndTagToken {
				switch a {
				case atom.Title:
					inTitle = false
				case atom.Script, atom.Style, atom.Template, atom.Noscript:
					skip = max(0, skip-1)
				}
				continue
			}
			var attrs map[string]string
			if hasAttr && (a == atom.A || a == atom.Base || a == atom.Meta) {
				attrs = attributes(z)
			}
			switch a {
			case atom.Title:
				inTitle = tt == html.StartTagToken && p.Title == "" && title.Len() == 0
			case atom.Script, atom.Style, atom.Template, atom.Noscript:
				if tt == html.StartTagToken {
					skip++
				}
			case atom.Base:
				if href, ok := attrs["href"]; ok && !baseSet {
					if u, err := base.Parse(strings.TrimSpace(href)); err == nil {
						base, baseSet = u, true
					}
				}
			case atom.Meta:
				if strings.EqualFold(attrs["name"], "robots") {
					for _, d := range strings.Split(attrs["content"], ",") {
						if strings.EqualFold(strings.TrimSpace(d), "noindex") || strings.EqualFold(strings.TrimSpace(d), "none") {
							p.NoIndex = true
						}
					}
				}
			case atom.A:
				href, ok := attrs["href"]
				if !ok || len(p.Links) >= MaxLinks {
					continue
				}
				if link := Resolve(base, href); link != "" && !seen[link] {
					seen[link] = true
					p.Links = append(p.Links, link)
				}
			case atom.Br, atom.P, atom.Div, atom.Li, atom.Td, atom.Th, atom.Tr, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				text.WriteByte(' ') // block boundaries separate words
			}
		}
	}
}

// attributes reads the current tag's attributes, dropping values longer
// than MaxLinkBytes.
func attributes(z *html.Tokenizer) map[string]string {
	attrs := map[string]string{}
	for more := true; more; {
		var k, v []byte
		k, v, more = z.TagAttr()
		if len(v) <= MaxLinkBytes {
			attrs[string(k)] = string(v)
		}
	}
	return attrs
}

// Resolve resolves href against base and normalizes it; it returns "" for
// anything that is not an http(s) URL (mailto:, javascript:, unparsable).
func Resolve(base *url.URL, href string) string {
	href = strings.TrimSpace(href)
	if href == "" || len(href) > MaxLinkBytes {
		return ""
	}
	u, err := base.Parse(href)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return Normalize(u)
}

// Normalize returns u without fragment and user info, with a lower-case
// scheme and host, no default port, and "/" for an empty path.
func Normalize(u *url.URL) string {
	v := *u
	v.Fragment, v.RawFragment, v.User = "", "", nil
	v.Scheme = strings.ToLower(v.Scheme)
	host := strings.ToLower(v.Host)
	if (v.Scheme == "http" && strings.HasSuffix(host, ":80")) || (v.Scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	v.Host = host
	if v.Path == "" {
		v.Path, v.RawPath = "/", ""
	}
	return v.String()
}

// collapse replaces runs of whitespace with one space, trims the ends and
// replaces invalid UTF-8.
func collapse(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Join(strings.Fields(s), " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
