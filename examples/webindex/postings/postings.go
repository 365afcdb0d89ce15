// Package postings encodes the posting list of one term: the documents that
// contain it, in increasing document order, each with its term frequency and
// token positions.
//
// Layout (all integers unsigned varints):
//
//	count                         number of postings
//	skips                         number of skip entries
//	skips × (lastDoc, byteOffset) one entry per block of BlockSize postings:
//	                              the block's last document and the offset of
//	                              the next block from the start of the data
//	data                          per posting: doc delta (from the previous
//	                              posting's doc, the first from 0), tf, then tf
//	                              position deltas (the first from 0)
//
// Deltas keep the numbers small, varints keep them short, and the skip
// entries let Advance jump over whole blocks when intersecting lists.
package postings

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// BlockSize is the number of postings between skip entries.
const BlockSize = 128

// Posting is one document of a term's list.
type Posting struct {
	Doc       uint32
	Positions []uint32 // increasing; len(Positions) is the term frequency
}

// ErrCorrupt is matched by every decoding error.
var ErrCorrupt = errors.New("postings: corrupt list")

// Encode appends the encoding of ps to dst. Docs must be strictly
// increasing and positions increasing within a posting, each posting
// having at least one position.
func Encode(dst []byte, ps []Posting) ([]byte, error) {
	var c Columns
	for _, p := range ps {
		c.Docs = append(c.Docs, p.Doc)
		c.TFs = append(c.TFs, uint32(len(p.Positions)))
		c.Pos = append(c.Pos, p.Positions...)
	}
	return c.encode(dst, nil, nil)
}

// Columns is a posting list held as three flat arrays instead of one
// slice of positions per posting: growing it allocates only when an
// array's capacity is used up. The postings may be in any document order.
type Columns struct {
	Docs []uint32 // the document of each posting
	TFs  []uint32 // its term frequency
	Pos  []uint32 // the positions of every posting, one posting after another
}

// Add records that doc has the term at position pos: a new posting, or
// one more position of the last posting when that is of doc. Positions of
// one document must be added in increasing order, without interleaving
// another document.
func (c *Columns) Add(doc, pos uint32) {
	if n := len(c.Docs); n > 0 && c.Docs[n-1] == doc {
		c.TFs[n-1]++
	} else {
		c.Docs = append(c.Docs, doc)
		c.TFs = append(c.TFs, 1)
	}
	c.Pos = append(c.Pos, pos)
}

// Append adds the postings of o after those of c.
func (c *Columns) Append(o Columns) {
	c.Docs = append(c.Docs, o.Docs...)
	c.TFs = append(c.TFs, o.TFs...)
	c.Pos = append(c.Pos, o.Pos...)
}

// Len is the number of postings, each piece of a document split in
// pieces counted (EncodeColumns joins them; Count counts them once).
func (c *Columns) Len() int { return len(c.Docs) }

// Count is the number of postings of an encoded list.
func Count(list []byte) (int, error) {
	n, k := binary.Uvarint(list)
	if k <= 0 || n > uint64(len(list)) {
		return 0, fmt.Errorf("%w: bad count", ErrCorrupt)
	}
	return int(n), nil
}

// EncodeColumns appends the encoding of c to dst, its postings in document
// order; the bytes are those Encode gives for the same postings. A
// document may appear in several postings, as it does when a combiner
// spills in the middle of a document's tokens: their positions, taken in
// the order of each posting's first position, must then increase across
// them, and they are encoded as one posting. Every posting has as many
// positions as its term frequency, at least one. Count gives the number of
// postings written.
func EncodeColumns(dst []byte, c Columns) ([]byte, error) {
	if len(c.TFs) != len(c.Docs) {
		return dst, fmt.Errorf("postings: %d documents and %d term frequencies", len(c.Docs), len(c.TFs))
	}
	sorted := true
	for i := 1; i < len(c.Docs); i++ {
		if c.Docs[i] <= c.Docs[i-1] {
			sorted = false
			break
		}
	}
	if sorted {
		return c.encode(dst, nil, nil)
	}
	first, err := c.offsets()
	if err != nil {
		return dst, err
	}
	firstPos := func(i int32) uint32 {
		if c.TFs[i] == 0 {
			return 0
		}
		return c.Pos[first[i]]
	}
	order := make([]int32, len(c.Docs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if d := cmp.Compare(c.Docs[a], c.Docs[b]); d != 0 {
			return d
		}
		return cmp.Compare(firstPos(a), firstPos(b))
	})
	split := false
	for k := 1; k < len(order); k++ {
		if c.Docs[order[k]] == c.Docs[order[k-1]] {
			split = true
			break
		}
	}
	if !split {
		return c.encode(dst, order, first)
	}
	// Join the pieces of each document into one posting; encode checks
	// that the joined positions increase.
	var m Columns
	m.Pos = make([]uint32, 0, len(c.Pos))
	for k, i := range order {
		if k > 0 && c.Docs[i] == c.Docs[order[k-1]] {
			m.TFs[len(m.TFs)-1] += c.TFs[i]
		} else {
			m.Docs = append(m.Docs, c.Docs[i])
			m.TFs = append(m.TFs, c.TFs[i])
		}
		m.Pos = append(m.Pos, c.Pos[first[i]:first[i]+c.TFs[i]]...)
	}
	return m.encode(dst, nil, nil)
}

// offsets returns where each posting's positions start in Pos.
func (c *Columns) offsets() ([]uint32, error) {
	if err := c.checkTotal(); err != nil {
		return nil, err
	}
	off := make([]uint32, len(c.TFs))
	total := uint32(0)
	for i, tf := range c.TFs {
		off[i] = total
		total += tf
	}
	return off, nil
}

// checkTotal checks that the term frequencies add up to the positions.
func (c *Columns) checkTotal() error {
	total := uint64(0)
	for _, tf := range c.TFs {
		total += uint64(tf)
	}
	if total != uint64(len(c.Pos)) {
		return fmt.Errorf("postings: term frequencies add up to %d, %d positions", total, len(c.Pos))
	}
	return nil
}

// encode appends the encoding of c's postings, taken in the order given
// (nil: as they are), off being their offsets in Pos when order is given.
func (c *Columns) encode(dst []byte, order []int32, off []uint32) ([]byte, error) {
	n := len(c.Docs)
	if order == nil {
		if err := c.checkTotal(); err != nil {
			return dst, err
		}
	}
	type skip struct{ doc, off uint64 }
	var skips []skip
	data := make([]byte, 0, 2*n+len(c.Pos)+8)
	prev := uint64(0)
	next := uint32(0) // start of the next posting's positions, in order
	for k := range n {
		i := k
		if order != nil {
			i = int(order[k])
			next = off[i]
		}
		doc, tf := c.Docs[i], c.TFs[i]
		if k > 0 && uint64(doc) <= prev {
			return dst, fmt.Errorf("postings: doc %d after doc %d", doc, prev)
		}
		if tf == 0 {
			return dst, fmt.Errorf("postings: doc %d has no positions", doc)
		}
		data = binary.AppendUvarint(data, uint64(doc)-prev)
		prev = uint64(doc)
		data = binary.AppendUvarint(data, uint64(tf))
		last := uint64(0)
		for j, pos := range c.Pos[next : next+tf] {
			if j > 0 && uint64(pos) < last {
				return dst, fmt.Errorf("postings: doc %d: positions not increasing", doc)
			}
			data = binary.AppendUvarint(data, uint64(pos)-last)
			last = uint64(pos)
		}
		next += tf
		if (k+1)%BlockSize == 0 && k+1 < n {
			skips = append(skips, skip{uint64(doc), uint64(len(data))})
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, uint64(len(skips)))
	for _, s := range skips {
		dst = binary.AppendUvarint(dst, s.doc)
		dst = binary.AppendUvarint(dst, s.off)
	}
	return append(dst, data...), nil
}

// Iterator walks an encoded list. It does not allocate per posting.
type Iterator struct {
	data   []byte // postings data
	skips  []byte // skip entries, still encoded
	count  int
	i      int // postings read
	off    int // offset in data of the next posting
	doc    uint64
	tf     int
	posOff int // offset of the current posting's positions
	err    error

	// Advance's cursor in skips: the entries before skipOff, skipK of
	// them, are of blocks that end at or before posting i, and so never
	// needed again (i only grows).
	skipOff int
	skipK   int
}

// NewIterator parses the header of an encoded list. b is not copied.
func NewIterator(b []byte) (*Iterator, error) {
	it := &Iterator{}
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad count", ErrCorrupt)
	}
	b = b[n:]
	nskips, n := binary.Uvarint(b)
	if n <= 0 || nskips > count/BlockSize {
		return nil, fmt.Errorf("%w: bad skip count", ErrCorrupt)
	}
	b = b[n:]
	start := b
	for range 2 * nskips {
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad skip entry", ErrCorrupt)
		}
		b = b[n:]
	}
	it.skips = start[:len(start)-len(b)]
	it.data, it.count = b, int(count)
	return it, nil
}

// Len is the number of postings (the document frequency).
func (it *Iterator) Len() int { return it.count }

func (it *Iterator) uvarint() uint64 {
	if it.off < len(it.data) && it.data[it.off] < 0x80 { // one byte: most deltas
		v := it.data[it.off]
		it.off++
		return uint64(v)
	}
	v, n := binary.Uvarint(it.data[it.off:])
	if n <= 0 {
		it.err = fmt.Errorf("%w: bad varint at %d", ErrCorrupt, it.off)
		return 0
	}
	it.off += n
	return v
}

// Next moves to the next posting; false at the end or on error.
func (it *Iterator) Next() bool {
	if it.err != nil || it.i >= it.count {
		return false
	}
	// Step over the previous posting's positions.
	it.off = it.posOff
	it.skip(it.tf)
	delta := it.uvarint()
	tf := it.uvarint()
	if it.err != nil {
		return false
	}
	if (it.i > 0 && delta == 0) || it.doc+delta > 1<<32-1 || tf == 0 || tf > uint64(len(it.data)-it.off) {
		it.err = fmt.Errorf("%w: posting %d", ErrCorrupt, it.i)
		return false
	}
	it.doc += delta
	it.tf = int(tf)
	it.posOff = it.off
	it.i++
	return true
}

// skip steps it.off over n varints without decoding them, failing as
// uvarint would on the first bad one.
func (it *Iterator) skip(n int) {
	d, off := it.data, it.off
	for ; n > 0; n-- {
		if off < len(d) && d[off] < 0x80 {
			off++
			continue
		}
		_, k := binary.Uvarint(d[off:])
		if k <= 0 {
			it.off = off
			it.err = fmt.Errorf("%w: bad varint at %d", ErrCorrupt, off)
			return
		}
		off += k
	}
	it.off = off
}

// Doc is the current posting's document.
func (it *Iterator) Doc() uint32 { return uint32(it.doc) }

// TF is the current posting's term frequency.
func (it *Iterator) TF() int { return it.tf }

// Positions appends the current posting's positions to dst.
func (it *Iterator) Positions(dst []uint32) []uint32 {
	off := it.off
	it.off = it.posOff
	pos := uint64(0)
	for range it.tf {
		pos += it.uvarint()
		if it.err != nil || pos > 1<<32-1 {
			if it.err == nil {
				it.err = fmt.Errorf("%w: position overflow", ErrCorrupt)
			}
			break
		}
		dst = append(dst, uint32(pos))
	}
	it.off = off
	return dst
}

// FirstPosition is the current posting's first position, decoding only
// that one: cheaper than Positions when the rest are not needed. It is 0
// (and Err says why) when the position cannot be decoded.
func (it *Iterator) FirstPosition() uint32 {
	off := it.off
	it.off = it.posOff
	pos := it.uvarint()
	it.off = off
	if it.err == nil && pos > 1<<32-1 {
		it.err = fmt.Errorf("%w: position overflow", ErrCorrupt)
	}
	if it.err != nil {
		return 0
	}
	return uint32(pos)
}

// Advance moves to the first posting whose document is at least target,
// jumping over whole blocks through the skip entries; false if there is
// none.
func (it *Iterator) Advance(target uint32) bool {
	if it.i > 0 && it.Doc() >= target {
		return true
	}
	for it.skipOff < len(it.skips) { // validated by NewIterator
		rest := it.skips[it.skipOff:]
		d, n := binary.Uvarint(rest)
		o, m := binary.Uvarint(rest[n:])
		end := (it.skipK + 1) * BlockSize // postings before the next block
		if end > it.i {
			if d >= uint64(target) {
				break // the target is in this block
			}
			if o > uint64(len(it.data)) {
				it.err = fmt.Errorf("%w: skip offset %d", ErrCorrupt, o)
				return false
			}
			it.i, it.doc, it.off, it.posOff, it.tf = end, d, int(o), int(o), 0
		}
		it.skipOff += n + m // this block is now behind
		it.skipK++
	}
	for it.Next() {
		if it.Doc() >= target {
			return true
		}
	}
	return false
}

// Err is the decoding error that stopped the iterator, if any.
func (it *Iterator) Err() error { return it.err }
