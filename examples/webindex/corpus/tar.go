package corpus

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// readTar reads a tar archive (gzip-compressed when gz) of HTML files. Each
// regular member with an HTML extension is a page whose URL is the base URL
// joined with the member's path; its Source is "file:member". Directories and
// pax global headers are passed over silently; other members are Problems
// ("not-html", "not-regular", "empty", "bad-url").
//
// Member paths lose a leading "./" or "/", and a single top-level directory
// when every member of the archive lies under it: an archive made with
// "tar czf sqlite-doc.tar.gz sqlite-doc/" gives the same URLs as one made
// inside that directory. Finding that directory takes a first pass over the
// member headers, which ends at the first member that rules it out (at once
// for archives with files at the top level) or at the first damaged header
// (so the members the second pass reaches decide it).
//
// A damaged or truncated archive is a Problem "corrupt-tar" (or
// "corrupt-gzip" when the gzip stream is what failed) and ends the file.
func (r *reader) readTar(open func() (io.ReadCloser, error), gz bool) error {
	top, err := r.tarTop(open, gz)
	if err != nil {
		return err
	}
	f, err := open()
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	a, err := openTar(f, gz)
	if err != nil {
		return r.tarFailed(a, r.name, err)
	}
	for {
		h, err := a.tr.Next()
		if err == io.EOF {
			if a.src.n == 0 {
				r.report(r.name, KindEmpty, "empty file")
				return nil
			}
			if a.gz != nil {
				// Check the gzip stream's end (its CRC and length) too; the
				// padding after the archive is small, so read at most 1 MiB.
				io.CopyN(io.Discard, a.gz, 1<<20)
				if a.src.err != nil || a.gz.err != nil {
					return r.tarFailed(a, r.name, a.gz.err)
				}
			}
			return nil
		}
		if err != nil {
			return r.tarFailed(a, r.name, err)
		}
		if err := r.tarMember(a, h, top); err != nil {
			return err
		}
		if a.failed {
			return nil
		}
	}
}

// tarMember reads one member.
func (r *reader) tarMember(a *tarArchive, h *tar.Header, top string) error {
	src := r.name + ":" + h.Name
	switch h.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return nil
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
	default:
		r.report(src, KindNotRegular, fmt.Sprintf("tar member of type %q", h.Typeflag))
		return nil
	}
	if !isHTMLName(h.Name) {
		r.report(src, KindNotHTML, "not an HTML member name")
		return nil
	}
	if h.Size == 0 {
		r.report(src, KindEmpty, "empty member")
		return nil
	}
	segs, err := pathSegments(h.Name)
	if err == nil && top != "" && len(segs) > 1 && segs[0] == top {
		segs = segs[1:]
	}
	if err != nil {
		r.report(src, KindBadURL, err.Error())
		return nil
	}
	if r.baseErr != nil {
		r.report(src, KindBadURL, "bad base URL: "+r.baseErr.Error())
		return nil
	}
	body, err := readBody(a.tr, MaxPageBytes+1, h.Size)
	if err != nil {
		a.failed = true
		return r.tarFailed(a, src, err)
	}
	return r.emit(Page{URL: joinURL(r.base, segs), Source: src}, body)
}

// tarTop is the top-level directory that every member lies under, or "".
// Damage ends the pass without a Problem: the second pass reports it.
func (r *reader) tarTop(open func() (io.ReadCloser, error), gz bool) (string, error) {
	f, err := open()
	if err != nil {
		return "", fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	a, err := openTar(f, gz)
	if err != nil {
		return "", nil
	}
	top := ""
	for {
		h, err := a.tr.Next()
		if err != nil {
			return top, nil
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		segs, err := pathSegments(h.Name)
		if errors.Is(err, errNoPath) {
			continue // the archive's root, "./"
		}
		if err != nil {
			return "", nil
		}
		if len(segs) == 1 && h.Typeflag != tar.TypeDir {
			return "", nil // a file at the top level
		}
		if top == "" {
			top = segs[0]
		} else if segs[0] != top {
			return "", nil
		}
	}
}

// tarArchive is a tar reader over a file, with what tells its failures
// apart: an I/O error of the file, a damaged gzip stream, a damaged archive.
type tarArchive struct {
	src    *source
	gz     *gzipReader // nil for a plain tar
	tr     *tar.Reader
	failed bool // a Problem ended the file
}

func openTar(f io.Reader, gz bool) (*tarArchive, error) {
	a := &tarArchive{src: &source{r: f}}
	var rd io.Reader = a.src
	if s, ok := f.(io.Seeker); ok && !gz {
		// A plain tar skips the bodies it does not read by seeking.
		rd = struct {
			io.Reader
			io.Seeker
		}{a.src, s}
	}
	if gz {
		a.gz = &gzipReader{}
		if err := a.gz.open(a.src); err != nil {
			return a, err
		}
		rd = a.gz
	}
	a.tr = tar.NewReader(rd)
	return a, nil
}

// tarFailed reports why reading an archive stopped, or returns the I/O error
// that stopped it.
func (r *reader) tarFailed(a *tarArchive, src string, err error) error {
	a.failed = true
	switch {
	case a.src.err != nil:
		return r.ioError(a.src)
	case a.gz != nil && a.gz.err != nil:
		if a.src.n == 0 {
			r.report(r.name, KindEmpty, "empty file")
			return nil
		}
		r.report(src, KindCorruptGzip, a.gz.err.Error())
	default:
		r.report(src, KindCorruptTar, err.Error())
	}
	return nil
}

// gzipReader is a multi-member gzip stream that remembers its first error.
type gzipReader struct {
	z   *gzip.Reader
	err error
}

func (g *gzipReader) open(r io.Reader) error {
	z, err := gzip.NewReader(r)
	if err != nil {
		g.err = err
		return err
	}
	g.z = z
	return nil
}

func (g *gzipReader) Read(p []byte) (int, error) {
	n, err := g.z.Read(p)
	if err != nil && err != io.EOF && g.err == nil {
		g.err = err
	}
	return n, err
}
