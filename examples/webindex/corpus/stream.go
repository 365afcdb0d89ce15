package corpus

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
)

// stream is the content of a WARC file read front to back, decompressed when
// the file is gzip (one member per record, as is usual, or any other
// division into members, a single stream included). It keeps where recent
// gzip members start so that a position in the content can be named by the
// file offset of the member it lies in, as WARC indexes (CDX) do.
//
// Members are read one at a time from a bufio.Reader (which gzip reads
// through io.ByteReader, never past the end of a member), so the file offset
// of each member is known exactly.
type stream struct {
	src *source
	br  *bufio.Reader // over src
	z   *gzip.Reader  // nil for a plain file
	out int64         // content bytes returned by Read so far

	members []member // recent members, ascending; the first starts at or before every position still to be named
	keep    int64    // bytes of content the reader above may hold unread (its buffer size)
	gzErr   error    // the first gzip failure
}

// member is where a gzip member starts: in the content and in the file.
type member struct{ start, off int64 }

// openStream opens the content of a WARC file, sniffing gzip by its magic
// bytes; gz says whether the name promised gzip (then plain content is a
// gzip error).
//
// keep is the buffer size of the reader that reads the stream: positions to
// be named are never further than that behind what the stream returned.
func openStream(f io.Reader, gz bool, keep int) (*stream, error) {
	s := &stream{src: &source{r: f}, keep: int64(keep)}
	s.br = bufio.NewReader(s.src)
	magic, _ := s.br.Peek(2)
	if !gz && (len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
		return s, nil
	}
	s.members = []member{{0, 0}}
	z, err := gzip.NewReader(s.br)
	if err != nil {
		s.gzErr = err
		return s, err
	}
	z.Multistream(false)
	s.z = z
	return s, nil
}

func (s *stream) Read(p []byte) (int, error) {
	if s.z == nil {
		n, err := s.br.Read(p)
		s.out += int64(n)
		return n, err
	}
	if s.gzErr != nil {
		return 0, s.gzErr
	}
	for {
		n, err := s.z.Read(p)
		s.out += int64(n)
		if err == io.EOF {
			// The member ended; another may follow.
			if _, perr := s.br.Peek(1); perr != nil {
				if perr == io.EOF {
					return n, io.EOF
				}
				return n, perr
			}
			off := s.src.n - int64(s.br.Buffered())
			if rerr := s.z.Reset(s.br); rerr != nil {
				s.gzErr = fmt.Errorf("gzip member at offset %d: %w", off, rerr)
				return n, s.gzErr
			}
			s.z.Multistream(false)
			if last := &s.members[len(s.members)-1]; last.start == s.out {
				*last = member{s.out, off} // the previous member was empty
			} else {
				s.members = append(s.members, member{s.out, off})
			}
			for len(s.members) > 1 && s.members[1].start <= s.out-s.keep {
				s.members = s.members[1:]
			}
			err = nil
		}
		if err != nil {
			if s.src.err == nil {
				s.gzErr = err
			}
			return n, err
		}
		if n > 0 || len(p) == 0 {
			return n, nil
		}
	}
}

// where names content position pos as a Source: "name@offset", where offset
// is the file offset for a plain file and the offset of the gzip member for
// a compressed one, followed by "+n" when pos lies n bytes into the member's
// content (only when records share a member). Positions must not decrease
// from one call to the next.
func (s *stream) where(name string, pos int64) string {
	if s.z == nil && s.members == nil {
		return fmt.Sprintf("%s@%d", name, pos)
	}
	i := 0
	for i+1 < len(s.members) && s.members[i+1].start <= pos {
		i++
	}
	s.members = s.members[i:]
	m := s.members[0]
	if pos == m.start {
		return fmt.Sprintf("%s@%d", name, m.off)
	}
	return fmt.Sprintf("%s@%d+%d", name, m.off, pos-m.start)
}
