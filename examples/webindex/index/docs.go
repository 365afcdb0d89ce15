package index

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"os"
)

const docsMagic = "SSDT"

// Doc is one row of the document table.
type Doc struct {
	URL      string
	Title    string
	Length   uint32 // tokens
	PageRank float64
	// Text is the page's visible text (whitespace collapsed), for snippets.
	Text string
}

// WriteDocs writes the document table; document i is docs[i].
func WriteDocs(path string, docs []Doc) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(path + ".tmp")
		return err
	}
	if err := WriteDocsTo(f, docs); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path + ".tmp")
		return err
	}
	return os.Rename(path+".tmp", path)
}

// WriteDocsTo writes the document table to out.
func WriteDocsTo(out io.Writer, docs []Doc) error {
	w := bufio.NewWriterSize(out, 1<<20)
	w.WriteString(docsMagic)
	w.Write(binary.LittleEndian.AppendUint32(nil, version))
	w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(docs))))
	var recs []byte
	offs := make([]byte, 0, 8*(len(docs)+1))
	for _, d := range docs {
		offs = binary.LittleEndian.AppendUint64(offs, uint64(len(recs)))
		recs = binary.AppendUvarint(recs, uint64(len(d.URL)))
		recs = append(recs, d.URL...)
		recs = binary.AppendUvarint(recs, uint64(len(d.Title)))
		recs = append(recs, d.Title...)
		recs = binary.LittleEndian.AppendUint32(recs, d.Length)
		recs = binary.LittleEndian.AppendUint64(recs, math.Float64bits(d.PageRank))
		recs = binary.AppendUvarint(recs, uint64(len(d.Text)))
		recs = append(recs, d.Text...)
	}
	offs = binary.LittleEndian.AppendUint64(offs, uint64(len(recs)))
	w.Write(offs)
	w.Write(recs)
	return w.Flush()
}

// Docs is an open document table.
type Docs struct {
	path  string
	n     int
	offs  []byte
	recs  []byte
	unmap func() error
}

// OpenDocs maps a document table.
func OpenDocs(path string) (*Docs, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	d, err := parseDocs(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	d.unmap = unmap
	return d, nil
}

func parseDocs(path string, data []byte) (*Docs, error) {
	if len(data) < 16 || string(data[:4]) != docsMagic || binary.LittleEndian.Uint32(data[4:]) != version {
		return nil, corrupt(path, "not a document table of version %d", version)
	}
	n := binary.LittleEndian.Uint64(data[8:])
	if n >= uint64(len(data)-16)/8 { // n+1 offsets must fit
		return nil, corrupt(path, "%d documents", n)
	}
	offs := data[16 : 16+8*(n+1)]
	recs := data[16+8*(n+1):]
	if binary.LittleEndian.Uint64(offs[8*n:]) != uint64(len(recs)) {
		return nil, corrupt(path, "records length")
	}
	return &Docs{path: path, n: int(n), offs: offs, recs: recs}, nil
}

// Len is the number of documents.
func (d *Docs) Len() int { return d.n }

// record is the bytes of document i's record.
func (d *Docs) record(i int) ([]byte, error) {
	if i < 0 || i >= d.n {
		return nil, corrupt(d.path, "no document %d", i)
	}
	a, b := binary.LittleEndian.Uint64(d.offs[8*i:]), binary.LittleEndian.Uint64(d.offs[8*i+8:])
	if a > b || b > uint64(len(d.recs)) {
		return nil, corrupt(d.path, "document %d outside the table", i)
	}
	return d.recs[a:b], nil
}

// field splits the uvarint-prefixed byte string at the start of r from the
// rest of r; ok is false if r is too short.
func field(r []byte) (f, rest []byte, ok bool) {
	l, n := binary.Uvarint(r)
	if n <= 0 || l > uint64(len(r)-n) {
		return nil, nil, false
	}
	return r[n : n+int(l)], r[n+int(l):], true
}

// Stats is what ranking needs of a document: the fixed-size fields of its
// record.
type Stats struct {
	Length   uint32 // tokens
	PageRank float64
}

// Stats returns the length and PageRank of document i. Unlike Doc it copies
// nothing and allocates nothing (but an error); it does not check the text
// field that follows them.
func (d *Docs) Stats(i int) (Stats, error) {
	r, err := d.record(i)
	if err != nil {
		return Stats{}, err
	}
	_, r, ok1 := field(r) // URL
	_, r, ok2 := field(r) // title
	if !ok1 || !ok2 || len(r) < 12 {
		return Stats{}, corrupt(d.path, "document %d record", i)
	}
	return Stats{Length: binary.LittleEndian.Uint32(r), PageRank: math.Float64frombits(binary.LittleEndian.Uint64(r[4:]))}, nil
}

// Title returns the title of document i, without decoding the rest.
func (d *Docs) Title(i int) (string, error) {
	r, err := d.record(i)
	if err != nil {
		return "", err
	}
	_, r, ok1 := field(r) // URL
	t, _, ok2 := field(r)
	if !ok1 || !ok2 {
		return "", corrupt(d.path, "document %d record", i)
	}
	return string(t), nil
}

// Doc returns document i.
func (d *Docs) Doc(i int) (Doc, error) {
	out, text, err := d.doc(i)
	if err != nil {
		return Doc{}, err
	}
	out.Text = string(text)
	return out, nil
}

// Head returns document i but its text (Doc.Text is empty).
func (d *Docs) Head(i int) (Doc, error) {
	out, _, err := d.doc(i)
	return out, err
}

// Text returns the text of document i without copying it: the bytes alias
// the mapped file. They must not be modified, nor used after Close.
func (d *Docs) Text(i int) ([]byte, error) {
	_, text, err := d.doc(i)
	return text, err
}

// doc decodes document i but its text, which it returns as it is in the
// file.
func (d *Docs) doc(i int) (Doc, []byte, error) {
	r, err := d.record(i)
	if err != nil {
		return Doc{}, nil, err
	}
	var out Doc
	url, r, ok1 := field(r)
	title, r, ok2 := field(r)
	if !ok1 || !ok2 || len(r) < 12 {
		return Doc{}, nil, corrupt(d.path, "document %d record", i)
	}
	out.URL, out.Title = string(url), string(title)
	out.Length = binary.LittleEndian.Uint32(r)
	out.PageRank = math.Float64frombits(binary.LittleEndian.Uint64(r[4:]))
	text, r, ok3 := field(r[12:])
	if !ok3 || len(r) != 0 {
		return Doc{}, nil, corrupt(d.path, "document %d record", i)
	}
	return out, text, nil
}

// Close unmaps the table.
func (d *Docs) Close() error {
	if d.unmap == nil {
		return nil
	}
	err := d.unmap()
	d.unmap = nil
	return err
}
