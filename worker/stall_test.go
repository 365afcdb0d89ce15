package worker

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	dto "github.com/prometheus/client_model/go"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/shuffle"
)

// freezer is a TCP proxy to a worker that can be frozen: from then on it
// forwards nothing in either direction and answers nothing, as a holder
// stopped with SIGSTOP does (the kernel still accepts connections).
type freezer struct {
	lis    net.Listener
	mu     sync.Mutex // guards frozen and conns
	frozen chan struct{}
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{lis: lis, frozen: make(chan struct{})}
	t.Cleanup(func() {
		lis.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, up)
			f.mu.Unlock()
			go f.pipe(up, c)
			go f.pipe(c, up)
		}
	}()
	return f
}

// pipe copies src to dst until src ends, or forever nothing once frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-f.frozen:
			<-make(chan struct{}) // hold the bytes, as a stopped process does; Cleanup closes the conns
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (f *freezer) freeze() { close(f.frozen) }

// TestFrozenHolderFetchFailsAtDeadline: a fetch from a holder that stopped
// answering (before the connection was made, and on a connection already
// open and cached) receives nothing; after the fetch timeout it fails at
// once, without the retries a transient error gets, as a lost input naming
// the map output, and the stall is counted. Without the deadline the read
// would wait forever.
func TestFrozenHolderFetchFailsAtDeadline(t *testing.T) {
	a, b := startPair(t)
	path, ix := writeOutput(t, a, 500)
	const timeout = time.Second
	b.cfg.FetchTimeout = timeout

	// Frozen before the first connection: a listener that never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	// Frozen after a fetch went through on the cached connection.
	f := newFreezer(t, a.Addr())
	for i, c := range []struct {
		name   string
		addr   string
		before func()
	}{
		{"never answers", mute.Addr().String(), nil},
		{"freezes after a fetch", f.lis.Addr().String(), func() {
			if rows, err := readRunAt(t, b, a.ID(), f.lis.Addr().String(), path, ix); err != nil || rows != 1500 {
				t.Fatalf("through the proxy before the freeze: %d rows, %v", rows, err)
			}
			f.freeze()
		}},
	} {
		if c.before != nil {
			c.before()
		}
		start := time.Now()
		_, err := readRunAt(t, b, a.ID(), c.addr, path, ix)
		took := time.Since(start)
		var li *lostInput
		if !errors.As(err, &li) || !errors.Is(err, bsp.ErrMapOutputLost) || !errors.Is(err, errStalled) || li.ref.GetTask() != 7 {
			t.Fatalf("%s: want a lost input of task 7 caused by a stall, got %v", c.name, err)
		}
		if took < timeout {
			t.Fatalf("%s: failed after %s, before the fetch timeout (%s)", c.name, took, timeout)
		}
		// Counted once: the stalled fetch was not retried.
		var m dto.Metric
		if err := b.metrics.fetchStalls.Write(&m); err != nil {
			t.Fatal(err)
		}
		if n := m.GetCounter().GetValue(); n != float64(i+1) {
			t.Fatalf("%s: %v stalls counted, want %d", c.name, n, i+1)
		}
	}
}

// fakeStream delivers the chunks at once, unless its context was
// cancelled (by the fetch deadline); it stands for a healthy holder.
type fakeStream struct {
	grpc.ClientStream
	ctx    context.Context
	chunks [][]byte
}

func (f *fakeStream) Recv() (*pb.FetchChunk, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if len(f.chunks) == 0 {
		return nil, io.EOF
	}
	c := f.chunks[0]
	f.chunks = f.chunks[1:]
	return &pb.FetchChunk{Data: c}, nil
}

// TestSlowReaderIsNotAStall: the fetch deadline runs only while the reader
// waits for the holder. A reader that takes longer than the deadline after
// its first block (a merge busy with its other runs) reads the run whole
// from a holder that answers at once.
func TestSlowReaderIsNotAStall(t *testing.T) {
	a, b := startPair(t)
	path, ix := writeOutput(t, a, 500)
	const timeout = 50 * time.Millisecond
	b.cfg.FetchTimeout = timeout
	fr, err := shuffle.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	var chunks [][]byte
	for _, blk := range ix.Runs[0][0].Blocks {
		c, err := fr.ReadRange(blk.Offset, blk.Length)
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	if len(chunks) < 2 {
		t.Fatalf("%d blocks, want several", len(chunks))
	}
	// A stream as open leaves it: connected, the deadline disarmed.
	ctx, cancel := context.WithCancel(context.Background())
	r := &remoteRun{w: b, loc: &pb.MapOutputLocation{WorkerId: a.ID(), Address: a.Addr(), Path: path,
		Attempt: &pb.AttemptRef{JobId: "job", Task: 7, Attempt: 1}}, mem: memory.NewGoAllocator(),
		stream: &fakeStream{ctx: ctx, chunks: chunks}, cancel: cancel, idle: newStallTimer(timeout, cancel)}
	r.idle.disarm()
	defer r.Close()
	var rows int64
	for r.Next(context.Background()) {
		if rows == 0 {
			// The reader's own work, longer than the deadline: the
			// stream must stay open through it.
			select {
			case <-ctx.Done():
				t.Fatal("the stall deadline cancelled the stream while its reader worked")
			case <-time.After(3 * timeout):
			}
		}
		rows += r.Record().NumRows()
	}
	if err := r.Err(); err != nil || rows != 1500 {
		t.Fatalf("a slow reader: %d rows, %v", rows, err)
	}
	var m dto.Metric
	if err := b.metrics.fetchStalls.Write(&m); err != nil || m.GetCounter().GetValue() != 0 {
		t.Fatalf("stalls counted for a slow reader: %v %v", m.GetCounter().GetValue(), err)
	}
}
