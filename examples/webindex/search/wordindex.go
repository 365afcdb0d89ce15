package search

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/superstep/superstep/examples/webindex/tokenize"
)

// wordStride is the number of words between two checkpoints of a
// wordIndex.
const wordStride = 64

// wordIndex lets Snippet start segmenting a text near its window instead of
// at its start: it holds the text's word count and, for every wordStride-th
// word, the byte offset tokenize.NextWord finds it from. It is immutable.
type wordIndex struct {
	words int // in the text
	// from[j] is the end of word j*wordStride-1 (0 for j = 0): NextWord
	// called with it returns word j*wordStride.
	from []uint32
}

// newWordIndex segments text once and returns its word index, or nil if
// text is too long for 32-bit offsets.
func newWordIndex(text string) *wordIndex {
	if len(text) > math.MaxUint32 {
		return nil
	}
	x := &wordIndex{from: []uint32{0}}
	for _, e, ok := tokenize.NextWord(text, 0); ok; _, e, ok = tokenize.NextWord(text, e) {
		if x.words++; x.words%wordStride == 0 {
			x.from = append(x.from, uint32(e))
		}
	}
	return x
}

// seek returns the last checkpoint at or before word: the number of the
// word there and the offset NextWord finds it from.
func (x *wordIndex) seek(word int) (at, from int) {
	j := min(max(word, 0)/wordStride, len(x.from)-1)
	return j * wordStride, int(x.from[j])
}

// wordIndexes caches the word index of each document's text, built the
// first time a snippet of the document needs one: one []uint32 per
// document, of 4 bytes per wordStride words (about 1% of the text's
// bytes), never evicted. It is safe for concurrent use; two searches that build the same
// index at once store equal values.
type wordIndexes struct {
	once sync.Once
	docs []atomic.Pointer[wordIndex] // nil while not yet built
}

// get returns the word index of document doc, whose text is text, building
// it if need be; nil if doc is not one of the n documents or text is too
// long.
func (c *wordIndexes) get(doc, n int, text string) *wordIndex {
	c.once.Do(func() { c.docs = make([]atomic.Pointer[wordIndex], n) })
	if doc < 0 || doc >= len(c.docs) {
		return nil
	}
	if x := c.docs[doc].Load(); x != nil {
		return x
	}
	x := newWordIndex(text)
	if x != nil {
		c.docs[doc].Store(x)
	}
	return x
}
