package extract

import (
	"bytes"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// referenceHTML is the extractor HTML replaced: the same rules on
// golang.org/x/net/html's tokenizer, one token at a time. The tests hold
// HTML to its output (TestAgreesWithReference, FuzzAgainstReference).
func referenceHTML(pageURL string, body []byte, contentType string) (*Page, error) {
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
			p.Text = refCollapse(text.String())
			p.Title = truncate(refCollapse(title.String()), MaxTitle)
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
				attrs = refAttributes(z)
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

// refAttributes reads the current tag's attributes, dropping values longer
// than MaxLinkBytes.
func refAttributes(z *html.Tokenizer) map[string]string {
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

// refCollapse is collapse as it was: replace invalid UTF-8, then join the
// whitespace-separated fields with single spaces.
func refCollapse(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Join(strings.Fields(s), " ")
}
