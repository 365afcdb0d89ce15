// Package corpus reads web pages out of the input files of the web-index job:
// single HTML files, tar archives of HTML files and WARC files (ISO 28500,
// WARC/1.0 and WARC/1.1, plain or gzip-compressed).
//
// ReadFile reads one file and hands every HTML page in it to a callback, and
// everything it skipped or cut to another. Damaged content is never an error:
// it is a Problem naming the file (and the archive member or WARC record
// offset), and reading goes on with the next member or record where the
// framing allows it, or stops for that file where it does not.
//
// Memory is bounded whatever the input: a page body is at most MaxPageBytes,
// WARC record headers at most MaxWARCHeaderBytes, HTTP response headers at
// most MaxHTTPHeaderBytes; larger declared sizes are skipped by reading
// through them, never by allocating them, and compressed bodies are
// decompressed only up to MaxPageBytes+1 bytes.
package corpus

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Page is one fetched page.
type Page struct {
	URL         string // absolute http(s) URL
	Body        []byte // at most MaxPageBytes; Truncated says if it was cut
	ContentType string // HTTP Content-Type when known ("" otherwise)
	Source      string // where it came from: "file", "file.tar.gz:member/path.html", "file.warc.gz@<record offset>"
	Truncated   bool
}

// Problem is input that was skipped (or truncated), with where it was.
type Problem struct {
	Source string // as in Page.Source (file and offset/member)
	Kind   string // a short stable reason key, one of the Kind constants
	Detail string // human-readable
}

// Limits on what one page or record may make ReadFile hold in memory.
const (
	MaxPageBytes       = 10 << 20 // bytes of body kept per page; the rest is dropped and Truncated set
	MaxWARCHeaderBytes = 64 << 10 // bytes of one WARC record's header block, version line included
	MaxHTTPHeaderBytes = 1 << 20  // bytes of one HTTP response's status line and headers
)

// Problem kinds. They are stable: the job counts problems by kind.
const (
	KindNotHTML             = "not-html"             // a file, member or response that is not HTML
	KindTooLarge            = "too-large"            // body over MaxPageBytes: the page was cut to MaxPageBytes
	KindEmpty               = "empty"                // an empty file, member or body (no page)
	KindBadURL              = "bad-url"              // no absolute http(s) URL: bad base URL or target URI, ".." in a path
	KindNotRegular          = "not-regular"          // a tar member that is a link, device or FIFO
	KindCorruptGzip         = "corrupt-gzip"         // the file's gzip stream is damaged or truncated; rest of file skipped
	KindCorruptTar          = "corrupt-tar"          // the tar framing is damaged or truncated; rest of file skipped
	KindCorruptWARC         = "corrupt-warc"         // the WARC framing is damaged or truncated; rest of file skipped
	KindNonResponse         = "non-response"         // a WARC record that is not an HTTP response (see readWARC)
	KindHTTPStatus          = "http-status"          // an HTTP response whose status is not 200
	KindBadHTTP             = "bad-http"             // an HTTP response that cannot be parsed or decoded
	KindUnsupportedEncoding = "unsupported-encoding" // a Content-Encoding other than gzip or identity
	KindTruncated           = "truncated"            // a WARC record marked WARC-Truncated: the page is partial
)

// ReadFile reads one input file and calls page for every HTML page in it and
// problem for everything skipped or truncated.
//
// rel is the file's path relative to the input root it was found under
// (slash-separated; the file's base name is used when rel is ""); it is what
// Sources start with. baseURL is the --base-url of the job: pages of HTML
// files and tar archives get the URL baseURL joined with their path (see
// joinURL); WARC pages use their WARC-Target-URI and ignore baseURL.
//
// The kind of file is chosen by its name, case-insensitively:
//
//	*.warc, *.warc.gz          WARC (see readWARC)
//	*.tar.gz, *.tgz, *.tar     tar archive of HTML files (see readTar)
//	*.html, *.htm, *.xhtml     one page, URL = baseURL joined with rel
//	anything else              one page as above if its first 512 bytes look
//	                           like HTML (WHATWG sniffing), else Problem
//	                           "not-html" for the file
//
// Every page, whatever its kind of file, is sniffed (see notHTML): binary
// content is a Problem "not-html", not a page.
//
// page and problem are called from the calling goroutine, in file order.
// page owns Page.Body: each page gets a fresh slice. ReadFile returns an error
// only when page returns one (that error, unwrapped, to stop the job), when
// the file cannot be opened, or when reading it fails with an I/O error;
// damaged content is a Problem.
func ReadFile(path, rel, baseURL string, page func(Page) error, problem func(Problem)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	name := rel
	if name == "" {
		name = filepath.Base(path)
	}
	first := f
	open := func() (io.ReadCloser, error) {
		if first != nil {
			// The file opened above, once; the reader closes it, as
			// does the deferred Close (a second Close is harmless).
			g := first
			first = nil
			return g, nil
		}
		return os.Open(path)
	}
	return read(kindOf(filepath.Base(path)), name, baseURL, open, page, problem)
}

// fileKind is how a file is read.
type fileKind int

const (
	kindOther fileKind = iota
	kindHTML
	kindTar
	kindTarGz
	kindWARC
)

// kindOf chooses how to read a file from its base name.
func kindOf(base string) fileKind {
	n := strings.ToLower(base)
	switch {
	case strings.HasSuffix(n, ".warc"), strings.HasSuffix(n, ".warc.gz"):
		return kindWARC
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return kindTarGz
	case strings.HasSuffix(n, ".tar"):
		return kindTar
	case isHTMLName(n):
		return kindHTML
	}
	return kindOther
}

// IsArchive reports whether ReadFile reads the file at path as an archive
// of many pages (tar, WARC) rather than as one page, by its name.
func IsArchive(path string) bool {
	switch kindOf(filepath.Base(path)) {
	case kindTar, kindTarGz, kindWARC:
		return true
	}
	return false
}

// isHTMLName reports whether a file or member name has an HTML extension.
func isHTMLName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".html") || strings.HasSuffix(n, ".htm") || strings.HasSuffix(n, ".xhtml")
}

// reader holds what every kind of file is read with.
type reader struct {
	name    string // the file as Sources name it
	base    string // the base URL as a prefix ending in "/"; "" when it is not usable
	baseErr error  // why base is ""
	page    func(Page) error
	problem func(Problem)
}

// read reads a file of the given kind; open returns a fresh reader of the
// whole file each time it is called (tar archives are read twice).
func read(kind fileKind, name, baseURL string, open func() (io.ReadCloser, error), page func(Page) error, problem func(Problem)) error {
	r := &reader{name: name, page: page, problem: problem}
	r.base, r.baseErr = parseBase(baseURL)
	switch kind {
	case kindHTML:
		return r.readHTML(open)
	case kindTar, kindTarGz:
		return r.readTar(open, kind == kindTarGz)
	case kindWARC:
		return r.readWARC(open)
	}
	html, err := r.sniffFile(open)
	if err != nil || html {
		if err == nil {
			err = r.readHTML(open)
		}
		return err
	}
	r.report(name, KindNotHTML, "not an HTML, tar or WARC file name, and the content does not look like HTML")
	return nil
}

// sniffFile reports whether a file of no known name starts like HTML (see
// looksLikeHTML): such a file is a page whatever its name.
func (r *reader) sniffFile(open func() (io.ReadCloser, error)) (bool, error) {
	f, err := open()
	if err != nil {
		return false, fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	src := &source{r: f}
	head, err := readBody(src, 512, 512)
	if err != nil {
		return false, r.ioError(src)
	}
	return looksLikeHTML(head), nil
}

func (r *reader) report(source, kind, detail string) {
	r.problem(Problem{Source: source, Kind: kind, Detail: detail})
}

// source is the raw bytes of a file. It remembers the first read error other
// than io.EOF: such an error is an I/O failure of the file, not damage in it.
type source struct {
	r   io.Reader
	n   int64 // bytes read so far
	err error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// ioError is what ReadFile returns when the file itself could not be read.
func (r *reader) ioError(s *source) error {
	return fmt.Errorf("corpus: reading %s: %w", r.name, s.err)
}

// readBody reads up to limit bytes of r, growing the buffer only as data
// arrives (a declared size is never trusted for allocation beyond sizeHint,
// itself capped at 1 MiB).
func readBody(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	hint := min(sizeHint, limit, 1<<20)
	buf := make([]byte, 0, max(hint, 512))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):min(int64(cap(buf)), limit)]
		n, err := r.Read(room)
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
