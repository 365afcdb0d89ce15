package corpus

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf16"
)

// randomBytes is n bytes of a fixed-seed generator; noNUL replaces zero
// bytes, to test the invalid-UTF-8 rule on its own.
func randomBytes(n int, noNUL bool) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
		if noNUL && b[i] == 0 {
			b[i] = 1
		}
	}
	return b
}

func TestSniffBinaryContent(t *testing.T) {
	cp1251 := []byte("<html><title>\xcf\xf0\xe8\xe2\xe5\xf2</title><p>" + strings.Repeat("\xcc\xee\xf1\xea\xe2\xe0 \xe3\xee\xf0\xee\xe4. ", 200))
	var utf16page []byte
	utf16page = append(utf16page, 0xff, 0xfe)
	for _, u := range utf16.Encode([]rune("<html><title>UTF-16</title><p>zebras</p></html>")) {
		utf16page = append(utf16page, byte(u), byte(u>>8))
	}
	for _, tc := range []struct {
		name  string
		body  []byte
		ctype string
		bad   bool
	}{
		{"random bytes", randomBytes(200<<10, false), "", true},
		{"random bytes without NUL", randomBytes(200<<10, true), "", true},
		{"random bytes without NUL, declared latin1", randomBytes(200<<10, true), "text/html; charset=iso-8859-1", true},
		{"random bytes without NUL, declared shift_jis", randomBytes(200<<10, true), "text/html; charset=shift_jis", true},
		{"NUL inside a page", []byte("<html><p>a\x00b</p>"), "", true},
		{"declared utf-8, mostly invalid", []byte(`<meta charset="utf-8"><p>` + strings.Repeat("\xff\xfe\xfd", 100)), "", true},
		{"page", []byte(page1), "", false},
		{"undeclared latin1 page", []byte("<title>Caf\xe9</title><p>invalid UTF-8 \xff\xfe zebras"), "", false},
		{"undeclared cp1251 page", cp1251, "", false},
		{"declared cp1251 page", cp1251, "text/html; charset=windows-1251", false},
		{"utf-16 page with byte-order mark", utf16page, "", false},
		{"utf-8 page cut mid-character by the window", append(bytes.Repeat([]byte("é"), SniffBytes/2-1), 'a', 0xc3), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why := notHTML(tc.body, tc.ctype)
			if (why != "") != tc.bad {
				t.Fatalf("notHTML = %q, want binary %v", why, tc.bad)
			}
		})
	}
}

// TestRandomBytesNamedHTML reads a 200 KB file of random bytes named
// x.html: no page, one Problem "not-html" naming it.
func TestRandomBytesNamedHTML(t *testing.T) {
	path := writeTemp(t, "x.html", randomBytes(200<<10, false))
	g := readPath(t, path, "x.html", base)
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(g.pages) != 0 || g.kinds() != KindNotHTML || g.problems[0].Source != "x.html" {
		t.Fatalf("pages %d, problems %+v", len(g.pages), g.problems)
	}
}
