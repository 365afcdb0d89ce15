package corpus

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const base = "https://sqlite.org/"

// got is what one ReadFile call delivered.
type got struct {
	pages    []Page
	problems []Problem
	err      error
}

// kinds lists the problem kinds in order, for compact comparisons.
func (g got) kinds() string {
	var k []string
	for _, p := range g.problems {
		k = append(k, p.Kind)
	}
	return strings.Join(k, ",")
}

func (g got) urls() string {
	var u []string
	for _, p := range g.pages {
		u = append(u, p.URL)
	}
	return strings.Join(u, " ")
}

// readBytes reads data as a file named name (its kind chosen by the name)
// without touching the disk, as ReadFile would.
func readBytes(name string, data []byte) got {
	var g got
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	g.err = read(kindOf(name), name, base, open,
		func(p Page) error { g.pages = append(g.pages, p); return nil },
		func(p Problem) { g.problems = append(g.problems, p) })
	return g
}

// readPath reads a file on disk with ReadFile.
func readPath(t testing.TB, path, rel, baseURL string) got {
	t.Helper()
	var g got
	g.err = ReadFile(path, rel, baseURL,
		func(p Page) error { g.pages = append(g.pages, p); return nil },
		func(p Problem) { g.problems = append(g.problems, p) })
	return g
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tmember is one tar member to write.
type tmember struct {
	name string
	body string
	typ  byte // tar.TypeReg when 0
}

func tarBytes(t testing.TB, members ...tmember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: m.typ}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Typeflag == tar.TypeSymlink {
			h.Linkname = "elsewhere.html"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// gzEach compresses each part as its own gzip member, as WARC writers do.
func gzEach(parts ...string) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, gz([]byte(p))...)
	}
	return out
}

// record is a WARC/1.0 record with the given header fields and block; the
// Content-Length is added unless a field sets it.
func record(fields, block string) string {
	if !strings.Contains(strings.ToLower(fields), "content-length:") {
		fields += fmt.Sprintf("Content-Length: %d\r\n", len(block))
	}
	return "WARC/1.0\r\n" + fields + "\r\n" + block + "\r\n\r\n"
}

// response is a response record for uri with an HTTP response block.
func response(uri, http string) string {
	return record("WARC-Type: response\r\nWARC-Target-URI: "+uri+"\r\nContent-Type: application/http; msgtype=response\r\n", http)
}

// ok200 is an HTTP 200 text/html response with a Content-Length.
func ok200(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

const warcinfo = "WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Type: application/warc-fields\r\nContent-Length: 16\r\n\r\nsoftware: test\r\n\r\n\r\n"

const page1 = "<html><title>one</title>x</html>"
