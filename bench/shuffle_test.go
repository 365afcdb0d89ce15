package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/shuffle"
	"github.com/superstep/superstep/worker"
)

// shuffleBytes is the size of the map output moved per iteration.
const shuffleBytes = 128 << 20

func writeMapOutput(b *testing.B, path string, size int) *shuffle.Index {
	ix, err := WriteMapOutput(path, int64(size))
	if err != nil {
		b.Fatal(err)
	}
	return ix
}

// BenchmarkShuffleFetch moves one map output between two workers over
// loopback with FetchPartition (gRPC streaming, as reducers do) and, in the
// same iteration, the same number of bytes over a raw TCP connection. It
// reports both throughputs and their ratio (target: fetch >= 0.5 x TCP).
func BenchmarkShuffleFetch(b *testing.B) {
	ctx := context.Background()
	wc := worker.DefaultConfig()
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := b.TempDir()
	emb, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 1, Worker: wc, WorkDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Close()
	path := filepath.Join(dir, "worker-0", "bench-job", "map.ssf")
	os.MkdirAll(filepath.Dir(path), 0o755)
	ix := writeMapOutput(b, path, shuffleBytes)
	total := ix.PartitionBytes(0)
	conn, err := grpc.NewClient(emb.Workers[0].Addr(), worker.FetchDialOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	wcl := pb.NewWorkerClient(conn)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer lis.Close()
	payload, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	payload = payload[:total]
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.Write(payload)
			c.Close()
		}
	}()

	var fetchTime, tcpTime time.Duration
	b.SetBytes(total)
	for b.Loop() {
		start := time.Now()
		s, err := wcl.FetchPartition(ctx, &pb.FetchRequest{JobId: "bench-job", Path: path})
		if err != nil {
			b.Fatal(err)
		}
		var got int64
		for {
			chunk, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got += int64(len(chunk.GetData()))
		}
		fetchTime += time.Since(start)
		if got != total {
			b.Fatalf("fetched %d bytes, want %d", got, total)
		}

		start = time.Now()
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, c)
		c.Close()
		tcpTime += time.Since(start)
		if err != nil || n != total {
			b.Fatalf("tcp copy: %d bytes, %v", n, err)
		}
	}
	mb := float64(total) * float64(b.N) / (1 << 20)
	b.ReportMetric(mb/fetchTime.Seconds(), "fetch-MB/s")
	b.ReportMetric(mb/tcpTime.Seconds(), "tcp-MB/s")
	b.ReportMetric(tcpTime.Seconds()/fetchTime.Seconds(), "fetch/tcp")
}
