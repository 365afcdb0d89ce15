package corpus

import (
	"fmt"
	"io"
	"io/fs"
)

// readHTML reads a file that is one HTML page; its URL is the base URL
// joined with the file's relative path.
func (r *reader) readHTML(open func() (io.ReadCloser, error)) error {
	f, err := open()
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	src := &source{r: f}
	u, err := r.pageURL(r.name)
	if err != nil {
		r.report(r.name, KindBadURL, err.Error())
		return nil
	}
	// The file's size, when known, sizes the buffer: one allocation of
	// what the page needs, not a megabyte per page.
	hint := int64(64 << 10)
	if st, ok := f.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			hint = fi.Size() + 1
		}
	}
	body, err := readBody(src, MaxPageBytes+1, hint)
	if err != nil {
		return r.ioError(src)
	}
	return r.emit(Page{URL: u, Source: r.name}, body)
}

// emit hands a page to the callback after the checks every kind shares:
// an empty body is a Problem "empty" and no page; a body of more than
// MaxPageBytes is cut, marked Truncated and reported as "too-large".
func (r *reader) emit(p Page, body []byte) error {
	if !checkBody(&p, body, r.report) {
		return nil
	}
	return r.page(p)
}

// checkBody applies the checks every kind of input shares: an empty body
// is a Problem "empty" and no page (false), and so is binary content a
// Problem "not-html" (see notHTML); a body of more than
// MaxPageBytes is cut, marked Truncated and reported as "too-large". It
// sets p.Body.
func checkBody(p *Page, body []byte, report func(source, kind, detail string)) bool {
	if len(body) == 0 {
		report(p.Source, KindEmpty, "empty body")
		return false
	}
	if why := notHTML(body, p.ContentType); why != "" {
		report(p.Source, KindNotHTML, why)
		return false
	}
	if len(body) > MaxPageBytes {
		body = body[:MaxPageBytes:MaxPageBytes]
		p.Truncated = true
		report(p.Source, KindTooLarge, fmt.Sprintf("body cut to %d bytes", MaxPageBytes))
	}
	p.Body = body
	return true
}
