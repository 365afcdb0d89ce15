package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/shuffle"
)

// TestDeleteJobDropsResidentPartitions: the Pregel partitions of a job go
// with its files, and no other job's.
func TestDeleteJobDropsResidentPartitions(t *testing.T) {
	a, _ := startPair(t)
	a.res.Put("job/2/0", "partition")
	a.res.Put("job-b/2/0", "partition")
	if err := a.deleteJob(context.Background(), "job"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.res.Get("job/2/0"); ok {
		t.Fatal("the deleted job's partition is still resident")
	}
	if _, ok := a.res.Get("job-b/2/0"); !ok {
		t.Fatal("another job's partition was dropped")
	}
}

// TestMessageOutputsAreFetched: a Pregel message output (side
// bsp.MessageSide, under the worker's data directory) is read locally and
// fetched remotely like any map output.
func TestMessageOutputsAreFetched(t *testing.T) {
	a, b := startPair(t)
	path, ix := writeOutput(t, a, 200)
	msgPath := filepath.Join(a.cfg.DataDir, "job", "pregel-3", "ss000001-map00000-a4.ssf")
	os.MkdirAll(filepath.Dir(msgPath), 0o755)
	if err := os.Rename(path, msgPath); err != nil {
		t.Fatal(err)
	}
	ixb, _ := ix.MarshalBinary()
	for _, reader := range []*Worker{a, b} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		in := &inputs{w: reader, mem: mem, cached: map[string]*shuffle.Index{}, shuf: []*pb.ShuffleInput{{Node: 3, Side: bsp.MessageSide,
			Outputs: []*pb.MapOutputLocation{{WorkerId: a.ID(), Address: a.Addr(), Path: msgPath, Index: ixb,
				Attempt: &pb.AttemptRef{JobId: "job", Stage: 1, Task: 0, Attempt: 4}}}}}}
		if _, err := in.Runs(context.Background(), 3, 0, 0); err == nil {
			t.Fatal("side 0 of a message-only input was found")
		}
		rows, err := countRows(in, 3, bsp.MessageSide)
		if err != nil || rows != 600 {
			t.Fatalf("reader %s: %d rows, %v", reader.ID(), rows, err)
		}
		mem.AssertSize(t, 0)
	}
}

// countRows reads partition 0 of every input of node and side.
func countRows(in *inputs, node, side int) (int64, error) {
	ctx := context.Background()
	openers, err := in.Runs(ctx, node, side, 0)
	if err != nil {
		return 0, err
	}
	var rows int64
	for _, open := range openers {
		it, err := open(ctx)
		if err != nil {
			return rows, err
		}
		for it.Next(ctx) {
			rows += it.Record().NumRows()
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return rows, fmt.Errorf("run: %w", err)
		}
	}
	return rows, nil
}
