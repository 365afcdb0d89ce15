package shuffle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Block framing: magic, payload length, CRC-32C of everything after the
// checksum field, row count, compression, uncompressed length, payload. The
// payload is a self-contained Arrow IPC stream (schema and one batch),
// compressed as a whole.
const (
	blockMagic  = "SSB1"
	blockHeader = BlockHeaderSize
	// MaxBlockSize bounds one block (and what a reader allocates for it).
	MaxBlockSize = 1 << 30
)

// BlockHeaderSize is the length of a block's frame header; BlockLen needs
// that many bytes.
const BlockHeaderSize = 21

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is matched by every error about damaged shuffle data.
var ErrCorrupt = errors.New("shuffle: corrupt block")

// CorruptError says where damaged shuffle data was found.
type CorruptError struct {
	Path   string // file, or "" when decoding bytes from elsewhere
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("shuffle: corrupt data in %s at offset %d: %s", e.Path, e.Offset, e.Reason)
	}
	return fmt.Sprintf("shuffle: corrupt block: %s", e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(format string, args ...any) error {
	return &CorruptError{Reason: fmt.Sprintf(format, args...)}
}

// One zstd encoder and decoder serve every block: EncodeAll and DecodeAll
// are safe for concurrent use, and building a coder per block would cost
// more than compressing it.
var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
	bufPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func zstdCoders() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20))
		zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxBlockSize),
			zstd.WithDecoderMaxWindow(1<<26))
	})
	return zstdEnc, zstdDec
}

// EncodeBlock appends rec, framed and checksummed, to dst. It does not
// retain rec.
func EncodeBlock(dst []byte, rec arrow.RecordBatch, c Compression) ([]byte, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	w := ipc.NewWriter(buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return dst, err
	}
	if err := w.Close(); err != nil {
		return dst, err
	}
	raw := buf.Bytes()
	if rec.NumRows() > math.MaxUint32 {
		return dst, fmt.Errorf("shuffle: block of %d rows exceeds %d", rec.NumRows(), uint32(math.MaxUint32))
	}
	if len(raw) > MaxBlockSize {
		return dst, fmt.Errorf("shuffle: block of %d bytes exceeds %d", len(raw), MaxBlockSize)
	}
	start := len(dst)
	dst = append(dst, blockMagic...)
	dst = append(dst, make([]byte, blockHeader-len(blockMagic))...)
	switch c {
	case Zstd:
		enc, _ := zstdCoders()
		dst = enc.EncodeAll(raw, dst)
	case LZ4:
		bound := lz4.CompressBlockBound(len(raw))
		dst = slices.Grow(dst, bound)
		n, err := lz4.CompressBlock(raw, dst[len(dst):len(dst)+bound], nil)
		if err != nil {
			return dst[:start], err
		}
		if n == 0 { // incompressible: store as is
			c = None
			dst = append(dst, raw...)
		} else {
			dst = dst[:len(dst)+n]
		}
	default:
		c = None
		dst = append(dst, raw...)
	}
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(h)-blockHeader))
	binary.LittleEndian.PutUint32(h[12:], uint32(rec.NumRows()))
	h[16] = byte(c)
	binary.LittleEndian.PutUint32(h[17:], uint32(len(raw)))
	binary.LittleEndian.PutUint32(h[8:], crc32.Checksum(h[12:], castagnoli))
	return dst, nil
}

// BlockLen returns the total length of the framed block that starts b, from
// its header alone.
func BlockLen(b []byte) (int, error) {
	if len(b) < blockHeader || string(b[:4]) != blockMagic {
		return 0, corrupt("bad block header")
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > MaxBlockSize {
		return 0, corrupt("block length %d", n)
	}
	return blockHeader + int(n), nil
}

// DecodeBlock verifies a framed block's checksum and decodes its record
// batch, allocating from mem. The caller must Release the record. Damage of
// any kind is an error matching ErrCorrupt; it never panics.
func DecodeBlock(b []byte, mem memory.Allocator) (rec arrow.RecordBatch, err error) {
	n, err := BlockLen(b)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, corrupt("block is %d bytes, header says %d", len(b), n)
	}
	if crc32.Checksum(b[12:], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return nil, corrupt("checksum mismatch")
	}
	rows := int64(binary.LittleEndian.Uint32(b[12:]))
	rawLen := int(binary.LittleEndian.Uint32(b[17:]))
	payload := b[blockHeader:]
	if rawLen > MaxBlockSize {
		return nil, corrupt("uncompressed length %d", rawLen)
	}
	var raw []byte
	switch Compression(b[16]) {
	case None:
		raw = payload
	case Zstd, LZ4:
		// The IPC reader copies what it keeps into buffers from mem, so
		// the decompressed stream can go back to the pool afterwards.
		scratch := getScratch(rawLen)
		defer putScratch(scratch)
		if Compression(b[16]) == Zstd {
			_, dec := zstdCoders()
			if raw, err = dec.DecodeAll(payload, (*scratch)[:0]); err != nil {
				return nil, corrupt("zstd: %v", err)
			}
			*scratch = raw[:0] // keep the larger buffer if DecodeAll grew it
		} else {
			m, err := lz4.UncompressBlock(payload, (*scratch)[:rawLen])
			if err != nil {
				return nil, corrupt("lz4: %v", err)
			}
			raw = (*scratch)[:m]
		}
	default:
		return nil, corrupt("unknown compression %d", b[16])
	}
	if len(raw) != rawLen {
		return nil, corrupt("uncompressed %d bytes, header says %d", len(raw), rawLen)
	}
	if err := verifyIPCStream(raw); err != nil {
		return nil, corrupt("ipc: %v", err)
	}
	return readBlockStream(raw, rows, mem)
}

// readBlockStream decodes the one record batch of a verified IPC stream.
// A well-formed stream needs no more memory than its own length (the body
// is copied once and arrays slice it); the limits stop a damaged one that
// slipped past the checksum from asking for more. When decoding fails,
// whatever the reader allocated and did not free (it leaks when it panics)
// is freed here, so mem balances.
func readBlockStream(raw []byte, rows int64, mem memory.Allocator) (rec arrow.RecordBatch, err error) {
	limit := int64(len(raw))
	alloc := &boundedAllocator{mem: mem, left: 2*limit + 4096}
	defer func() {
		if r := recover(); r != nil {
			err = corrupt("arrow decoding panicked: %v", r)
		}
		if err != nil {
			if rec != nil {
				rec.Release()
				rec = nil
			}
			alloc.freeLive()
		}
		alloc.done.Store(true)
		alloc.live = nil
	}()
	r, err := ipc.NewReader(bytes.NewReader(raw), ipc.WithAllocator(alloc),
		ipc.WithMetadataSizeLimit(limit), ipc.WithBodySizeLimit(limit))
	if err != nil {
		return nil, corrupt("ipc: %v", err)
	}
	defer r.Release()
	if !r.Next() {
		if r.Err() != nil {
			return nil, corrupt("ipc: %v", r.Err())
		}
		return nil, corrupt("no record batch")
	}
	rec = r.RecordBatch()
	rec.Retain()
	// O(n) but cheap next to decoding; it makes a forged block fail here
	// rather than panic later in whoever reads the record.
	if err := validateRecord(rec); err != nil {
		return rec, corrupt("ipc: %v", err)
	}
	if rec.NumRows() != rows {
		return rec, corrupt("%d rows, header says %d", rec.NumRows(), rows)
	}
	return rec, nil
}

// scratchPool holds decompression buffers; DecodeBlock returns them once the
// IPC reader has copied the stream into Arrow buffers.
var scratchPool sync.Pool

func getScratch(n int) *[]byte {
	if p, ok := scratchPool.Get().(*[]byte); ok && cap(*p) >= n {
		return p
	}
	b := make([]byte, 0, n)
	return &b
}

func putScratch(p *[]byte) {
	if cap(*p) <= 64<<20 { // do not pin huge buffers
		scratchPool.Put(p)
	}
}

// errAllocLimit is the panic value boundedAllocator raises; DecodeBlock
// recovers it as corruption.
var errAllocLimit = errors.New("allocation limit exceeded")

// boundedAllocator passes allocations to mem until left bytes are used up,
// then panics with errAllocLimit. Until done it is used by one decode on
// one goroutine and remembers the buffers it handed out and that are not
// yet freed (live), so a failed decode can free what the reader leaked.
// Once done (set before the record leaves DecodeBlock) Free, which may come
// from any goroutine, only passes through.
type boundedAllocator struct {
	mem  memory.Allocator
	left int64
	live [][]byte
	done atomic.Bool
}

func (a *boundedAllocator) take(n int) {
	if n < 0 || int64(n) > a.left {
		panic(errAllocLimit)
	}
	a.left -= int64(n)
}

func (a *boundedAllocator) forget(b []byte) {
	for i, l := range a.live {
		if unsafe.SliceData(l) == unsafe.SliceData(b) {
			a.live[i] = a.live[len(a.live)-1]
			a.live = a.live[:len(a.live)-1]
			return
		}
	}
}

func (a *boundedAllocator) Allocate(size int) []byte {
	a.take(size)
	b := a.mem.Allocate(size)
	if !a.done.Load() {
		a.live = append(a.live, b)
	}
	return b
}

func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	if size > len(b) {
		a.take(size - len(b))
	}
	nb := a.mem.Reallocate(size, b)
	if !a.done.Load() {
		a.forget(b)
		a.live = append(a.live, nb)
	}
	return nb
}

func (a *boundedAllocator) Free(b []byte) {
	if !a.done.Load() {
		a.forget(b)
	}
	a.mem.Free(b)
}

// freeLive frees every buffer still live; only for a failed decode.
func (a *boundedAllocator) freeLive() {
	for _, b := range a.live {
		a.mem.Free(b)
	}
	a.live = nil
}

// validateRecord checks a decoded record's structure and offsets fully, but
// treats string columns as bytes: Superstep strings carry input bytes as
// they are (wordcount counts Latin-1 words too), so invalid UTF-8 in a
// string column is data, not damage.
func validateRecord(rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		d := bytesView(col.Data())
		arr := array.MakeFromData(d)
		err := array.ValidateFull(arr)
		arr.Release()
		d.Release()
		if err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// bytesView returns d with every string type replaced by the binary type of
// the same layout. The caller releases it.
func bytesView(d arrow.ArrayData) arrow.ArrayData {
	children := make([]arrow.ArrayData, len(d.Children()))
	for i, c := range d.Children() {
		children[i] = bytesView(c)
	}
	out := array.NewData(bytesType(d.DataType()), d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
	for _, c := range children {
		c.Release()
	}
	return out
}

func bytesType(dt arrow.DataType) arrow.DataType {
	switch t := dt.(type) {
	case *arrow.StringType:
		return arrow.BinaryTypes.Binary
	case *arrow.LargeStringType:
		return arrow.BinaryTypes.LargeBinary
	case *arrow.ListType:
		f := t.ElemField()
		f.Type = bytesType(f.Type)
		return arrow.ListOfField(f)
	case *arrow.StructType:
		fs := slices.Clone(t.Fields())
		for i := range fs {
			fs[i].Type = bytesType(fs[i].Type)
		}
		return arrow.StructOf(fs...)
	}
	return dt
}
