package corpus

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// readWARC reads a WARC file (ISO 28500; WARC/1.0 and WARC/1.1, and any
// "WARC/<digits>.<digits>" version with the same framing), plain or gzip
// (recognized by its magic bytes; a *.warc.gz file must be gzip), record by
// record. Sources name a record by its offset: "file.warc.gz@1234", the file
// offset of the record (plain) or of the gzip member it starts (compressed;
// "@member+n" for a record n bytes into a member's content).
//
// What each record becomes:
//
//   - response with an HTTP payload (Content-Type application/http, msgtype
//     response or absent; or no Content-Type at all): the HTTP response is
//     parsed (see response) and an HTML 200 response becomes a page.
//   - warcinfo, request and metadata: skipped silently. They are the normal
//     companions of responses in a crawl, so a Problem per record would only
//     be noise.
//   - any other type (resource, revisit, conversion, continuation, unknown)
//     and response records with a non-HTTP payload (dns:, ...): Problem
//     "non-response", then skipped.
//
// The record's Content-Length drives the framing: the block is read or
// skipped to its end whatever happened to the payload, so a bad payload
// costs one record only. A bad record header (no version line, no or a bad
// Content-Length, headers over MaxWARCHeaderBytes) or a record cut short is
// a Problem "corrupt-warc" ("corrupt-gzip" when the gzip stream failed) and
// ends the file: nothing robust says where the next record starts. A file
// with no records at all is a Problem "empty".
func (r *reader) readWARC(open func() (io.ReadCloser, error)) error {
	f, err := open()
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	w := &warcReader{reader: r}
	w.s, err = openStream(f, strings.HasSuffix(strings.ToLower(r.name), ".gz"), MaxWARCHeaderBytes)
	if err != nil {
		return w.failed(r.name+"@0", err)
	}
	w.br = bufio.NewReaderSize(w.s, MaxWARCHeaderBytes)
	records := 0
	for {
		rec, err := w.next()
		if err == io.EOF {
			if records == 0 {
				r.report(r.name, KindEmpty, "no WARC records")
			}
			return nil
		}
		if err != nil {
			return w.failed(rec.source, err)
		}
		records++
		stop, err := w.record(rec)
		if err != nil || stop {
			return err
		}
	}
}

// warcReader reads the records of one WARC file.
type warcReader struct {
	*reader
	s  *stream
	br *bufio.Reader // over s; its buffer holds a whole record header
	hr *bufio.Reader // reused for HTTP payloads
}

// warcRecord is the header of a record, the fields that are used.
type warcRecord struct {
	source      string // where the record starts
	typ         string // WARC-Type
	uri         string // WARC-Target-URI, without <>
	contentType string // Content-Type of the block
	truncated   string // WARC-Truncated: why the crawler cut the payload
	length      int64  // Content-Length of the block
}

// errCorrupt marks framing damage; the text says what.
var errCorrupt = errors.New("corrupt WARC")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// failed reports what stopped the file at src, or returns the I/O error
// that did.
func (w *warcReader) failed(src string, err error) error {
	switch {
	case w.s.src.err != nil:
		return w.ioError(w.s.src)
	case w.s.gzErr != nil:
		if w.s.src.n == 0 {
			w.report(w.name, KindEmpty, "empty file")
			return nil
		}
		w.report(src, KindCorruptGzip, w.s.gzErr.Error())
	case errors.Is(err, errCorrupt):
		w.report(src, KindCorruptWARC, strings.TrimPrefix(err.Error(), errCorrupt.Error()+": "))
	case err == io.ErrUnexpectedEOF:
		w.report(src, KindCorruptWARC, "record cut short by the end of the file")
	default:
		w.report(src, KindCorruptWARC, err.Error())
	}
	return nil
}

// next reads the header of the next record; io.EOF when there is none. The
// record's source is set whenever its start was found, even on error.
func (w *warcReader) next() (warcRecord, error) {
	var rec warcRecord
	// Records end with CRLF CRLF; tolerate any run of line ends between them.
	for skipped := 0; ; skipped++ {
		c, err := w.br.ReadByte()
		if err == io.EOF {
			return rec, io.EOF
		}
		if err != nil {
			rec.source = w.s.where(w.name, w.s.out-int64(w.br.Buffered()))
			return rec, err
		}
		if c != '\r' && c != '\n' || skipped > MaxWARCHeaderBytes {
			w.br.UnreadByte()
			break
		}
	}
	rec.source = w.s.where(w.name, w.s.out-int64(w.br.Buffered()))

	budget := MaxWARCHeaderBytes
	line, err := w.line(&budget)
	if err != nil {
		return rec, err
	}
	if !isWARCVersion(line) {
		return rec, corrupt("no WARC version line (got %q)", clip(line, 32))
	}
	haveLength := false
	var last *string // the field a continuation line extends
	for {
		line, err := w.line(&budget)
		if err != nil {
			return rec, err
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != nil {
				*last = strings.TrimSpace(*last + " " + strings.TrimSpace(string(line)))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			last = nil
			continue // not a field; the framing does not depend on it
		}
		v := strings.TrimSpace(string(value))
		last = nil
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "warc-type":
			rec.typ, last = v, &rec.typ
		case "warc-target-uri":
			rec.uri, last = v, &rec.uri
		case "content-type":
			rec.contentType, last = v, &rec.contentType
		case "warc-truncated":
			rec.truncated = v
		case "content-length":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v[0] == '+' {
				return rec, corrupt("bad Content-Length %q", clip([]byte(v), 32))
			}
			if haveLength && n != rec.length {
				return rec, corrupt("conflicting Content-Length headers")
			}
			rec.length, haveLength = n, true
		}
	}
	if !haveLength {
		return rec, corrupt("record without Content-Length")
	}
	rec.uri = strings.TrimSuffix(strings.TrimPrefix(rec.uri, "<"), ">")
	return rec, nil
}

// line reads one header line without its line end, charging it to budget.
func (w *warcReader) line(budget *int) ([]byte, error) {
	line, err := w.br.ReadSlice('\n')
	*budget -= len(line)
	if *budget < 0 || err == bufio.ErrBufferFull {
		return nil, corrupt("record header over %d bytes", MaxWARCHeaderBytes)
	}
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}

// isWARCVersion reports whether line is "WARC/<digits>.<digits>".
func isWARCVersion(line []byte) bool {
	v, ok := bytes.CutPrefix(line, []byte("WARC/"))
	if !ok {
		return false
	}
	major, minor, ok := bytes.Cut(v, []byte("."))
	return ok && allDigits(major) && allDigits(minor)
}

func allDigits(b []byte) bool {
	if len(b) == 0 || len(b) > 4 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// clip shortens b for a Problem's Detail.
func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// record handles the block of one record and skips to its end. It returns
// stop when a Problem ended the file, and the error to return from ReadFile.
func (w *warcReader) record(rec warcRecord) (stop bool, err error) {
	block := &io.LimitedReader{R: w.br, N: rec.length}
	var out result
	switch strings.ToLower(rec.typ) {
	case "response":
		out = w.response(rec, block)
	case "warcinfo", "request", "metadata":
	default:
		out.problem(rec.source, KindNonResponse, fmt.Sprintf("%q record", clip([]byte(rec.typ), 32)))
	}
	// Skip what the payload left, so that the next record is found even
	// when the payload was bad; a record cut short ends the file.
	if _, err := io.Copy(io.Discard, block); err != nil || block.N > 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return true, w.failed(rec.source, err)
	}
	for _, p := range out.problems {
		w.problem(p)
	}
	if out.page != nil {
		return false, w.page(*out.page)
	}
	return false, nil
}

// result is what one record gives: at most one page and some Problems,
// delivered once the record is known to be whole.
type result struct {
	page     *Page
	problems []Problem
}

func (o *result) problem(src, kind, detail string) {
	o.problems = append(o.problems, Problem{Source: src, Kind: kind, Detail: detail})
}
