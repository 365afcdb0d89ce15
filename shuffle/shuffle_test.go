package shuffle

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/internal/planspec"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "key", Type: arrow.BinaryTypes.Binary},
	{Name: "val", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String},
}, nil)

type row struct {
	key []byte
	val int64
	s   string
}

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: from the clock)")

// seeded returns a random source for one test and logs its seed; rerun
// with -seed to reproduce a failure.
func seeded(t testing.TB) *rand.Rand {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", s, s)
	return rand.New(rand.NewPCG(s, 11))
}

func makeRecord(mem memory.Allocator, rows []row) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.BinaryBuilder).Append(r.key)
		b.Field(1).(*array.Int64Builder).Append(r.val)
		b.Field(2).(*array.StringBuilder).Append(r.s)
	}
	return b.NewRecordBatch()
}

func readRows(rec arrow.RecordBatch) []row {
	out := make([]row, rec.NumRows())
	for i := range out {
		out[i] = rowAt(rec, i)
	}
	return out
}

func rowAt(rec arrow.RecordBatch, i int) row {
	return row{key: slices.Clone(rec.Column(0).(*array.Binary).Value(i)),
		val: rec.Column(1).(*array.Int64).Value(i), s: rec.Column(2).(*array.String).Value(i)}
}

func randomRows(r *rand.Rand, n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{key: []byte(fmt.Sprintf("k%04d", r.IntN(500))), val: int64(i), s: fmt.Sprint(r.IntN(1000))}
	}
	return out
}

func TestBlockRoundTripAndCorruption(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := seeded(t)
	rows := randomRows(r, 300)
	rec := makeRecord(mem, rows)
	defer rec.Release()
	for _, c := range []Compression{None, LZ4, Zstd} {
		b, err := EncodeBlock(nil, rec, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeBlock(b, mem)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if fmt.Sprint(readRows(got)) != fmt.Sprint(rows) {
			t.Fatalf("%s: rows differ", c)
		}
		got.Release()
	}
}

func FuzzDecodeBlock(f *testing.F) {
	rec := makeRecord(memory.NewGoAllocator(), []row{{key: []byte("a"), val: 1, s: "x"}})
	for _, c := range []Compression{None, LZ4, Zstd} {
		b, _ := EncodeBlock(nil, rec, c)
		f.Add(b)
	}
	f.Add([]byte("SSB1\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		rec, err := DecodeBlock(b, mem)
		if err == nil {
			rec.Release()
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not match ErrCorrupt", err)
		}
		mem.AssertSize(t, 0)
	})
}

func FuzzUnmarshalIndex(f *testing.F) {
	ix := &Index{NumPartitions: 2, Runs: [][]Run{{{Blocks: []BlockHandle{{0, 100, 5}}}}, nil}, Rows: 5, RawBytes: 90, Bytes: 100}
	b, _ := ix.MarshalBinary()
	f.Add(b)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := UnmarshalIndex(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		// Varints may be non-minimal in the input; the decoded index must
		// survive an encode/decode round trip unchanged.
		again, _ := ix.MarshalBinary()
		ix2, err := UnmarshalIndex(again)
		if err != nil || fmt.Sprint(ix2) != fmt.Sprint(ix) {
			t.Fatalf("index does not round-trip: %v", err)
		}
	})
}

// writeFile writes a file whose partitions get runs from several spills,
// some partitions none, and returns what each partition's runs hold.
func writeFile(t *testing.T, mem memory.Allocator, path string, r *rand.Rand) [][][]row {
	t.Helper()
	const parts = 4
	w, err := NewFileWriter(path, parts, WriterOptions{Compression: Zstd, Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file visible before Close: %v", err)
	}
	want := make([][][]row, parts)
	for spill := 0; spill < 3; spill++ {
		for p := 0; p < parts; p++ {
			if p == 2 || (r.IntN(4) == 0 && !(p == 0 && spill == 0)) {
				continue // partition 2 stays empty; partition 0 always has a run
			}
			var run []row
			for blk := 0; blk < 1+r.IntN(3); blk++ {
				rows := randomRows(r, 1+r.IntN(50))
				rec := makeRecord(mem, rows)
				if err := w.Write(p, rec); err != nil {
					t.Fatal(err)
				}
				rec.Release()
				run = append(run, rows...)
			}
			want[p] = append(want[p], run)
		}
		if err := w.FinishRun(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Close: %v", err)
	}
	return want
}

func TestFileWriteRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := seeded(t)
	path := filepath.Join(t.TempDir(), "map.ssf")
	want := writeFile(t, mem, path, r)
	fr, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	ix := fr.Index()
	for p := range want {
		if len(ix.Runs[p]) != len(want[p]) {
			t.Fatalf("partition %d: %d runs, want %d", p, len(ix.Runs[p]), len(want[p]))
		}
		for i, run := range ix.Runs[p] {
			it := NewRunIterator(FileBlockSource(fr), run, mem)
			var got []row
			for it.Next(context.Background()) {
				got = append(got, readRows(it.Record())...)
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			it.Close()
			if fmt.Sprint(got) != fmt.Sprint(want[p][i]) {
				t.Fatalf("partition %d run %d differs", p, i)
			}
		}
	}
	if ix.PartitionBytes(2) != 0 || ix.Bytes == 0 || ix.RawBytes == 0 {
		t.Fatalf("index totals: %+v", ix)
	}

	// A damaged block is reported with the file and offset.
	h := ix.Runs[0][0].Blocks[0]
	raw, _ := os.ReadFile(path)
	raw[h.Offset+h.Length-1] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.ssf")
	os.WriteFile(bad, raw, 0o644)
	br, err := OpenFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	it := NewRunIterator(FileBlockSource(br), br.Index().Runs[0][0], mem)
	for it.Next(context.Background()) {
	}
	var ce *CorruptError
	if !errors.As(it.Err(), &ce) || ce.Path != bad || ce.Offset != h.Offset {
		t.Fatalf("want a CorruptError at %s:%d, got %v", bad, h.Offset, it.Err())
	}
	it.Close()
	// A damaged footer or index fails OpenFile.
	raw, _ = os.ReadFile(path)
	raw[len(raw)-footerLength-2] ^= 0xff
	os.WriteFile(bad, raw, 0o644)
	if _, err := OpenFile(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged index: %v", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := NewFileWriter(filepath.Join(dir, "x.ssf"), 2, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := makeRecord(memory.NewGoAllocator(), []row{{key: []byte("a")}})
	defer rec.Release()
	w.Write(1, rec)
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("Abort left %v", left)
	}
}

// sortedRuns returns n runs of random rows, each sorted by key, as
// iterator factories over in-memory records, and the stable-sorted union.
func sortedRuns(r *rand.Rand, mem memory.Allocator, n int) ([]func() (RecordIterator, error), []row) {
	var all []row
	var inputs []func() (RecordIterator, error)
	for i := range n {
		rows := randomRows(r, r.IntN(400))
		for j := range rows {
			rows[j].s = fmt.Sprintf("run%d-%d", i, j)
		}
		slices.SortStableFunc(rows, func(a, b row) int { return bytes.Compare(a.key, b.key) })
		all = append(all, rows...)
		inputs = append(inputs, func() (RecordIterator, error) {
			var recs []arrow.RecordBatch
			for k := 0; k < len(rows); k += 37 {
				recs = append(recs, makeRecord(mem, rows[k:min(k+37, len(rows))]))
			}
			return &sliceIterator{recs: recs}, nil
		})
	}
	slices.SortStableFunc(all, func(a, b row) int { return bytes.Compare(a.key, b.key) })
	return inputs, all
}

// sliceIterator yields records it owns.
type sliceIterator struct {
	recs []arrow.RecordBatch
	cur  arrow.RecordBatch
}

func (s *sliceIterator) Next(context.Context) bool {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	if len(s.recs) == 0 {
		return false
	}
	s.cur, s.recs = s.recs[0], s.recs[1:]
	return true
}
func (s *sliceIterator) Record() arrow.RecordBatch { return s.cur }
func (s *sliceIterator) Err() error                { return nil }
func (s *sliceIterator) Close() error {
	for s.Next(context.Background()) {
	}
	return nil
}

func drain(t *testing.T, m *Merger) []row {
	t.Helper()
	var got []row
	for m.Next(context.Background()) {
		rec, i := m.Row()
		got = append(got, rowAt(rec, i))
		if !bytes.Equal(m.Key(), got[len(got)-1].key) {
			t.Fatal("Key() differs from the row's key column")
		}
	}
	if m.Err() != nil {
		t.Fatal(m.Err())
	}
	return got
}

func TestMergerIsStableSort(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	inputs, want := sortedRuns(seeded(t), mem, 8)
	its, _ := openAll(inputs)
	m := NewMerger(its)
	got := drain(t, m)
	m.Close()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("merge differs from a stable sort of the inputs")
	}
}

func TestMergeAllBoundedFanIn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	inputs, want := sortedRuns(seeded(t), mem, 20)
	tmp := t.TempDir()
	m, err := MergeAll(context.Background(), inputs, MergeOptions{MaxFanIn: 3, TempDir: tmp, Compression: LZ4, Mem: mem, BlockRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("multi-pass merge differs from a stable sort of the inputs")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestPartitioners(t *testing.T) {
	h := NewHashPartitioner(7)
	// The hash is part of the shuffle format: XXH64 with seed 0, whose
	// published test vectors are XXH64("") = 0xEF46DB3751D8E999,
	// XXH64("a") = 0xD24EC4F1A98C6E5B, XXH64("abc") = 0x44BC2CF5AD770999.
	for key, want := range map[string]int{"": 0xEF46DB3751D8E999 % 7, "a": 0xD24EC4F1A98C6E5B % 7, "abc": 0x44BC2CF5AD770999 % 7} {
		if got := h.Partition([]byte(key)); got != want {
			t.Errorf("hash partition of %q = %d, want %d", key, got, want)
		}
	}
	r := seeded(t)
	var samples [][]byte
	for range 1000 {
		samples = append(samples, []byte(fmt.Sprintf("%05d", r.IntN(100000))))
	}
	bounds := planspec.RangeBounds(samples, 8)
	if len(bounds) != 7 || !slices.IsSortedFunc(bounds, bytes.Compare) {
		t.Fatalf("bounds %q", bounds)
	}
	if fmt.Sprint(planspec.RangeBounds(samples, 8)) != fmt.Sprint(bounds) {
		t.Fatal("bounds not deterministic")
	}
	rp := &RangePartitioner{Bounds: bounds}
	for range 1000 {
		k := []byte(fmt.Sprintf("%05d", r.IntN(100000)))
		p := rp.Partition(k)
		if (p > 0 && bytes.Compare(k, bounds[p-1]) < 0) || (p < len(bounds) && bytes.Compare(k, bounds[p]) >= 0) {
			t.Fatalf("key %s in partition %d with bounds %q", k, p, bounds)
		}
	}
	if planspec.RangeBounds([][]byte{[]byte("x"), []byte("x")}, 4) == nil || len(planspec.RangeBounds([][]byte{[]byte("x")}, 4)) != 1 {
		t.Fatal("duplicate samples must collapse to one bound")
	}
}

func BenchmarkBlock(b *testing.B) {
	mem := memory.NewGoAllocator()
	rows := randomRows(rand.New(rand.NewPCG(1, 2)), 1<<15)
	rec := makeRecord(mem, rows)
	defer rec.Release()
	for _, c := range []Compression{LZ4, Zstd} {
		enc, _ := EncodeBlock(nil, rec, c)
		b.Run("encode-"+c.String(), func(b *testing.B) {
			b.SetBytes(recordBytes(rec))
			var buf []byte
			for b.Loop() {
				buf, _ = EncodeBlock(buf[:0], rec, c)
			}
		})
		b.Run("decode-"+c.String(), func(b *testing.B) {
			b.SetBytes(recordBytes(rec))
			for b.Loop() {
				r, _ := DecodeBlock(enc, mem)
				r.Release()
			}
		})
	}
}

func BenchmarkMerger(b *testing.B) {
	mem := memory.NewGoAllocator()
	r := rand.New(rand.NewPCG(3, 4))
	inputs, all := sortedRuns(r, mem, 8)
	b.ReportMetric(float64(len(all)), "rows/merge")
	for b.Loop() {
		its, _ := openAll(inputs)
		m := NewMerger(its)
		for m.Next(context.Background()) {
		}
		m.Close()
	}
}

func rowsEqual(a, b []row) bool {
	return slices.EqualFunc(a, b, func(x, y row) bool { return bytes.Equal(x.key, y.key) && x.val == y.val && x.s == y.s })
}

// sortedRunsSized is sortedRuns with fixed-size runs of random keys, for
// benchmarks.
func sortedRunsSized(n, rowsPerRun int, mem memory.Allocator) ([]func() (RecordIterator, error), int) {
	r := rand.New(rand.NewPCG(5, 6))
	var inputs []func() (RecordIterator, error)
	for range n {
		rows := make([]row, rowsPerRun)
		for j := range rows {
			rows[j] = row{key: []byte(fmt.Sprintf("key-%08d", r.IntN(1<<24))), val: int64(j), s: "v"}
		}
		slices.SortStableFunc(rows, func(a, b row) int { return bytes.Compare(a.key, b.key) })
		inputs = append(inputs, func() (RecordIterator, error) {
			var recs []arrow.RecordBatch
			for k := 0; k < len(rows); k += 1024 {
				recs = append(recs, makeRecord(mem, rows[k:min(k+1024, len(rows))]))
			}
			return &sliceIterator{recs: recs}, nil
		})
	}
	return inputs, n * rowsPerRun
}

// TestInvalidUTF8StringsAreData: string columns carry input bytes as they
// are; a block holding invalid UTF-8 in a (nested) string column decodes.
func TestInvalidUTF8StringsAreData(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := makeRecord(mem, []row{{key: []byte("k"), val: 1, s: "caf\xe9"}, {key: []byte("l"), val: 2, s: "\xff\xfe"}})
	defer rec.Release()
	for _, c := range []Compression{None, LZ4, Zstd} {
		b, err := EncodeBlock(nil, rec, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeBlock(b, mem)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if s := got.Column(2).(*array.String).Value(0); s != "caf\xe9" {
			t.Fatalf("%s: got %q", c, s)
		}
		got.Release()
	}
}
