package main

import (
	"math/rand/v2"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/shuffle"
)

// WriteMapOutput writes an uncompressed map output of about size bytes of
// random (incompressible) 100-byte rows in one run of partition 0.
func WriteMapOutput(path string, size int64) (*shuffle.Index, error) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.BinaryTypes.Binary}}, nil)
	w, err := shuffle.NewFileWriter(path, 1, shuffle.WriterOptions{Compression: shuffle.None})
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	row := make([]byte, 100)
	mem := memory.NewGoAllocator()
	for written := int64(0); written < size; {
		n := int(min(10000, (size-written+99)/100))
		bb := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		for range n {
			for i := range row {
				row[i] = byte(r.Uint32())
			}
			bb.Append(row)
		}
		col := bb.NewArray()
		rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
		err := w.Write(0, rec)
		rec.Release()
		col.Release()
		bb.Release()
		if err != nil {
			w.Close()
			return nil, err
		}
		written += int64(n) * 100
	}
	return w.Close()
}
