package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bench/baseline"
	"github.com/superstep/superstep/examples/terasort"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/worker"
	"google.golang.org/grpc"
)

// Workload is one benchmark: an input, a single-threaded baseline, a
// Superstep job and a validator that every output must pass.
type Workload interface {
	Name() string
	// Prepare creates the input of the given size under dir.
	Prepare(ctx context.Context, dir string, size int64) error
	// Input is the input's record count and byte size.
	Input() (records, bytes int64)
	// Baseline runs the single-threaded program, writing under out.
	Baseline(ctx context.Context, out string) error
	// JobArgs is the Superstep job and its flags writing to out.
	JobArgs(out string) (job string, args []string)
	// Validate checks an output directory (part-* files).
	Validate(ctx context.Context, out string) error
}

func newWorkload(name string) (Workload, error) {
	switch name {
	case "wordcount":
		return &wordcountWL{}, nil
	case "terasort":
		return &terasortWL{}, nil
	case "shuffle":
		return &shuffleWL{}, nil
	case "pagerank":
		return &pagerankWL{edgeFactor: defaultEdgeFactor}, nil
	case "webindex":
		return newWebindexWL("", ""), nil
	case "supersteps":
		return superstepsWL{}, nil
	}
	return nil, fmt.Errorf("unknown workload %q (wordcount, terasort, shuffle, pagerank, webindex, supersteps)", name)
}

// readParts concatenates the part files of dir in name order.
func readParts(dir string) ([]byte, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: no part files", dir)
	}
	var b []byte
	for _, p := range parts {
		x, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		b = append(b, x...)
	}
	return b, nil
}

// writePart writes the output of fn to out/part-00000.
func writePart(out string, fn func(io.Writer) error) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "part-00000"))
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// wordcountWL counts the words of real text from /usr/share (TextCorpus)
// or, with text TextGenerated, of GeneratedText.
type wordcountWL struct {
	text         string // TextReal (or empty) or TextGenerated
	path         string
	lines, bytes int64
	want         []byte
}

func (w *wordcountWL) Name() string { return "wordcount" }

func (w *wordcountWL) Prepare(_ context.Context, dir string, size int64) error {
	corpus := TextCorpus
	if w.text == TextGenerated {
		corpus = GeneratedText
	}
	path, err := corpus(dir, size)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	w.path, w.bytes, w.lines = path, int64(len(b)), int64(bytes.Count(b, []byte{'\n'}))
	var out bytes.Buffer
	if err := baseline.WordCount([]string{path}, &out); err != nil {
		return err
	}
	w.want = out.Bytes()
	return nil
}

func (w *wordcountWL) Input() (int64, int64) { return w.lines, w.bytes }

func (w *wordcountWL) Baseline(_ context.Context, out string) error {
	return writePart(out, func(f io.Writer) error { return baseline.WordCount([]string{w.path}, f) })
}

func (w *wordcountWL) JobArgs(out string) (string, []string) {
	return wordcount.Job.Name, []string{"--input", w.path, "--out", out}
}

func (w *wordcountWL) Validate(_ context.Context, out string) error {
	got, err := readParts(out)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, w.want) {
		return fmt.Errorf("wordcount: output differs from the baseline's (%d vs %d bytes)", len(got), len(w.want))
	}
	return nil
}

// terasortWL sorts generated 100-byte records.
type terasortWL struct {
	path string
	want terasort.Summary
}

func (t *terasortWL) Name() string { return "terasort" }

func (t *terasortWL) Prepare(_ context.Context, dir string, n int64) error {
	t.path = filepath.Join(dir, "records-"+strconv.FormatInt(n, 10)+".txt")
	t.want = terasort.Summary{Records: n}
	f, err := os.Create(t.path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var rec []byte
	for i := range n {
		rec = terasort.AppendRecord(rec[:0], i)
		t.want.Checksum += uint64(crc32.ChecksumIEEE(rec))
		bw.Write(rec)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (t *terasortWL) Input() (int64, int64) {
	return t.want.Records, t.want.Records * terasort.RecordSize
}

func (t *terasortWL) Baseline(_ context.Context, out string) error {
	return writePart(out, func(f io.Writer) error { return baseline.SortLines([]string{t.path}, f) })
}

func (t *terasortWL) JobArgs(out string) (string, []string) {
	return terasort.Job.Name, []string{"--input", t.path, "--out", out}
}

func (t *terasortWL) Validate(ctx context.Context, out string) error {
	s, err := terasort.Validate(ctx, out)
	if err != nil {
		return err
	}
	if s.Records != t.want.Records || s.Checksum != t.want.Checksum {
		return fmt.Errorf("terasort: output has %d records, checksum %x; input has %d, checksum %x",
			s.Records, s.Checksum, t.want.Records, t.want.Checksum)
	}
	return nil
}

// shuffleWL moves one map output partition from a worker to the harness
// with FetchPartition (gRPC streaming, as reducers fetch) and, as its
// baseline, the same bytes over one raw TCP connection.
type shuffleWL struct {
	path    string // the map output file
	total   int64  // bytes of partition 0
	payload []byte
}

func (s *shuffleWL) Name() string { return "shuffle" }

func (s *shuffleWL) Prepare(_ context.Context, dir string, size int64) error {
	s.path = filepath.Join(dir, fmt.Sprintf("map-%d.ssf", size))
	ix, err := WriteMapOutput(s.path, size)
	if err != nil {
		return err
	}
	s.total = ix.PartitionBytes(0)
	b, err := os.ReadFile(s.path)
	if err != nil {
		return err
	}
	s.payload = b[:s.total]
	return nil
}

func (s *shuffleWL) Input() (int64, int64) { return s.total / 100, s.total }

// Baseline copies the bytes over TCP and records the count in out/count.
func (s *shuffleWL) Baseline(_ context.Context, out string) error {
	n, err := baseline.TCPCopy(s.payload)
	if err != nil {
		return err
	}
	return writeCount(out, n)
}

func (s *shuffleWL) JobArgs(string) (string, []string) { return "", nil }

func writeCount(out string, n int64) error {
	return writePart(out, func(f io.Writer) error { _, err := fmt.Fprintln(f, n); return err })
}

func (s *shuffleWL) Validate(_ context.Context, out string) error {
	b, err := readParts(out)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("shuffle: bad count file: %v", err)
	}
	if n != s.total {
		return fmt.Errorf("shuffle: moved %d bytes, want %d", n, s.total)
	}
	return nil
}

// placeMapOutput links (or copies) the map output into a worker's data
// directory and returns its path there.
func (s *shuffleWL) placeMapOutput(dataDir string) (string, error) {
	dst := filepath.Join(dataDir, "bench-job", "map.ssf")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.Link(s.path, dst); err == nil {
		return dst, nil
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, b, 0o644)
}

// fetch streams partition 0 of the map output at path from the worker at
// addr and writes the byte count to out.
func (s *shuffleWL) fetch(ctx context.Context, addr, path, out string, t *security.TLS) error {
	conn, err := grpc.NewClient(addr, worker.FetchDialOptionsTLS(t)...)
	if err != nil {
		return err
	}
	defer conn.Close()
	st, err := pb.NewWorkerClient(conn).FetchPartition(ctx, &pb.FetchRequest{JobId: "bench-job", Path: path})
	if err != nil {
		return err
	}
	var got int64
	for {
		chunk, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		got += int64(len(chunk.GetData()))
	}
	return writeCount(out, got)
}
