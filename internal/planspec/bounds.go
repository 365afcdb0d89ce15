package planspec

import (
	"bytes"
	"slices"
)

// RangeBounds computes the bounds of a range partitioner with the given
// number of partitions from sample keys: the keys are sorted bytewise, the
// (partitions-1) quantiles at positions i*len/partitions (i = 1 …
// partitions-1) are picked, and repeated keys are dropped, so that there may
// be fewer bounds than partitions-1. Partition p then holds the keys k with
// bounds[p-1] <= k < bounds[p] (bytewise; shuffle.RangePartitioner). The
// result depends only on the multiset of samples, not on their order; it is
// nil when there are no samples or fewer than two partitions. The
// coordinator, the in-process executor and the workers all call this one
// function, so that they agree. The samples are not modified; the bounds
// are fresh copies the caller owns.
func RangeBounds(samples [][]byte, partitions int) [][]byte {
	if len(samples) == 0 || partitions < 2 {
		return nil
	}
	sorted := slices.Clone(samples)
	slices.SortFunc(sorted, bytes.Compare)
	var out [][]byte
	for i := 1; i < partitions; i++ {
		k := sorted[i*len(sorted)/partitions]
		if len(out) > 0 && bytes.Equal(out[len(out)-1], k) {
			continue
		}
		out = append(out, bytes.Clone(k))
	}
	return out
}
