package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator/server"
	"github.com/superstep/superstep/shuffle"
)

// startPair starts a coordinator and two workers in this process.
func startPair(t *testing.T) (*Worker, *Worker) {
	t.Helper()
	coord := startCoordinator(t)
	return startWorker(t, coord.Addr()), startWorker(t, coord.Addr())
}

// startCoordinator starts a coordinator in this process, closed when the
// test ends.
func startCoordinator(t *testing.T) *server.Server {
	t.Helper()
	sc := server.DefaultConfig()
	sc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	coord, err := server.Start(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coord.Close() })
	return coord
}

// startWorker starts a worker of the coordinator at addr in this process,
// stopped when the test ends.
func startWorker(t *testing.T, addr string) *Worker {
	t.Helper()
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Coordinator, cfg.DataDir, cfg.Log = addr, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(ctx) })
	return w
}

// writeOutput writes a one-partition map output of n rows under w's data
// directory.
func writeOutput(t *testing.T, w *Worker, n int) (string, *shuffle.Index) {
	t.Helper()
	path := filepath.Join(w.cfg.DataDir, "job", "map.ssf")
	os.MkdirAll(filepath.Dir(path), 0o755)
	fw, err := shuffle.NewFileWriter(path, 1, shuffle.WriterOptions{Compression: shuffle.LZ4})
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.BinaryTypes.Binary}}, nil)
	for blk := 0; blk < 3; blk++ {
		b := array.NewBinaryBuilder(memory.NewGoAllocator(), arrow.BinaryTypes.Binary)
		for i := range n {
			b.Append([]byte{byte(blk), byte(i)})
		}
		col := b.NewArray()
		rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(n))
		if err := fw.Write(0, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		col.Release()
		b.Release()
	}
	ix, err := fw.Close()
	if err != nil {
		t.Fatal(err)
	}
	return path, ix
}

// readRun reads partition 0 of the output at path on holder from reader,
// as a reduce task would, and returns the rows read and the error.
func readRun(t *testing.T, reader, holder *Worker, path string, ix *shuffle.Index) (int64, error) {
	t.Helper()
	return readRunAt(t, reader, holder.ID(), holder.Addr(), path, ix)
}

// readRunAt is readRun from the holder with ID holder at addr.
func readRunAt(t *testing.T, reader *Worker, holder, addr, path string, ix *shuffle.Index) (int64, error) {
	t.Helper()
	ixb, _ := ix.MarshalBinary()
	ref := &pb.AttemptRef{JobId: "job", Stage: 0, Task: 7, Attempt: 1}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := &inputs{w: reader, mem: mem, cached: map[string]*shuffle.Index{}, shuf: []*pb.ShuffleInput{{Node: 3, Side: 0,
		Outputs: []*pb.MapOutputLocation{{WorkerId: holder, Address: addr, Path: path, Index: ixb, Attempt: ref}}}}}
	openers, err := in.Runs(context.Background(), 3, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, open := range openers {
		it, err := open(context.Background())
		if err != nil {
			return rows, err
		}
		for it.Next(context.Background()) {
			rows += it.Record().NumRows()
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func TestFetchRemoteAndLocal(t *testing.T) {
	a, b := startPair(t)
	path, ix := writeOutput(t, a, 500)
	for _, reader := range []*Worker{a, b} { // a reads its own file directly, b fetches it
		rows, err := readRun(t, reader, a, path, ix)
		if err != nil || rows != 1500 {
			t.Fatalf("reader %s: %d rows, %v", reader.ID(), rows, err)
		}
	}
}

// TestCorruptOrMissingInputIsLost: a block damaged on the holder's disk, or
// a holder that is gone, is reported as a lost input naming the attempt
// that wrote it, so the coordinator recomputes it.
func TestCorruptOrMissingInputIsLost(t *testing.T) {
	a, b := startPair(t)
	path, ix := writeOutput(t, a, 500)
	raw, _ := os.ReadFile(path)
	h := ix.Runs[0][0].Blocks[1]
	raw[h.Offset+h.Length-3] ^= 0x40
	os.WriteFile(path, raw, 0o644)
	a.files.dropUnder(filepath.Dir(path)) // forget the cached reader of the old file
	for _, reader := range []*Worker{a, b} {
		_, err := readRun(t, reader, a, path, ix)
		var li *lostInput
		if !errors.As(err, &li) || !errors.Is(err, bsp.ErrMapOutputLost) || !errors.Is(err, shuffle.ErrCorrupt) ||
			li.ref.GetTask() != 7 || li.ref.GetAttempt() != 1 {
			t.Fatalf("reader %s: want a lost input of task 7 attempt 1 caused by corruption, got %v", reader.ID(), err)
		}
	}
	a.Stop(context.Background())
	_, err := readRun(t, b, a, path, ix)
	var li *lostInput
	if !errors.As(err, &li) {
		t.Fatalf("holder gone: want a lost input, got %v", err)
	}
}
