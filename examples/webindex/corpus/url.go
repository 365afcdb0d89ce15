package corpus

import (
	"errors"
	"net/url"
	"strings"
)

// parseBase turns the job's base URL into the prefix that paths are joined
// to: an absolute http(s) URL without query or fragment whose path ends in
// "/" (one is added: "https://sqlite.org/docs" is the directory /docs/).
func parseBase(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	if !isHTTP(u) {
		return "", errors.New("not an absolute http(s) URL")
	}
	p := u.EscapedPath()
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	u.Path, u.RawPath, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", "", "", false, "", ""
	return u.String() + p, nil
}

// isHTTP reports whether u is an absolute http or https URL with a host.
func isHTTP(u *url.URL) bool {
	s := strings.ToLower(u.Scheme)
	return (s == "http" || s == "https") && u.Host != "" && u.Opaque == ""
}

// Why a path gives no URL.
var (
	errDotDot = errors.New(`".." segment in path`)
	errNoPath = errors.New("empty path")
)

// pathSegments splits a slash-separated relative path into its segments,
// dropping empty and "." segments (so a leading "./" or "/" and doubled
// slashes vanish). It fails on a ".." segment and on a path with no segments.
func pathSegments(p string) ([]string, error) {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		switch s {
		case "", ".":
			continue
		case "..":
			return nil, errDotDot
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return nil, errNoPath
	}
	return segs, nil
}

// joinURL joins segments to the base prefix, escaping each segment:
// "https://sqlite.org/" and "c3ref/open.html" give
// "https://sqlite.org/c3ref/open.html". index.html is kept as it is.
func joinURL(base string, segs []string) string {
	var b strings.Builder
	b.WriteString(base)
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// pageURL is the URL of a file or member at path p, or a reason it has none.
func (r *reader) pageURL(p string) (string, error) {
	if r.baseErr != nil {
		return "", errors.New("bad base URL: " + r.baseErr.Error())
	}
	segs, err := pathSegments(p)
	if err != nil {
		return "", err
	}
	return joinURL(r.base, segs), nil
}
