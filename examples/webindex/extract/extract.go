// Package extract turns one HTML page into what the web index needs: its
// title, its visible text and its outgoing links, resolved and normalized.
//
// It scans the page's bytes once, in place: text between tags is appended
// to one buffer (entities decoded), tags are recognised without building a
// token, and only the attributes of <a>, <base> and <meta> are read. The
// scanner follows the tokenization rules of golang.org/x/net/html (the
// WHATWG states it implements: raw text of <script>, <style>, <title>…,
// comments, bogus comments, attribute quoting), and the tests hold it to
// the output of an extractor built on that tokenizer. Nothing is decoded
// when a page is valid UTF-8 and declares no other charset; otherwise the
// page is first converted with golang.org/x/net/html/charset. What it keeps
// from hostile input is bounded: the page, the title, each link and the
// number of links are capped.
package extract

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/net/html"
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

// textBufs holds the scratch buffers of the raw visible text.
var textBufs = sync.Pool{New: func() any { return new([]byte) }}

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
	// A page that is UTF-8 and valid is scanned as it is; any other is
	// converted first (invalid UTF-8 then becomes U+FFFD).
	if _, name, _ := charset.DetermineEncoding(body, contentType); name != "utf-8" || !utf8.Valid(body) {
		if dec, err := charset.NewReader(bytes.NewReader(body), contentType); err == nil {
			body, _ = io.ReadAll(dec) // on a decoding error, what was decoded
		}
	}
	buf := textBufs.Get().(*[]byte)
	x := &scanner{b: body, p: p, base: base, text: (*buf)[:0]}
	x.run()
	if len(x.text) > 0 {
		out := collapse(make([]byte, 0, len(x.text)), x.text)
		p.Text = unsafe.String(unsafe.SliceData(out), len(out)) // out is never written again
	}
	p.Title = truncate(string(collapse(nil, x.title)), MaxTitle)
	if cap(x.text) <= 4<<20 {
		*buf = x.text
		textBufs.Put(buf)
	}
	return p, nil
}

// span is a byte range of the page.
type span struct{ start, end int }

// attr is an attribute of the current tag: its key and value as written.
type attr struct{ key, val span }

// scanner is the state of one page's scan. Its reading rules are those of
// x/net/html's Tokenizer: next reports false at the end of the page and
// sets eof, which like the tokenizer's error is sticky: the token being
// read when the page ends is the last (a tag cut by the end is dropped).
type scanner struct {
	b   []byte
	i   int
	eof bool

	// The current tag: where it starts ('<'), its name and the attributes
	// with a non-empty key (duplicates included; the first one counts).
	tagStart, nameStart, nameEnd int
	attrs                        []attr

	p       *Page
	base    *url.URL
	baseSet bool
	seen    map[string]bool     // links kept
	hrefs   map[string]struct{} // hrefs resolved against the current base
	text    []byte              // visible text, one space after each piece
	title   []byte
	skip    int // depth inside elements whose text is not visible
	inTitle bool
}

func (x *scanner) next() (byte, bool) {
	if x.i >= len(x.b) {
		x.eof = true
		return 0, false
	}
	c := x.b[x.i]
	x.i++
	return c, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// run scans the page.
func (x *scanner) run() {
	rawTag := "" // the element whose raw text comes next
outer:
	for !x.eof {
		if rawTag != "" {
			start := x.i
			var end int
			switch rawTag {
			case "plaintext":
				x.i, x.eof = len(x.b), true
				end = x.i
			case "script":
				end = x.scanScript()
			default:
				end = x.scanRaw(rawTag)
			}
			rcdata := rawTag == "textarea" || rawTag == "title"
			rawTag = ""
			if end > start {
				x.textToken(x.b[start:end], !rcdata, true)
				continue
			}
		}
		start := x.i
		for {
			j := bytes.IndexByte(x.b[x.i:], '<')
			if j < 0 {
				x.i, x.eof = len(x.b), true
				break
			}
			x.i += j + 1
			c, ok := x.next()
			if !ok {
				break
			}
			if !isLetter(c) && c != '/' && c != '!' && c != '?' {
				x.i--
				continue
			}
			if lt := x.i - 2; start < lt {
				// The text before the markup is a token of its own.
				x.i = lt
				x.textToken(x.b[start:lt], false, false)
				continue outer
			}
			x.tagStart = x.i - 2
			switch {
			case isLetter(c):
				x.readTag(true)
				if x.eof {
					return
				}
				rawTag = x.startTag()
			case c == '/':
				c, ok := x.next()
				switch {
				case !ok:
					break // "</" at the end is text
				case c == '>':
					continue outer // "</>" is nothing
				case isLetter(c):
					x.readTag(false)
					if x.eof {
						return
					}
					x.endTag()
					continue outer
				default:
					x.i--
					x.untilClose() // a bogus comment
					continue outer
				}
			case c == '!':
				x.markup()
				continue outer
			default: // '?'
				x.untilClose()
				continue outer
			}
			if x.eof {
				break
			}
			continue outer
		}
		if start < x.i { // the page ended in text
			x.textToken(x.b[start:x.i], false, false)
		}
		return
	}
}

// textToken adds a piece of text: raw text is kept as written, other text
// has its character references decoded; nul replaces NUL bytes (raw text
// and RCDATA) with U+FFFD.
func (x *scanner) textToken(t []byte, raw, nul bool) {
	if x.inTitle {
		if len(x.title) < 4*MaxTitle {
			x.title = appendText(x.title, convertNewlines(t), raw, nul)
		}
		return
	}
	if x.skip == 0 {
		x.text = appendText(x.text, t, raw, nul)
		x.text = append(x.text, ' ')
	}
}

// convertNewlines returns t with "\r\n" and lone "\r" as "\n" (a copy if
// that changes anything).
func convertNewlines(t []byte) []byte {
	if bytes.IndexByte(t, '\r') < 0 {
		return t
	}
	out := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '\r' {
			c = '\n'
			if i+1 < len(t) && t[i+1] == '\n' {
				i++
			}
		}
		out = append(out, c)
	}
	return out
}

// common are the character references decoded without a table look-up.
var common = [...]struct{ ref, val string }{
	{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&nbsp;", "\u00a0"}, {"&#39;", "'"},
}

func appendText(dst, t []byte, raw, nul bool) []byte {
	if nul && bytes.IndexByte(t, 0) >= 0 {
		t = bytes.ReplaceAll(t, []byte{0}, []byte("\uFFFD"))
	}
	if raw {
		return append(dst, t...)
	}
	for len(t) > 0 {
		j := bytes.IndexByte(t, '&')
		if j < 0 {
			return append(dst, t...)
		}
		dst = append(dst, t[:j]...)
		t = t[j:]
		found := false
		for _, e := range common {
			if bytes.HasPrefix(t, []byte(e.ref)) {
				dst = append(dst, e.val...)
				t = t[len(e.ref):]
				found = true
				break
			}
		}
		if !found {
			// Every reference decodes on its own, left to right: the
			// rest goes through the full table.
			return append(dst, html.UnescapeString(string(t))...)
		}
	}
	return dst
}

// untilClose skips to just after the next '>'.
func (x *scanner) untilClose() {
	j := bytes.IndexByte(x.b[x.i:], '>')
	if j < 0 {
		x.i, x.eof = len(x.b), true
		return
	}
	x.i += j + 1
}

// markup skips what follows "<!": a comment, a doctype or a bogus comment.
func (x *scanner) markup() {
	if x.i+2 > len(x.b) {
		x.i, x.eof = len(x.b), true
		return
	}
	if x.b[x.i] != '-' || x.b[x.i+1] != '-' {
		x.untilClose() // a doctype ends at the same '>'
		return
	}
	x.i += 2
	dashes, beginning := 0, true
	for {
		c, ok := x.next()
		if !ok {
			return
		}
		switch c {
		case '-':
			dashes++
			continue
		case '>':
			if dashes >= 2 || beginning {
				return
			}
		case '!':
			if dashes >= 2 {
				c, ok := x.next()
				if !ok || c == '>' {
					return
				}
				if c == '-' {
					dashes, beginning = 1, false
					continue
				}
			}
		}
		dashes, beginning = 0, false
	}
}

// readTag reads a tag from the character after its first letter to the
// '>' that ends it, keeping its attributes when save is set.
func (x *scanner) readTag(save bool) {
	x.attrs = x.attrs[:0]
	x.nameStart = x.i - 1
	for {
		c, ok := x.next()
		if !ok {
			x.nameEnd = x.i
			return
		}
		if isSpace(c) {
			x.nameEnd = x.i - 1
			break
		}
		if c == '/' || c == '>' {
			x.i--
			x.nameEnd = x.i
			break
		}
	}
	if x.skipSpace(); x.eof {
		return
	}
	for {
		c, ok := x.next()
		if !ok || c == '>' {
			return
		}
		x.i--
		k := x.attrKey()
		v := x.attrVal()
		if save && k.start != k.end {
			x.attrs = append(x.attrs, attr{k, v})
		}
		if x.skipSpace(); x.eof {
			return
		}
	}
}

func (x *scanner) skipSpace() {
	for !x.eof {
		c, ok := x.next()
		if !ok {
			return
		}
		if !isSpace(c) {
			x.i--
			return
		}
	}
}

func (x *scanner) attrKey() span {
	k := span{start: x.i}
	for {
		c, ok := x.next()
		if !ok {
			k.end = x.i
			return k
		}
		switch c {
		case '=':
			if k.start+1 == x.i {
				continue // a key may begin with '='
			}
			x.i--
			k.end = x.i
			return k
		case ' ', '\n', '\r', '\t', '\f', '/', '>':
			x.i--
			k.end = x.i
			return k
		}
	}
}

func (x *scanner) attrVal() span {
	v := span{x.i, x.i}
	if x.skipSpace(); x.eof {
		return v
	}
	c, ok := x.next()
	if !ok || c == '/' {
		return v
	}
	if c != '=' {
		x.i--
		return v
	}
	if x.skipSpace(); x.eof {
		return v
	}
	q, ok := x.next()
	if !ok {
		return v
	}
	switch q {
	case '>':
		x.i--
		return v
	case '\'', '"':
		v.start = x.i
		j := bytes.IndexByte(x.b[x.i:], q)
		if j < 0 {
			x.i, x.eof = len(x.b), true
			v.end = x.i
			return v
		}
		v.end = x.i + j
		x.i += j + 1
		return v
	}
	v.start = x.i - 1
	for {
		c, ok := x.next()
		if !ok {
			v.end = x.i
			return v
		}
		if isSpace(c) {
			v.end = x.i - 1
			return v
		}
		if c == '>' {
			x.i--
			v.end = x.i
			return v
		}
	}
}

// is reports whether b is name (lower case) with ASCII letters in any case.
func is(b []byte, name string) bool {
	if len(b) != len(name) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// rawTags are the elements whose content is raw text (or RCDATA) to the
// tokenizer, whatever the document.
var rawTags = []string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title", "xmp"}

// startTag handles a start tag (or self-closing one) just read and
// returns the raw-text element it opens, if any.
func (x *scanner) startTag() string {
	name := x.b[x.nameStart:x.nameEnd]
	raw := ""
	for _, t := range rawTags {
		if is(name, t) {
			raw = t
			break
		}
	}
	switch {
	case is(name, "title"):
		x.inTitle = !x.selfClosing() && len(x.title) == 0
	case is(name, "script"), is(name, "style"), is(name, "template"), is(name, "noscript"):
		if !x.selfClosing() {
			x.skip++
		}
	case is(name, "base"):
		if href, ok := x.attr("href"); ok && !x.baseSet {
			if u, err := x.base.Parse(strings.TrimSpace(href)); err == nil {
				x.base, x.baseSet = u, true
				clear(x.hrefs)
			}
		}
	case is(name, "meta"):
		if n, _ := x.attr("name"); strings.EqualFold(n, "robots") {
			content, _ := x.attr("content")
			for d := range strings.SplitSeq(content, ",") {
				if d = strings.TrimSpace(d); strings.EqualFold(d, "noindex") || strings.EqualFold(d, "none") {
					x.p.NoIndex = true
				}
			}
		}
	case is(name, "a"):
		href, ok := x.attr("href")
		if !ok || len(x.p.Links) >= MaxLinks {
			break
		}
		if _, done := x.hrefs[href]; done {
			break // resolved before: its link, if any, is in Links
		}
		if x.hrefs == nil {
			x.hrefs, x.seen = map[string]struct{}{}, map[string]bool{}
		}
		x.hrefs[href] = struct{}{}
		if link := Resolve(x.base, href); link != "" && !x.seen[link] {
			x.seen[link] = true
			x.p.Links = append(x.p.Links, link)
		}
	}
	return raw
}

func (x *scanner) endTag() {
	name := x.b[x.nameStart:x.nameEnd]
	switch {
	case is(name, "title"):
		x.inTitle = false
	case is(name, "script"), is(name, "style"), is(name, "template"), is(name, "noscript"):
		x.skip = max(0, x.skip-1)
	}
}

// selfClosing reports whether the tag just read ends with "/>" that is not
// the end of its last attribute's value. Attributes with the key of an
// earlier one do not count.
func (x *scanner) selfClosing() bool {
	if x.b[x.i-2] != '/' {
		return false
	}
	last := -1
	if len(x.attrs) <= 16 {
		for j := len(x.attrs) - 1; j >= 0 && last < 0; j-- {
			last = j
			for m := range j {
				if x.sameKey(x.attrs[m].key, x.attrs[j].key) {
					last = -1
					break
				}
			}
		}
	} else {
		keys := map[string]bool{}
		for j, a := range x.attrs {
			k := strings.ToLower(string(x.b[a.key.start:a.key.end]))
			if !keys[k] {
				keys[k], last = true, j
			}
		}
	}
	return last < 0 || x.i-2 != x.attrs[last].val.end-1
}

func (x *scanner) sameKey(a, b span) bool {
	if a.end-a.start != b.end-b.start {
		return false
	}
	for i := range a.end - a.start {
		c, d := x.b[a.start+i], x.b[b.start+i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// attr is the value of the current tag's attribute key (lower case): the
// first one of that key, decoded; ok is false when there is none or its
// value is longer than MaxLinkBytes. The value may share the page's memory.
func (x *scanner) attr(key string) (string, bool) {
	for _, a := range x.attrs {
		if !is(x.b[a.key.start:a.key.end], key) {
			continue
		}
		v := x.b[a.val.start:a.val.end]
		var s string
		if bytes.IndexByte(v, '&') < 0 && bytes.IndexByte(v, '\r') < 0 && bytes.IndexByte(v, 0) < 0 {
			s = unsafe.String(unsafe.SliceData(v), len(v))
		} else {
			// Rare: references, CR or NUL in the value. The tokenizer
			// decodes them by the rules of attribute values.
			s = tokenizedAttr(x.b[x.tagStart:x.i], key)
		}
		return s, len(s) <= MaxLinkBytes
	}
	return "", false
}

// tokenizedAttr is the value x/net/html's tokenizer gives attribute key of
// the start tag tag.
func tokenizedAttr(tag []byte, key string) string {
	z := html.NewTokenizer(bytes.NewReader(tag))
	if tt := z.Next(); tt != html.StartTagToken && tt != html.SelfClosingTagToken {
		return ""
	}
	for more := true; more; {
		var k, v []byte
		k, v, more = z.TagAttr()
		if string(k) == key {
			return string(v)
		}
	}
	return ""
}

// rawEndTag reports whether "</" (just read) begins the end tag of tag,
// leaving the scan at its '<' if so.
func (x *scanner) rawEndTag(tag string) bool {
	for k := 0; k < len(tag); k++ {
		c, ok := x.next()
		if !ok {
			return false
		}
		if c != tag[k] && c != tag[k]-('a'-'A') {
			x.i--
			return false
		}
	}
	c, ok := x.next()
	if !ok {
		return false
	}
	if isSpace(c) || c == '/' || c == '>' {
		x.i -= 3 + len(tag)
		return true
	}
	x.i--
	return false
}

// scanRaw finds the end of the raw text (or RCDATA) of tag and returns it.
func (x *scanner) scanRaw(tag string) int {
	for {
		j := bytes.IndexByte(x.b[x.i:], '<')
		if j < 0 {
			x.i, x.eof = len(x.b), true
			return x.i
		}
		x.i += j + 1
		c, ok := x.next()
		if !ok {
			return x.i
		}
		if c != '/' {
			x.i--
			continue
		}
		if x.rawEndTag(tag) || x.eof {
			return x.i
		}
	}
}

// scanScript finds the end of a script's text, through the script data
// states (escaped "<!--" and double-escaped "<script>" inside it).
func (x *scanner) scanScript() int {
	var (
		c      byte
		ok, lt bool
		j      int
		dashes int // of the escaped state entered
	)
data:
	if j = bytes.IndexByte(x.b[x.i:], '<'); j < 0 {
		x.i, x.eof = len(x.b), true
		return x.i
	}
	x.i += j + 1
	if c, ok = x.next(); !ok {
		return x.i
	}
	switch c {
	case '/':
		if x.rawEndTag("script") || x.eof {
			return x.i
		}
		goto data
	case '!':
		if c, ok = x.next(); !ok {
			return x.i
		}
		if c != '-' {
			x.i--
			goto data
		}
		if c, ok = x.next(); !ok {
			return x.i
		}
		if c != '-' {
			x.i--
			goto data
		}
		dashes = 2
		goto escaped
	}
	x.i--
	goto data
escaped:
	if lt, ok = x.escapedText(dashes); !ok {
		return x.i
	}
	if !lt {
		goto data
	}
	// The escaped less-than sign state.
	dashes = 0
	if c, ok = x.next(); !ok {
		return x.i
	}
	if c == '/' {
		if x.rawEndTag("script") || x.eof {
			return x.i
		}
		goto escaped
	}
	x.i--
	if !isLetter(c) {
		goto data // as x/net/html does
	}
	for k := range len("script") {
		if c, ok = x.next(); !ok {
			return x.i
		}
		if c != "script"[k] && c != "SCRIPT"[k] {
			x.i--
			goto escaped
		}
	}
	if c, ok = x.next(); !ok {
		return x.i
	}
	if !isSpace(c) && c != '/' && c != '>' {
		x.i--
		goto escaped
	}
doubleEscaped:
	if lt, ok = x.escapedText(0); !ok {
		return x.i
	}
	if !lt {
		goto data
	}
	// The double-escaped less-than sign state.
	if c, ok = x.next(); !ok {
		return x.i
	}
	if c != '/' {
		x.i--
		goto doubleEscaped
	}
	if x.rawEndTag("script") {
		x.i += len("</script>")
		goto escaped
	}
	if x.eof {
		return x.i
	}
	goto doubleEscaped
}

// escapedText reads script text in the escaped states (or the double-escaped
// ones: the two triples of states move alike), dashes the run of '-' just
// read: the state is (double) escaped, escaped dash or escaped dash dash for
// a run of 0, 1 or 2 and more. It stops after a '<' (lt) or after "-->"
// (back to script data, lt false); ok is false at the end of the input.
func (x *scanner) escapedText(dashes int) (lt, ok bool) {
	for {
		c, ok := x.next()
		switch {
		case !ok:
			return false, false
		case c == '<':
			return true, true
		case c == '>' && dashes >= 2:
			return false, true
		case c == '-':
			dashes = min(dashes+1, 2)
		default:
			dashes = 0
		}
	}
}

// collapse appends s to dst with runs of white space (unicode.IsSpace) as
// one space, none at the ends, and each run of invalid UTF-8 as U+FFFD.
func collapse(dst, s []byte) []byte {
	pending, invalid := false, false
	start := len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			invalid = false
			if asciiSpace[c] {
				pending = true
				i++
				continue
			}
			// A run of visible ASCII is copied at once.
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && !asciiSpace[s[j]] {
				j++
			}
			if pending && len(dst) > start {
				dst = append(dst, ' ')
			}
			pending = false
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			if invalid {
				i++
				continue
			}
			invalid = true
		} else {
			invalid = false
			if unicode.IsSpace(r) {
				pending = true
				i += size
				continue
			}
		}
		if pending && len(dst) > start {
			dst = append(dst, ' ')
		}
		pending = false
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// asciiSpace holds the ASCII characters unicode.IsSpace accepts.
var asciiSpace = [utf8.RuneSelf]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true}

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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
