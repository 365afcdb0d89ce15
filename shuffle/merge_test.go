package shuffle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// replayIterator yields shared records without owning them, so a benchmark
// or allocation test measures the merge alone.
type replayIterator struct {
	recs []arrow.RecordBatch
	i    int
}

func (s *replayIterator) Next(context.Context) bool { s.i++; return s.i <= len(s.recs) }
func (s *replayIterator) Record() arrow.RecordBatch { return s.recs[s.i-1] }
func (s *replayIterator) Err() error                { return nil }
func (s *replayIterator) Close() error              { return nil }

// buildRuns materializes sortedRuns' inputs as record slices.
func buildRuns(t testing.TB, inputs []func() (RecordIterator, error)) [][]arrow.RecordBatch {
	var runs [][]arrow.RecordBatch
	for _, open := range inputs {
		it, err := open()
		if err != nil {
			t.Fatal(err)
		}
		var recs []arrow.RecordBatch
		for it.Next(context.Background()) {
			it.Record().Retain()
			recs = append(recs, it.Record())
		}
		it.Close()
		runs = append(runs, recs)
	}
	return runs
}

func TestMergerAllocatesNothingPerRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	inputs, all := sortedRuns(seeded(t), mem, 8)
	runs := buildRuns(t, inputs)
	defer func() {
		for _, r := range runs {
			for _, rec := range r {
				rec.Release()
			}
		}
	}()
	its := make([]RecordIterator, len(runs))
	for i, r := range runs {
		its[i] = &replayIterator{recs: r}
	}
	m := NewMerger(its)
	defer m.Close()
	ctx := context.Background()
	m.Next(ctx) // opens the inputs
	allocs := testing.AllocsPerRun(len(all)/2, func() { m.Next(ctx) })
	if allocs != 0 {
		t.Fatalf("Merger.Next allocates %.2f times per row", allocs)
	}
}

// failingIterator yields its records, then fails.
type failingIterator struct {
	sliceIterator
	err error
}

func (f *failingIterator) Next(ctx context.Context) bool { return f.sliceIterator.Next(ctx) }
func (f *failingIterator) Err() error {
	if len(f.recs) == 0 && f.cur == nil {
		return f.err
	}
	return nil
}

func TestMergerReportsInputError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	boom := errors.New("boom")
	good := &sliceIterator{recs: []arrow.RecordBatch{makeRecord(mem, []row{{key: []byte("a")}, {key: []byte("z")}})}}
	bad := &failingIterator{sliceIterator: sliceIterator{recs: []arrow.RecordBatch{makeRecord(mem, []row{{key: []byte("b")}})}}, err: boom}
	m := NewMerger([]RecordIterator{good, bad})
	n := 0
	for m.Next(context.Background()) {
		n++
	}
	if !errors.Is(m.Err(), boom) || n != 2 {
		t.Fatalf("after %d rows: %v, want boom after 2", n, m.Err())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil || m.Next(context.Background()) {
		t.Fatal("Close is not idempotent")
	}
}

func TestMergeAllFailedInputLeavesNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	inputs, _ := sortedRuns(seeded(t), mem, 10)
	boom := errors.New("cannot fetch")
	inputs[7] = func() (RecordIterator, error) { return nil, boom }
	tmp := t.TempDir()
	if _, err := MergeAll(context.Background(), inputs, MergeOptions{MaxFanIn: 3, TempDir: tmp, Mem: mem, BlockRows: 64}); !errors.Is(err, boom) {
		t.Fatalf("MergeAll: %v, want %v", err, boom)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// Inputs after the failed one were never opened; the ones before were
	// closed (the checked allocator would see their records otherwise).
}

func TestMergeAllCancelled(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	inputs, _ := sortedRuns(seeded(t), mem, 6)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tmp := t.TempDir()
	if _, err := MergeAll(ctx, inputs, MergeOptions{MaxFanIn: 2, TempDir: tmp, Mem: mem}); !errors.Is(err, context.Canceled) {
		t.Fatalf("MergeAll: %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestConcat(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := seeded(t)
	a, b := randomRows(r, 10), randomRows(r, 5)
	it := Concat(&sliceIterator{recs: []arrow.RecordBatch{makeRecord(mem, a)}}, &sliceIterator{},
		&sliceIterator{recs: []arrow.RecordBatch{makeRecord(mem, b[:2]), makeRecord(mem, b[2:])}})
	var got []row
	for it.Next(context.Background()) {
		got = append(got, readRows(it.Record())...)
	}
	if err := it.Close(); err != nil || it.Err() != nil {
		t.Fatal(err, it.Err())
	}
	if !rowsEqual(got, append(a, b...)) {
		t.Fatal("Concat changed the rows")
	}
}

// errSource fails every read.
type errSource struct{ err error }

func (e errSource) ReadBlock(context.Context, BlockHandle, []byte) ([]byte, error) { return nil, e.err }

func TestRunIteratorErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	run := Run{Blocks: []BlockHandle{{Offset: 0, Length: 100, Rows: 1}}}
	it := NewRunIterator(errSource{os.ErrDeadlineExceeded}, run, mem)
	if it.Next(context.Background()) || !errors.Is(it.Err(), os.ErrDeadlineExceeded) {
		t.Fatalf("source error not reported: %v", it.Err())
	}
	it.Close()
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	it = NewRunIterator(errSource{nil}, run, mem)
	if it.Next(ctx) || !errors.Is(it.Err(), context.DeadlineExceeded) {
		t.Fatalf("expired context not reported: %v", it.Err())
	}
	it.Close()
}

func TestFileWriterMisuse(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.ssf")
	w, err := NewFileWriter(path, 2, WriterOptions{Compression: LZ4})
	if err != nil {
		t.Fatal(err)
	}
	rec := makeRecord(mem, []row{{key: []byte("a")}})
	defer rec.Release()
	if err := w.Write(2, rec); err == nil {
		t.Fatal("partition out of range accepted")
	}
	if err := w.Write(0, rec); err != nil {
		t.Fatal(err)
	}
	full := makeRecord(mem, []row{{key: []byte("b")}})
	defer full.Release()
	keyOnly := array.NewRecordBatch(arrow.NewSchema(schema.Fields()[:1], nil), full.Columns()[:1], 1)
	defer keyOnly.Release()
	if err := w.Write(1, keyOnly); err == nil {
		t.Fatal("a block of another schema was accepted")
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
	if err := w.Write(0, rec); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if _, err := OpenFile(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing file: %v, want a plain I/O error", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("SSF1"), 0o644)
	var ce *CorruptError
	if _, err := OpenFile(short); !errors.As(err, &ce) || ce.Path != short {
		t.Fatalf("short file: %v, want a CorruptError naming it", err)
	}
}

func BenchmarkMergeOnly(b *testing.B) {
	mem := memory.NewGoAllocator()
	inputs, _ := sortedRunsSized(8, 1<<14, mem)
	runs := buildRuns(b, inputs)
	rows := 0
	for _, r := range runs {
		for _, rec := range r {
			rows += int(rec.NumRows())
		}
	}
	ctx := context.Background()
	its := make([]RecordIterator, len(runs))
	b.ResetTimer()
	for b.Loop() {
		for i, r := range runs {
			its[i] = &replayIterator{recs: r}
		}
		m := NewMerger(its)
		for m.Next(ctx) {
		}
		m.Close()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
