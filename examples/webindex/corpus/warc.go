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
// costs one record only. A record is whole only when its block is followed
// by line ends and the next record's "WARC/" line (or the end of the file).
// A damaged record — a bad header (no version line, no, a negative or an
// unparsable Content-Length, headers over MaxWARCHeaderBytes), a
// Content-Length too small (the block does not end at a record boundary)
// or too large (it runs into the records after it or past the end of the
// file) — is a Problem "corrupt-warc", and reading resynchronizes at the
// next line that is exactly "WARC/1.0" or "WARC/1.1": from the start of the
// damaged block when it is at most MaxReplayBytes long (so the records a
// too-large length swallowed are kept), from where the damage was found
// otherwise; the bytes put back over a whole file never exceed the bytes
// read from it (so that hostile lengths cannot make reading quadratic). A damaged record gives no page. A failed gzip stream is a
// Problem "corrupt-gzip" and ends the file. A file with no records at all
// is a Problem "empty".
func (r *reader) readWARC(open func() (io.ReadCloser, error)) error {
	f, err := open()
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	w := &warcReader{reader: r}
	w.s, err = openStream(f, strings.HasSuffix(strings.ToLower(r.name), ".gz"), MaxReplayBytes+2*MaxWARCHeaderBytes)
	if err != nil {
		_, err := w.damaged(r.name+"@0", err)
		return err
	}
	w.in = &replay{r: w.s}
	w.br = bufio.NewReaderSize(w.in, MaxWARCHeaderBytes)
	records := 0
	for {
		rec, err := w.next()
		if err == io.EOF {
			if records == 0 {
				r.report(r.name, KindEmpty, "no WARC records")
			}
			return nil
		}
		records++
		if err == nil {
			var perr error
			if err, perr = w.record(rec); perr != nil {
				return perr
			}
			if err == nil {
				continue
			}
		}
		if stop, err := w.damaged(rec.source, err); stop {
			return err
		}
		if err := w.resync(); err != nil {
			if err == io.EOF {
				return nil
			}
			_, err := w.damaged(w.where(), err)
			return err
		}
	}
}

// MaxReplayBytes is the longest record block that is kept while it is read,
// so that reading can resynchronize inside it when its Content-Length
// proves wrong.
const MaxReplayBytes = MaxPageBytes + MaxHTTPHeaderBytes

// warcReader reads the records of one WARC file.
type warcReader struct {
	*reader
	s   *stream
	in  *replay       // over s
	br  *bufio.Reader // over in; its buffer holds a whole record header
	hr  *bufio.Reader // reused for HTTP payloads
	blk []byte        // the current record's block as read, up to MaxReplayBytes
	// replayed counts the bytes put back to resynchronize; it is kept
	// below the bytes read from the file, so that records whose lengths
	// each claim the rest of the file cost linear time, not quadratic.
	replayed int64
}

// replay reads pending bytes (put back to resynchronize) before the stream.
type replay struct {
	pending []byte
	r       io.Reader
	pos     int64 // content position of the next byte Read returns
}

func (p *replay) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		p.pos += int64(n)
		return n, nil
	}
	n, err := p.r.Read(b)
	p.pos += int64(n)
	return n, err
}

// pos is the content position of the next byte the record reader reads.
func (w *warcReader) pos() int64 { return w.in.pos - int64(w.br.Buffered()) }

// where names the current position as a Source.
func (w *warcReader) where() string { return w.s.where(w.name, w.pos()) }

// rewind puts the bytes from content position at back in front of what is
// still to be read: data are the bytes from at up to what br has consumed.
func (w *warcReader) rewind(at int64, data []byte) {
	buffered, _ := w.br.Peek(w.br.Buffered())
	pending := make([]byte, 0, len(data)+len(buffered)+len(w.in.pending))
	pending = append(append(append(pending, data...), buffered...), w.in.pending...)
	w.in.pending, w.in.pos = pending, at
	w.br.Reset(w.in)
}

// resync skips to the next line that is exactly "WARC/1.0" or "WARC/1.1"
// (with CRLF or LF), leaving the reader at its start; io.EOF when there is
// none. The current position counts as a line start.
func (w *warcReader) resync() error {
	atStart := true
	for {
		if atStart {
			b, _ := w.br.Peek(10)
			if isResyncLine(b) {
				return nil
			}
		}
		_, err := w.br.ReadSlice('\n')
		switch err {
		case nil:
			atStart = true
		case bufio.ErrBufferFull:
			atStart = false
		default:
			return err
		}
	}
}

// isResyncLine reports whether b starts with a "WARC/1.0" or "WARC/1.1"
// line.
func isResyncLine(b []byte) bool {
	if len(b) < 9 || !bytes.HasPrefix(b, []byte("WARC/1.0")) && !bytes.HasPrefix(b, []byte("WARC/1.1")) {
		return false
	}
	return b[8] == '\n' || len(b) >= 10 && b[8] == '\r' && b[9] == '\n'
}

// atRecordStart reports whether what follows is line ends and then the
// start of a record ("WARC/") or the end of the file: whether the record
// just read ended where its Content-Length said.
func (w *warcReader) atRecordStart() bool {
	for n := 16; ; n = min(4*n, w.br.Size()) {
		b, err := w.br.Peek(n)
		i := 0
		for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
			i++
		}
		switch rest := b[i:]; {
		case len(rest) >= 5 || len(rest) > 0 && err != nil:
			return bytes.HasPrefix(rest, []byte("WARC/"))
		case err != nil && err != bufio.ErrBufferFull:
			return true // only line ends up to the end (or an error next reports)
		case n == w.br.Size():
			return false
		}
	}
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

// damaged handles damage found at src: an I/O error of the file stops it
// (stop, with that error to return); a failed gzip stream is reported and
// stops it; damaged framing is reported and reading goes on (resync).
func (w *warcReader) damaged(src string, err error) (stop bool, ret error) {
	switch {
	case w.s.src.err != nil:
		return true, w.ioError(w.s.src)
	case w.s.gzErr != nil:
		if w.s.src.n == 0 {
			w.report(w.name, KindEmpty, "empty file")
			return true, nil
		}
		w.report(src, KindCorruptGzip, w.s.gzErr.Error())
		return true, nil
	case errors.Is(err, errCorrupt):
		w.report(src, KindCorruptWARC, strings.TrimPrefix(err.Error(), errCorrupt.Error()+": "))
	case err == io.ErrUnexpectedEOF:
		w.report(src, KindCorruptWARC, "record cut short by the end of the file")
	default:
		w.report(src, KindCorruptWARC, err.Error())
	}
	return false, nil
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
			rec.source = w.where()
			return rec, err
		}
		if c != '\r' && c != '\n' || skipped > MaxWARCHeaderBytes {
			w.br.UnreadByte()
			break
		}
	}
	rec.source = w.where()

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

// record handles the block of one record and skips to its end. damage
// says why the record is damaged (see damaged; its results are then
// dropped); err is the page callback's error, to stop the file with.
func (w *warcReader) record(rec warcRecord) (damage, err error) {
	start := w.pos()
	block := &io.LimitedReader{R: w.br, N: rec.length}
	w.blk = w.blk[:0]
	kept := &keeper{r: block, buf: &w.blk}
	var out result
	switch strings.ToLower(rec.typ) {
	case "response":
		out = w.response(rec, kept)
	case "warcinfo", "request", "metadata":
	default:
		out.problem(rec.source, KindNonResponse, fmt.Sprintf("%q record", clip([]byte(rec.typ), 32)))
	}
	// Skip what the payload left, so that the next record is found even
	// when the payload was bad.
	_, damage = io.Copy(io.Discard, kept)
	if damage == nil && block.N > 0 {
		damage = io.ErrUnexpectedEOF
	}
	if damage == nil && !w.atRecordStart() {
		damage = corrupt("Content-Length %d does not end at a record boundary", rec.length)
	}
	if damage != nil {
		if int64(len(w.blk)) == rec.length-block.N && w.s.src.err == nil && w.s.gzErr == nil &&
			w.replayed+int64(len(w.blk)) <= w.s.out {
			w.replayed += int64(len(w.blk))
			w.rewind(start, w.blk) // resynchronize inside the block
		} else if int64(len(w.blk)) == rec.length-block.N && w.s.src.err == nil && w.s.gzErr == nil {
			damage = fmt.Errorf("%w; the block was not searched for records (the file's resynchronization budget is spent)", damage)
		}
		return damage, nil
	}
	for _, p := range out.problems {
		w.problem(p)
	}
	if out.page != nil {
		return nil, w.page(*out.page)
	}
	return nil, nil
}

// keeper keeps the first MaxReplayBytes bytes read through it.
type keeper struct {
	r   io.Reader
	buf *[]byte
}

func (k *keeper) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if room := MaxReplayBytes - len(*k.buf); room > 0 {
		*k.buf = append(*k.buf, p[:min(n, room)]...)
	}
	return n, err
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
