package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/superstep/superstep/examples/webindex/postings"
)

// BlockTerms is the number of dictionary entries per block.
const BlockTerms = 64

const (
	termsMagic   = "SSIX"
	version      = 2
	termsFooter  = 8 + 8 + 8 + 4 + 4 + 4
	maxTermBytes = 1 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is matched by every error about a damaged index file.
var ErrCorrupt = errors.New("index: corrupt file")

func corrupt(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, fmt.Sprintf(format, args...))
}

// TermsWriter writes a terms file. Terms must be added in increasing byte
// order.
type TermsWriter struct {
	path   string
	f      *os.File
	w      *bufio.Writer
	off    uint64
	dict   []byte
	blocks []byte
	n      int
	last   string
	buf    []byte
}

// NewTermsWriter creates path+".tmp"; Close renames it to path.
func NewTermsWriter(path string) (*TermsWriter, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	w := NewTermsWriterTo(f)
	w.path, w.f = path, f
	return w, nil
}

// NewTermsWriterTo writes a terms file to out; Finish completes it.
func NewTermsWriterTo(out io.Writer) *TermsWriter {
	w := &TermsWriter{w: bufio.NewWriterSize(out, 1<<20)}
	w.w.WriteString(termsMagic)
	w.w.Write(binary.LittleEndian.AppendUint32(nil, version))
	w.off = 8
	return w
}

// Finish writes the dictionary and the footer and flushes; for a writer
// made by NewTermsWriterTo it is the last call.
func (w *TermsWriter) Finish() error {
	dictOff := w.off
	blockOff := dictOff + uint64(len(w.dict))
	crc := crc32.Update(crc32.Checksum(w.dict, castagnoli), castagnoli, w.blocks)
	w.w.Write(w.dict)
	w.w.Write(w.blocks)
	f := binary.LittleEndian.AppendUint64(nil, dictOff)
	f = binary.LittleEndian.AppendUint64(f, blockOff)
	f = binary.LittleEndian.AppendUint64(f, uint64(len(w.blocks)))
	f = binary.LittleEndian.AppendUint32(f, uint32((w.n+BlockTerms-1)/BlockTerms))
	f = binary.LittleEndian.AppendUint32(f, crc)
	f = append(f, termsMagic...)
	w.w.Write(f)
	return w.w.Flush()
}

// Add writes a term and its postings.
func (w *TermsWriter) Add(term string, ps []postings.Posting) error {
	if err := w.check(term); err != nil {
		return err
	}
	var err error
	if w.buf, err = postings.Encode(w.buf[:0], ps); err != nil {
		return fmt.Errorf("index: term %q: %w", term, err)
	}
	return w.write(term, len(ps))
}

// AddColumns writes a term and its postings held as columns (in any
// document order): the same bytes as Add of the postings sorted.
func (w *TermsWriter) AddColumns(term string, c postings.Columns) error {
	if err := w.check(term); err != nil {
		return err
	}
	var err error
	if w.buf, err = postings.EncodeColumns(w.buf[:0], c); err != nil {
		return fmt.Errorf("index: term %q: %w", term, err)
	}
	df, err := postings.Count(w.buf)
	if err != nil {
		return fmt.Errorf("index: term %q: %w", term, err)
	}
	return w.write(term, df)
}

func (w *TermsWriter) check(term string) error {
	if term == "" || len(term) > maxTermBytes {
		return fmt.Errorf("index: term of %d bytes", len(term))
	}
	if w.n > 0 && term <= w.last {
		return fmt.Errorf("index: term %q after %q", term, w.last)
	}
	return nil
}

// write writes the encoded list in w.buf of term, which has df postings.
func (w *TermsWriter) write(term string, df int) error {
	if _, err := w.w.Write(w.buf); err != nil {
		return err
	}
	if w.n%BlockTerms == 0 {
		w.blocks = binary.AppendUvarint(w.blocks, uint64(len(w.dict)))
		w.blocks = binary.AppendUvarint(w.blocks, uint64(len(term)))
		w.blocks = append(w.blocks, term...)
	}
	w.dict = binary.AppendUvarint(w.dict, uint64(len(term)))
	w.dict = append(w.dict, term...)
	w.dict = binary.AppendUvarint(w.dict, uint64(df))
	w.dict = binary.AppendUvarint(w.dict, w.off)
	w.dict = binary.AppendUvarint(w.dict, uint64(len(w.buf)))
	w.off += uint64(len(w.buf))
	w.n++
	w.last = term
	return nil
}

// Close writes the dictionary and footer and renames the file into place.
func (w *TermsWriter) Close() error {
	if err := w.Finish(); err != nil {
		w.abort()
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.abort()
		return err
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.path + ".tmp")
		return err
	}
	return os.Rename(w.path+".tmp", w.path)
}

func (w *TermsWriter) abort() {
	w.f.Close()
	os.Remove(w.path + ".tmp")
}

// Terms is an open terms file.
type Terms struct {
	path   string
	data   []byte // the mapped file
	unmap  func() error
	dict   []byte
	starts []int    // dictionary offset of each block
	firsts []string // first term of each block
	post   []byte   // posting-list area
}

// OpenTerms maps a terms file and decodes its block index.
func OpenTerms(path string) (*Terms, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	t, err := parseTerms(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	t.unmap = unmap
	return t, nil
}

func parseTerms(path string, data []byte) (*Terms, error) {
	if len(data) < 8+termsFooter || string(data[:4]) != termsMagic || string(data[len(data)-4:]) != termsMagic {
		return nil, corrupt(path, "not a terms file")
	}
	if v := binary.LittleEndian.Uint32(data[4:]); v != version {
		return nil, corrupt(path, "version %d, this binary reads %d", v, version)
	}
	f := data[len(data)-termsFooter:]
	dictOff, blockOff := binary.LittleEndian.Uint64(f), binary.LittleEndian.Uint64(f[8:])
	blockLen, nblocks := binary.LittleEndian.Uint64(f[16:]), int(binary.LittleEndian.Uint32(f[24:]))
	end := uint64(len(data) - termsFooter)
	if dictOff < 8 || dictOff > blockOff || blockOff > end || blockLen != end-blockOff {
		return nil, corrupt(path, "bad footer")
	}
	dict, blocks := data[dictOff:blockOff], data[blockOff:end]
	if crc32.Update(crc32.Checksum(dict, castagnoli), castagnoli, blocks) != binary.LittleEndian.Uint32(f[28:]) {
		return nil, corrupt(path, "dictionary checksum mismatch")
	}
	if nblocks > len(blocks) {
		return nil, corrupt(path, "%d blocks", nblocks)
	}
	t := &Terms{path: path, data: data, dict: dict, post: data[8:dictOff],
		starts: make([]int, 0, nblocks), firsts: make([]string, 0, nblocks)}
	for range nblocks {
		off, n := binary.Uvarint(blocks)
		if n <= 0 || off > uint64(len(dict)) {
			return nil, corrupt(path, "bad block index")
		}
		blocks = blocks[n:]
		l, n := binary.Uvarint(blocks)
		if n <= 0 || l > uint64(len(blocks)-n) {
			return nil, corrupt(path, "bad block index")
		}
		t.starts = append(t.starts, int(off))
		t.firsts = append(t.firsts, string(blocks[n:n+int(l)]))
		blocks = blocks[n+int(l):]
	}
	return t, nil
}

// Close unmaps the file. Postings returned earlier must not be used after.
func (t *Terms) Close() error {
	if t.unmap == nil {
		return nil
	}
	err := t.unmap()
	t.unmap = nil
	return err
}

// Entry is one term of the dictionary.
type Entry struct {
	Term     string
	DF       int    // document frequency
	Postings []byte // encoded posting list (aliases the mapped file)
}

// Lookup finds a term: a binary search over the block index, then a scan of
// one block.
func (t *Terms) Lookup(term string) (Entry, bool, error) {
	b := sort.Search(len(t.firsts), func(i int) bool { return t.firsts[i] > term }) - 1
	if b < 0 {
		return Entry{}, false, nil
	}
	end := len(t.dict)
	if b+1 < len(t.starts) {
		end = t.starts[b+1]
	}
	d := t.dict[t.starts[b]:end]
	for len(d) > 0 {
		raw, rest, err := t.rawEntry(d)
		if err != nil {
			return Entry{}, false, err
		}
		if c := strings.Compare(string(raw.term), term); c == 0 { // no allocation
			e, err := t.resolve(raw, term)
			return e, err == nil, err
		} else if c > 0 {
			break
		}
		d = rest
	}
	return Entry{}, false, nil
}

// Each calls fn for every term in order until it returns false.
func (t *Terms) Each(fn func(Entry) bool) error {
	d := t.dict
	for len(d) > 0 {
		e, rest, err := t.entry(d)
		if err != nil {
			return err
		}
		if !fn(e) {
			return nil
		}
		d = rest
	}
	return nil
}

func (t *Terms) entry(d []byte) (Entry, []byte, error) {
	raw, rest, err := t.rawEntry(d)
	if err != nil {
		return Entry{}, nil, err
	}
	e, err := t.resolve(raw, string(raw.term))
	return e, rest, err
}

// rawEntry is a dictionary entry as encoded, its term aliasing the file.
type rawEntry struct {
	term            []byte
	df, off, length uint64
}

// rawEntry decodes the entry at the start of d without allocating.
func (t *Terms) rawEntry(d []byte) (rawEntry, []byte, error) {
	var v [4]uint64
	l, n := binary.Uvarint(d)
	if n <= 0 || l > uint64(len(d)-n) {
		return rawEntry{}, nil, corrupt(t.path, "bad dictionary entry")
	}
	term := d[n : n+int(l)]
	d = d[n+int(l):]
	for i := 1; i < 4; i++ {
		x, n := binary.Uvarint(d)
		if n <= 0 {
			return rawEntry{}, nil, corrupt(t.path, "bad dictionary entry for %q", term)
		}
		v[i], d = x, d[n:]
	}
	return rawEntry{term: term, df: v[1], off: v[2], length: v[3]}, d, nil
}

// resolve checks that the postings of e lie inside the file and returns
// the entry, named term.
func (t *Terms) resolve(e rawEntry, term string) (Entry, error) {
	off, length := e.off-8, e.length
	if e.off < 8 || off > uint64(len(t.post)) || length > uint64(len(t.post))-off {
		return Entry{}, corrupt(t.path, "postings of %q outside the file", term)
	}
	return Entry{Term: term, DF: int(e.df), Postings: t.post[off : off+length]}, nil
}
