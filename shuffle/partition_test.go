package shuffle

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/superstep/superstep/internal/planspec"
)

func TestPartitionersDoNotAllocate(t *testing.T) {
	key := []byte("some-key-0042")
	h := NewHashPartitioner(64)
	rp := &RangePartitioner{Bounds: planspec.RangeBounds([][]byte{[]byte("a"), []byte("f"), []byte("m"), []byte("t")}, 4)}
	if n := testing.AllocsPerRun(100, func() { h.Partition(key); rp.Partition(key) }); n != 0 {
		t.Fatalf("partitioning allocates %.1f times per key", n)
	}
}

func TestHashPartitionerGolden(t *testing.T) {
	// Pinned values: changing them breaks shuffles between versions.
	h := NewHashPartitioner(1000)
	for key, want := range map[string]int{
		"":      0xEF46DB3751D8E999 % 1000,
		"a":     0xD24EC4F1A98C6E5B % 1000,
		"abc":   0x44BC2CF5AD770999 % 1000,
		"hello": 0x26C7827D889F6DA3 % 1000,
	} {
		if got := h.Partition([]byte(key)); got != want {
			t.Errorf("Partition(%q) = %d, want %d", key, got, want)
		}
	}
	if NewHashPartitioner(0).NumPartitions() != 1 || NewHashPartitioner(0).Partition([]byte("x")) != 0 {
		t.Fatal("n < 1 is not treated as 1")
	}
}

func TestRangeBoundsEdges(t *testing.T) {
	samples := [][]byte{[]byte("d"), []byte("a"), []byte("c"), []byte("b")}
	orig := fmt.Sprint(samples)
	if planspec.RangeBounds(samples, 1) != nil || planspec.RangeBounds(nil, 4) != nil {
		t.Fatal("n <= 1 or no samples must give nil")
	}
	b := planspec.RangeBounds(samples, 4)
	if fmt.Sprint(samples) != orig {
		t.Fatal("RangeBounds modified its samples")
	}
	if got := fmt.Sprintf("%s", b); got != "[b c d]" {
		t.Fatalf("bounds %s, want [b c d]", got)
	}
	b[0][0] = 'z'
	if samples[3][0] != 'b' {
		t.Fatal("bounds alias the samples")
	}
	rp := &RangePartitioner{Bounds: [][]byte{[]byte("b"), []byte("d")}}
	for key, want := range map[string]int{"": 0, "a": 0, "b": 1, "c": 1, "d": 2, "zz": 2} {
		if got := rp.Partition([]byte(key)); got != want {
			t.Errorf("Partition(%q) = %d, want %d", key, got, want)
		}
	}
	if rp.NumPartitions() != 3 || !slices.IsSortedFunc(rp.Bounds, bytes.Compare) {
		t.Fatal("NumPartitions")
	}
}
