package corpus

import "testing"

func TestJoinURL(t *testing.T) {
	for _, tc := range []struct {
		base, path, want string
	}{
		{"https://sqlite.org/", "lang_select.html", "https://sqlite.org/lang_select.html"},
		{"https://sqlite.org", "lang_select.html", "https://sqlite.org/lang_select.html"},
		{"https://sqlite.org/docs", "c3ref/open.html", "https://sqlite.org/docs/c3ref/open.html"},
		{"https://sqlite.org/docs/", "docs/index.html", "https://sqlite.org/docs/docs/index.html"},
		{"https://sqlite.org/", "./a//b/./index.html", "https://sqlite.org/a/b/index.html"},
		{"https://sqlite.org/", "a b/c?d#e%.html", "https://sqlite.org/a%20b/c%3Fd%23e%25.html"},
		{"http://example.com/x/?q=1#f", "é.html", "http://example.com/x/%C3%A9.html"},
		{"HTTPS://Example.com/a%20b/", "p.html", "https://Example.com/a%20b/p.html"},
	} {
		b, err := parseBase(tc.base)
		if err != nil {
			t.Errorf("parseBase(%q): %v", tc.base, err)
			continue
		}
		segs, err := pathSegments(tc.path)
		if err != nil {
			t.Errorf("pathSegments(%q): %v", tc.path, err)
			continue
		}
		if got := joinURL(b, segs); got != tc.want {
			t.Errorf("join(%q, %q) = %q, want %q", tc.base, tc.path, got, tc.want)
		}
	}
}

func TestBadPathsAndBases(t *testing.T) {
	for _, p := range []string{"", "/", "./", "../a.html", "a/../b.html", "a/.."} {
		if _, err := pathSegments(p); err == nil {
			t.Errorf("pathSegments(%q) succeeded", p)
		}
	}
	for _, b := range []string{"", "sqlite.org/", "/docs/", "ftp://sqlite.org/", "https:opaque", "https:///x", "http://[::1"} {
		if _, err := parseBase(b); err == nil {
			t.Errorf("parseBase(%q) succeeded", b)
		}
	}
}
