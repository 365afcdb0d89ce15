package shuffle

import (
	"bytes"
	"slices"

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
// no upper one). Bounds must be sorted and distinct, as RangeBounds returns
// them, and must not be modified while the partitioner is in use.
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

// RangeBounds picks up to n-1 distinct bounds at the quantiles of the
// samples, so that a RangePartitioner spreads keys like the samples evenly
// over n partitions (the sorted samples at i*len/n for i = 1..n-1,
// duplicates dropped, so it may return fewer than n-1 bounds; nil for n <= 1
// or no samples). It is deterministic, does not modify samples, and returns
// copies the caller owns.
func RangeBounds(samples [][]byte, n int) [][]byte {
	if n <= 1 || len(samples) == 0 {
		return nil
	}
	s := slices.Clone(samples)
	slices.SortFunc(s, bytes.Compare)
	var out [][]byte
	for i := 1; i < n; i++ {
		b := s[i*len(s)/n]
		if len(out) == 0 || bytes.Compare(b, out[len(out)-1]) > 0 {
			out = append(out, slices.Clone(b))
		}
	}
	return out
}
