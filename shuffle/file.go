package shuffle

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
)

// BlockHandle locates one framed block in a map output file: its byte range
// and its row count (checked against the block when it is decoded).
type BlockHandle struct {
	Offset, Length int64
	Rows           int64
}

// Run is a sequence of blocks, in file order, whose rows are sorted by key
// as a whole when the writer sorted them: one spill's worth of one
// partition.
type Run struct {
	Blocks []BlockHandle
}

// Index lists, per reduce partition, the runs of a map output file in the
// order they were written (Runs[p] is empty for a partition that received
// nothing), and the file's totals. An Index from FileReader.Index is shared
// and must not be modified.
type Index struct {
	NumPartitions int
	Runs          [][]Run
	Rows          int64
	RawBytes      int64 // uncompressed Arrow buffer bytes
	Bytes         int64 // bytes of framed blocks on disk
}

// PartitionBytes is the on-disk size of partition p's blocks.
func (ix *Index) PartitionBytes(p int) int64 {
	var n int64
	for _, r := range ix.Runs[p] {
		for _, b := range r.Blocks {
			n += b.Length
		}
	}
	return n
}

const (
	fileMagic    = "SSF1"
	footerLength = 16 // u32 crc, u64 index length, magic
	maxIndexSize = 1 << 30
)

// MarshalBinary encodes the index as unsigned varints: NumPartitions; per
// partition the number of runs, per run the number of blocks and per block
// offset, length, rows; then Rows, RawBytes, Bytes. It never fails.
func (ix *Index) MarshalBinary() ([]byte, error) {
	b := binary.AppendUvarint(nil, uint64(ix.NumPartitions))
	for _, runs := range ix.Runs {
		b = binary.AppendUvarint(b, uint64(len(runs)))
		for _, r := range runs {
			b = binary.AppendUvarint(b, uint64(len(r.Blocks)))
			for _, h := range r.Blocks {
				b = binary.AppendUvarint(b, uint64(h.Offset))
				b = binary.AppendUvarint(b, uint64(h.Length))
				b = binary.AppendUvarint(b, uint64(h.Rows))
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(ix.Rows))
	b = binary.AppendUvarint(b, uint64(ix.RawBytes))
	return binary.AppendUvarint(b, uint64(ix.Bytes)), nil
}

// UnmarshalIndex decodes MarshalBinary's output. Malformed input of any kind
// is an error matching ErrCorrupt; it never panics, and it allocates no more
// than the input's length justifies.
func UnmarshalIndex(b []byte) (*Index, error) {
	d := &varintReader{b: b}
	ix := &Index{}
	np := d.count(1)
	ix.NumPartitions = np
	ix.Runs = make([][]Run, np)
	for p := 0; p < np && d.err == nil; p++ {
		nr := d.count(1)
		runs := make([]Run, nr)
		for r := 0; r < nr && d.err == nil; r++ {
			nb := d.count(3)
			blocks := make([]BlockHandle, nb)
			for i := 0; i < nb && d.err == nil; i++ {
				blocks[i] = BlockHandle{Offset: d.int(), Length: d.int(), Rows: d.int()}
			}
			runs[r].Blocks = blocks
		}
		ix.Runs[p] = runs
	}
	ix.Rows, ix.RawBytes, ix.Bytes = d.int(), d.int(), d.int()
	if d.err == nil && np == 0 {
		d.err = corrupt("index: no partitions")
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = corrupt("index: %d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return ix, nil
}

type varintReader struct {
	b   []byte
	err error
}

func (d *varintReader) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = corrupt("index: bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int reads a non-negative int64.
func (d *varintReader) int() int64 {
	v := d.uint()
	if v > 1<<62 {
		d.err = corrupt("index: value %d out of range", v)
		return 0
	}
	return int64(v)
}

// count reads a length whose items take at least minBytes each, so a
// hostile count cannot make us allocate more than the input justifies.
func (d *varintReader) count(minBytes int) int {
	v := d.uint()
	if v > uint64(len(d.b)/minBytes) {
		if d.err == nil {
			d.err = corrupt("index: count %d exceeds the data", v)
		}
		return 0
	}
	return int(v)
}

// WriterOptions configure a FileWriter.
type WriterOptions struct {
	Compression Compression // of every block
	Sync        bool        // fsync the file before the rename and its directory after
}

// FileWriter writes one map output file. It writes to path+".tmp" and
// renames it to path on Close, so a file at path is always complete; until
// then nothing exists at path. After any error the writer is failed: every
// later call returns an error and the caller should Abort. Not safe for
// concurrent use.
type FileWriter struct {
	path    string
	f       *os.File
	w       *bufio.Writer
	opts    WriterOptions
	off     int64
	cur     [][]BlockHandle // blocks of the current run, per partition
	ix      Index
	buf     []byte
	schema  *arrow.Schema // of the first block; every block must match
	err     error         // sticky: the first write error
	closed  bool
	aborted bool
}

// NewFileWriter creates path+".tmp" (truncating a leftover one) for a map
// output with numPartitions (>= 1) reduce partitions. The caller must end
// the writer with Close or Abort.
func NewFileWriter(path string, numPartitions int, opts WriterOptions) (*FileWriter, error) {
	if numPartitions < 1 {
		return nil, fmt.Errorf("shuffle: %d partitions", numPartitions)
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	return &FileWriter{path: path, f: f, w: bufio.NewWriterSize(f, 1<<20), opts: opts,
		cur: make([][]BlockHandle, numPartitions),
		ix:  Index{NumPartitions: numPartitions, Runs: make([][]Run, numPartitions)}}, nil
}

// Write appends rec as one block to the current run of partition. rec must
// have the schema of the file's first block, and its rows must already be
// in the order readers should see them (sorted by key for a merge). Write
// does not retain rec; the caller still owns and releases it.
func (w *FileWriter) Write(partition int, rec arrow.RecordBatch) error {
	if err := w.usable(); err != nil {
		return err
	}
	if partition < 0 || partition >= len(w.cur) {
		return fmt.Errorf("shuffle: partition %d of %d", partition, len(w.cur))
	}
	if w.schema == nil {
		w.schema = rec.Schema()
	} else if s := rec.Schema(); s != w.schema && !s.Equal(w.schema) {
		return fmt.Errorf("shuffle: block schema %s differs from the file's %s", s, w.schema)
	}
	var err error
	if w.buf, err = EncodeBlock(w.buf[:0], rec, w.opts.Compression); err != nil {
		return err
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = err
		return err
	}
	h := BlockHandle{Offset: w.off, Length: int64(len(w.buf)), Rows: rec.NumRows()}
	w.off += h.Length
	w.cur[partition] = append(w.cur[partition], h)
	w.ix.Rows += h.Rows
	w.ix.Bytes += h.Length
	w.ix.RawBytes += recordBytes(rec)
	return nil
}

// Written is the bytes of framed blocks written so far (Index.Bytes once
// closed): a caller that writes runs in turns can tell what each run took.
func (w *FileWriter) Written() int64 { return w.ix.Bytes }

// recordBytes is the size of a record's Arrow buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// usable reports why the writer cannot take more calls, if it cannot.
func (w *FileWriter) usable() error {
	switch {
	case w.aborted:
		return errors.New("shuffle: FileWriter aborted")
	case w.closed:
		return errors.New("shuffle: FileWriter closed")
	case w.err != nil:
		return fmt.Errorf("shuffle: FileWriter failed earlier: %w", w.err)
	}
	return nil
}

// FinishRun ends the current spill: every partition that received blocks
// since the previous FinishRun gets one run; the others get none.
func (w *FileWriter) FinishRun() error {
	if err := w.usable(); err != nil {
		return err
	}
	for p, blocks := range w.cur {
		if len(blocks) > 0 {
			w.ix.Runs[p] = append(w.ix.Runs[p], Run{Blocks: blocks})
			w.cur[p] = nil
		}
	}
	return nil
}

// Close finishes the pending run, writes the index and the footer (index
// bytes, then u32 CRC-32C of the index, u64 index length, "SSF1"), fsyncs
// when WriterOptions.Sync, and renames path+".tmp" to path. It returns the
// index, which the caller may keep (the writer no longer uses it). On
// failure the temporary file is removed. Close after Close or Abort is an
// error.
func (w *FileWriter) Close() (*Index, error) {
	if err := w.FinishRun(); err != nil {
		if w.err != nil {
			_ = w.Abort()
		}
		return nil, err
	}
	ixb, _ := w.ix.MarshalBinary()
	footer := binary.LittleEndian.AppendUint32(nil, crc32.Checksum(ixb, castagnoli))
	footer = binary.LittleEndian.AppendUint64(footer, uint64(len(ixb)))
	footer = append(footer, fileMagic...)
	if _, err := w.w.Write(ixb); err != nil {
		return nil, w.fail(err)
	}
	if _, err := w.w.Write(footer); err != nil {
		return nil, w.fail(err)
	}
	if err := w.w.Flush(); err != nil {
		return nil, w.fail(err)
	}
	if w.opts.Sync {
		if err := w.f.Sync(); err != nil {
			return nil, w.fail(err)
		}
	}
	if err := w.f.Close(); err != nil {
		return nil, w.fail(err)
	}
	if err := os.Rename(w.path+".tmp", w.path); err != nil {
		return nil, w.fail(err)
	}
	w.closed = true
	if w.opts.Sync {
		// Make the rename itself durable. The file is complete either
		// way, so a failure here is reported but leaves it in place.
		if err := syncDir(filepath.Dir(w.path)); err != nil {
			return nil, err
		}
	}
	return &w.ix, nil
}

func (w *FileWriter) fail(err error) error {
	w.err = err
	_ = w.Abort()
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Abort closes and removes the temporary file, discarding everything
// written. It is a no-op after a successful Close or a previous Abort.
func (w *FileWriter) Abort() error {
	if w.closed || w.aborted {
		return nil
	}
	w.aborted, w.closed = true, true
	_ = w.f.Close()
	if err := os.Remove(w.path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// FileReader reads a map output file. Its methods are safe for concurrent
// use; the caller must Close it after the last ReadBlock.
type FileReader struct {
	path string
	f    *os.File
	ix   *Index
}

// OpenFile opens a map output file and verifies its footer, the index
// checksum and that every block lies before the index. Damage is a
// *CorruptError (matching ErrCorrupt) naming path and the offset; blocks
// themselves are verified when they are decoded.
func OpenFile(path string) (*FileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := openFile(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func openFile(path string, f *os.File) (*FileReader, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := info.Size()
	bad := func(off int64, why string) error { return &CorruptError{Path: path, Offset: off, Reason: why} }
	if size < footerLength {
		return nil, bad(0, "file too short for a footer")
	}
	var footer [footerLength]byte
	if _, err := f.ReadAt(footer[:], size-footerLength); err != nil {
		return nil, err
	}
	if string(footer[12:]) != fileMagic {
		return nil, bad(size-4, "bad file magic")
	}
	n := binary.LittleEndian.Uint64(footer[4:])
	if n > maxIndexSize || int64(n) > size-footerLength {
		return nil, bad(size-footerLength, fmt.Sprintf("index length %d", n))
	}
	start := size - footerLength - int64(n)
	ixb := make([]byte, n)
	if _, err := f.ReadAt(ixb, start); err != nil {
		return nil, err
	}
	if crc32.Checksum(ixb, castagnoli) != binary.LittleEndian.Uint32(footer[:]) {
		return nil, bad(start, "index checksum mismatch")
	}
	ix, err := UnmarshalIndex(ixb)
	if err != nil {
		return nil, bad(start, err.Error())
	}
	for _, runs := range ix.Runs {
		for _, run := range runs {
			for _, h := range run.Blocks {
				if h.Offset < 0 || h.Length < blockHeader || h.Offset+h.Length > start {
					return nil, bad(start, fmt.Sprintf("block [%d,+%d) outside the data", h.Offset, h.Length))
				}
			}
		}
	}
	return &FileReader{path: path, f: f, ix: ix}, nil
}

// Path is the file's path.
func (r *FileReader) Path() string { return r.path }

// Index returns the file's index (shared; do not modify).
func (r *FileReader) Index() *Index { return r.ix }

// ReadBlock reads the raw framed block at h with ReadAt, into dst when it is
// large enough (else into a new slice), and returns it. It does not verify
// the block (DecodeBlock does); a range past the end of the file is a
// *CorruptError.
func (r *FileReader) ReadBlock(h BlockHandle, dst []byte) ([]byte, error) {
	if h.Length < 0 || h.Length > MaxBlockSize {
		return nil, &CorruptError{Path: r.path, Offset: h.Offset, Reason: "bad block length"}
	}
	if int64(cap(dst)) < h.Length {
		dst = make([]byte, h.Length)
	}
	dst = dst[:h.Length]
	if _, err := r.f.ReadAt(dst, h.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &CorruptError{Path: r.path, Offset: h.Offset, Reason: "block past the end of the file"}
		}
		return nil, err
	}
	return dst, nil
}

// Close closes the file. Blocks already returned stay valid.
func (r *FileReader) Close() error { return r.f.Close() }

// ReadRange reads n bytes from offset off into a new slice, for serving
// adjacent blocks with one read. The range must lie within the file.
func (r *FileReader) ReadRange(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || n > MaxBlockSize {
		return nil, &CorruptError{Path: r.path, Offset: off, Reason: "bad range"}
	}
	b := make([]byte, n)
	if _, err := r.f.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &CorruptError{Path: r.path, Offset: off, Reason: "range past the end of the file"}
		}
		return nil, err
	}
	return b, nil
}
