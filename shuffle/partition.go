package shuffle

import (
	"bytes"

	"github.com/cespare/xxhash/v2"
)

// Partitioner assigns key bytes to reduce partitions. Partition returns a
// value in [0, NumPartitions()) and depends on the key bytes alone, so every
// process of every build agrees on it. Implementations are safe for
// concurrent use and do not retain key.
type Partitioner interface {
	Partition(key []byte) int
	NumPartitions() int
}

type hashPartitioner struct{ n uint64 }

// NewHashPartitioner partitions by XXH64(key, seed 0) mod n. The function is
// part of the shuffle format: it never changes, so map tasks of different
// processes and versions agree (the tests pin golden values). n < 1 is
// treated as 1.
func NewHashPartitioner(n int) Partitioner {
	if n < 1 {
		n = 1
	}
	return hashPartitioner{n: uint64(n)}
}

// Partition is XXH64(key) mod n.
func (h hashPartitioner) Partition(key []byte) int { return int(xxhash.Sum64(key) % h.n) }

// NumPartitions is n.
func (h hashPartitioner) NumPartitions() int { return int(h.n) }

// RangePartitioner puts keys k with Bounds[i-1] <= k < Bounds[i] in
// partition i (bytes.Compare order; partition 0 has no lower bound, the last
// no upper one). Bounds must be sorted and distinct, as planspec.RangeBounds
// returns them, and must not be modified while the partitioner is in use.
type RangePartitioner struct{ Bounds [][]byte }

// Partition returns the number of bounds not greater than key, by binary
// search. It does not allocate.
func (r *RangePartitioner) Partition(key []byte) int {
	lo, hi := 0, len(r.Bounds)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if bytes.Compare(r.Bounds[mid], key) <= 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// NumPartitions is len(Bounds)+1.
func (r *RangePartitioner) NumPartitions() int { return len(r.Bounds) + 1 }
