package corpus

import (
	"bytes"
	"fmt"
	"net/http"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// SniffBytes is how much of a body the content sniffer looks at.
const SniffBytes = 64 << 10

// notHTML says why a body named or served as HTML is not HTML, or "" when
// it may be. It looks at the first SniffBytes bytes, in the charset the page
// declares (contentType's charset parameter, a byte-order mark, or a
// <meta charset> in the first 1024 bytes):
//
//   - a NUL byte is binary content (unless a UTF-16 byte-order mark says the
//     page is UTF-16, where NULs are normal);
//   - with a declared charset, more than 10% of the characters invalid in
//     it or C0 control characters (other than tab, line ends and form
//     feed) is binary content;
//   - without one, more than a third of the bytes invalid as UTF-8 together
//     with more than 1% control characters is binary content: a page in an
//     undeclared legacy charset is mostly invalid UTF-8 too, but has no
//     control characters, while random bytes have about 10%.
//
// The thresholds are far from both real pages (a handful of stray bytes)
// and random bytes (over half invalid), so neither side is near them.
func notHTML(body []byte, contentType string) string {
	w := body[:min(len(body), SniffBytes)]
	if bytes.HasPrefix(w, []byte{0xfe, 0xff}) || bytes.HasPrefix(w, []byte{0xff, 0xfe}) {
		return ""
	}
	if i := bytes.IndexByte(w, 0); i >= 0 {
		return fmt.Sprintf("binary content: a NUL byte at offset %d", i)
	}
	enc, name, certain := charset.DetermineEncoding(w, contentType)
	declared := certain || name != "windows-1252"
	if !declared || name == "utf-8" {
		runes, invalid, controls := countUTF8(w)
		switch {
		case declared && (invalid+controls)*10 > runes:
			return fmt.Sprintf("binary content: %d of %d characters invalid UTF-8 or control characters", invalid+controls, runes)
		case !declared && invalid*3 > len(w) && controls*100 > runes:
			return fmt.Sprintf("binary content: %d of %d bytes invalid UTF-8, %d control characters, no charset declared", invalid, len(w), controls)
		}
		return ""
	}
	out, err := enc.NewDecoder().Bytes(w)
	if err != nil {
		return fmt.Sprintf("binary content: does not decode as %s", name)
	}
	runes, invalid, controls := countUTF8(out)
	invalid += bytes.Count(out, []byte("\uFFFD"))
	if (invalid+controls)*10 > runes {
		return fmt.Sprintf("binary content: %d of %d characters invalid in %s or control characters", invalid+controls, runes, name)
	}
	return ""
}

// countUTF8 counts the runes of b, the bytes that are not valid UTF-8 (each
// counts as a rune) and the C0 control characters other than tab, line
// feed, form feed and carriage return (and DEL).
func countUTF8(b []byte) (runes, invalid, controls int) {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r' || c == 0x7f {
				controls++
			}
			runes++
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			if len(b)-i < utf8.UTFMax && len(b) == SniffBytes && !utf8.FullRune(b[i:]) {
				break // a character cut by the sniff window
			}
			invalid++
		}
		runes++
		i += n
	}
	return runes, invalid, controls
}

// looksLikeHTML reports whether the start of a file of no HTML name is
// HTML by the WHATWG sniffing rules (net/http.DetectContentType).
func looksLikeHTML(head []byte) bool {
	return isHTMLType(http.DetectContentType(head))
}
