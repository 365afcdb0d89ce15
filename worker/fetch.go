package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/shuffle"
)

// fetchChunk is the size a FetchPartition chunk grows to before it is sent.
const fetchChunk = 4 << 20

// Shuffle streams move hundreds of megabytes: gRPC's default 64 KiB flow
// control windows would make every stream wait for window updates, so
// both ends of the Worker service use large fixed windows.
const fetchWindow = 8 << 20

// Both ends of the Worker service ping an idle connection every
// fetchKeepalive and close it when the ping is not answered within
// fetchKeepaliveTimeout, so that a connection to a peer that died or
// froze is not reused for the next fetch. (A stall inside a fetch is the
// progress deadline's, Config.FetchTimeout.)
const (
	fetchKeepalive        = 10 * time.Second
	fetchKeepaliveTimeout = 5 * time.Second
)

// FetchDialOptions are the client options for the Worker service, in
// plaintext.
func FetchDialOptions() []grpc.DialOption { return FetchDialOptionsTLS(nil) }

// workerRules says who may call the Worker service: workers and clients
// fetch (clients read collected outputs), the coordinator deletes.
var workerRules = map[string]security.Rule{
	pb.Worker_FetchPartition_FullMethodName: {Peers: []security.Role{security.RoleWorker, security.RoleClient}},
	pb.Worker_DeleteJobFiles_FullMethodName: {Peers: []security.Role{security.RoleCoordinator}},
}

// FetchDialOptionsTLS are the client options for the Worker service over
// mutual TLS with t (nil: plaintext).
func FetchDialOptionsTLS(t *security.TLS) []grpc.DialOption {
	return []grpc.DialOption{grpc.WithTransportCredentials(t.ClientCreds(security.RoleWorker)),
		grpc.WithDisableServiceConfig(), // no DNS TXT lookup (see redirect.Dial)
		grpc.WithInitialWindowSize(fetchWindow), grpc.WithInitialConnWindowSize(fetchWindow),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: fetchKeepalive, Timeout: fetchKeepaliveTimeout, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(shuffle.MaxBlockSize + 1<<20))}
}

// files caches open map output files; FileReader.ReadBlock is safe for
// concurrent use.
type files struct {
	mu   sync.Mutex // guards open
	open map[string]*shuffle.FileReader
}

func (f *files) get(path string) (*shuffle.FileReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.open[path]; ok {
		return r, nil
	}
	r, err := shuffle.OpenFile(path)
	if err != nil {
		return nil, err
	}
	f.open[path] = r
	return r, nil
}

// drop closes one file (about to be deleted).
func (f *files) drop(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.open[path]; ok {
		r.Close()
		delete(f.open, path)
	}
}

// dropUnder closes the files under dir (a job's directory being deleted).
func (f *files) dropUnder(dir string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, r := range f.open {
		if strings.HasPrefix(p, dir+string(filepath.Separator)) {
			r.Close()
			delete(f.open, p)
		}
	}
}

func (f *files) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, r := range f.open {
		r.Close()
		delete(f.open, p)
	}
}

// FetchPartition implements the Worker service: it streams the blocks of one
// run of one partition of a map output file under the worker's data
// directory.
func (w *Worker) FetchPartition(req *pb.FetchRequest, stream grpc.ServerStreamingServer[pb.FetchChunk]) error {
	path := filepath.Clean(req.GetPath())
	if err := security.Inside(w.cfg.DataDir, path); err != nil {
		return status.Errorf(codes.PermissionDenied, "%s is not a shuffle file of this worker", req.GetPath())
	}
	fr, err := w.files.get(path)
	if err != nil {
		return status.Errorf(codes.NotFound, "%v", err)
	}
	ix := fr.Index()
	p, run := int(req.GetPartition()), int(req.GetRun())
	if p < 0 || p >= len(ix.Runs) || run < 0 || run >= len(ix.Runs[p]) {
		return status.Errorf(codes.InvalidArgument, "%s has no partition %d run %d", path, p, run)
	}
	// Adjacent blocks are read with one ReadAt straight into the chunk that
	// is sent: one system call and no copy per chunk.
	blocks := ix.Runs[p][run].Blocks
	for i := 0; i < len(blocks); {
		start, end := blocks[i].Offset, blocks[i].Offset+blocks[i].Length
		j := i + 1
		for j < len(blocks) && blocks[j].Offset == end && end-start+blocks[j].Length <= fetchChunk {
			end += blocks[j].Length
			j++
		}
		chunk, err := fr.ReadRange(start, end-start)
		if err != nil {
			return status.Errorf(codes.DataLoss, "%v", err)
		}
		if err := stream.Send(&pb.FetchChunk{Data: chunk}); err != nil {
			return err
		}
		w.served.Add(int64(len(chunk)))
		w.metrics.served.Add(float64(len(chunk)))
		i = j
	}
	return nil
}

// DeleteJobFiles implements the Worker service.
func (w *Worker) DeleteJobFiles(ctx context.Context, req *pb.DeleteJobFilesRequest) (*pb.DeleteJobFilesResponse, error) {
	if err := security.ValidName("job", req.GetJobId()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	if err := w.deleteJob(ctx, req.GetJobId()); err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	return &pb.DeleteJobFilesResponse{}, nil
}

// peers caches client connections to other workers.
type peers struct {
	tls   *security.TLS
	mu    sync.Mutex // guards conns
	conns map[string]*grpc.ClientConn
}

func (p *peers) client(addr string) (pb.WorkerClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return pb.NewWorkerClient(c), nil
	}
	// passthrough: every (re)connect resolves the name afresh. A worker
	// that Swarm or Kubernetes restarts keeps its name (worker-2) but gets
	// a new IP; gRPC's dns resolver re-resolves at most every 30 s, so the
	// cached connection kept dialing the dead task's IP until the fetches
	// had failed often enough to fail the job.
	c, err := grpc.NewClient("passthrough:///"+addr, FetchDialOptionsTLS(p.tls)...)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return pb.NewWorkerClient(c), nil
}

func (p *peers) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.conns {
		c.Close()
		delete(p.conns, a)
	}
}

// lostInput says which committed map output a task could not read; it
// matches bsp.ErrMapOutputLost.
type lostInput struct {
	ref *pb.AttemptRef
	err error
}

func (e *lostInput) Error() string {
	return fmt.Sprintf("map output of stage %d task %d attempt %d: %v", e.ref.GetStage(), e.ref.GetTask(), e.ref.GetAttempt(), e.err)
}
func (e *lostInput) Unwrap() []error { return []error{bsp.ErrMapOutputLost, e.err} }

// inputs implements bsp.ShuffleInputs for one task from its assignment:
// runs in files of this worker are read directly, others are fetched.
type inputs struct {
	w      *Worker
	shuf   []*pb.ShuffleInput
	mem    memory.Allocator
	cached map[string]*shuffle.Index
}

func (in *inputs) Runs(_ context.Context, node, side, part int) ([]bsp.RunOpener, error) {
	var openers []bsp.RunOpener
	for _, si := range in.shuf {
		if int(si.GetNode()) != node || int(si.GetSide()) != side {
			continue
		}
		for _, o := range si.GetOutputs() {
			ix, ok := in.cached[o.GetPath()]
			if !ok {
				var err error
				if ix, err = shuffle.UnmarshalIndex(o.GetIndex()); err != nil {
					return nil, &lostInput{ref: o.GetAttempt(), err: err}
				}
				in.cached[o.GetPath()] = ix
			}
			if part >= len(ix.Runs) {
				return nil, &lostInput{ref: o.GetAttempt(), err: fmt.Errorf("%s has %d partitions", o.GetPath(), len(ix.Runs))}
			}
			for r, run := range ix.Runs[part] {
				openers = append(openers, in.opener(o, part, r, run))
			}
		}
		return openers, nil
	}
	return nil, fmt.Errorf("%w: assignment lists no input for node %d side %d", bsp.ErrMapOutputLost, node, side)
}

func (in *inputs) opener(o *pb.MapOutputLocation, part, r int, run shuffle.Run) bsp.RunOpener {
	return func(ctx context.Context) (shuffle.RecordIterator, error) {
		if o.GetWorkerId() == in.w.id {
			fr, err := in.w.files.get(o.GetPath())
			if err != nil {
				return nil, &lostInput{ref: o.GetAttempt(), err: err}
			}
			return &lostWrap{RecordIterator: shuffle.NewRunIterator(shuffle.FileBlockSource(fr), run, in.mem), ref: o.GetAttempt()}, nil
		}
		return &remoteRun{w: in.w, loc: o, part: part, run: r, mem: in.mem}, nil
	}
}

// lostWrap marks a local run's read errors as a lost input.
type lostWrap struct {
	shuffle.RecordIterator
	ref *pb.AttemptRef
}

func (l *lostWrap) Err() error {
	if err := l.RecordIterator.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return &lostInput{ref: l.ref, err: err}
	}
	return l.RecordIterator.Err()
}

// fetchAttempts is how many times a reducer tries to fetch a run before it
// reports the map output lost.
const fetchAttempts = 3

// remoteRun streams one run from the worker that holds it. A failed fetch
// is retried from the start (blocks already delivered are skipped) before
// it is reported as a lost input. A fetch that waits for the holder longer
// than the worker's FetchTimeout, connecting or for its next chunk (a
// frozen or wedged holder), is not retried: it is reported lost at once,
// so that the holder's map output is recomputed.
type remoteRun struct {
	w      *Worker
	loc    *pb.MapOutputLocation
	part   int
	run    int
	mem    memory.Allocator
	stream grpc.ServerStreamingClient[pb.FetchChunk]
	cancel context.CancelFunc
	idle   *stallTimer // the progress deadline of the current stream
	buf    []byte
	seen   int // blocks delivered
	got    int // blocks received on the current stream
	tries  int
	rec    arrow.RecordBatch
	err    error
	done   bool
}

func (r *remoteRun) open(ctx context.Context) error {
	c, err := r.w.peers.client(r.loc.GetAddress())
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	r.idle = newStallTimer(r.w.cfg.FetchTimeout, cancel)
	s, err := c.FetchPartition(sctx, &pb.FetchRequest{JobId: r.loc.GetAttempt().GetJobId(), Path: r.loc.GetPath(),
		Partition: int32(r.part), Run: int32(r.run)})
	r.idle.disarm()
	if err != nil {
		cancel()
		return err
	}
	r.stream, r.cancel, r.buf, r.got = s, cancel, r.buf[:0], 0
	return nil
}

// stallTimer cancels a fetch that waits longer than d for the peer: it runs
// only while the fetch waits (connecting, or in Recv), so that a reader
// busy with other runs of a merge does not count as a stalled peer.
type stallTimer struct {
	d     time.Duration
	t     *time.Timer // nil: no deadline
	fired chan struct{}
}

// newStallTimer returns a timer that is armed (the fetch is connecting).
func newStallTimer(d time.Duration, cancel context.CancelFunc) *stallTimer {
	st := &stallTimer{d: d, fired: make(chan struct{})}
	if d > 0 {
		st.t = time.AfterFunc(d, func() { close(st.fired); cancel() })
	}
	return st
}

// arm starts the deadline before a wait, unless it already passed.
func (st *stallTimer) arm() {
	if st.t != nil && !st.stalled() {
		st.t.Reset(st.d)
	}
}

// disarm stops the deadline once the wait is over.
func (st *stallTimer) disarm() {
	if st.t != nil {
		st.t.Stop()
	}
}

// stalled reports whether the deadline passed and cancelled the fetch.
func (st *stallTimer) stalled() bool {
	select {
	case <-st.fired:
		return true
	default:
		return false
	}
}

// errStalled is the cause of a fetch that made no progress for the
// worker's FetchTimeout.
var errStalled = errors.New("no data received within the fetch timeout")

// nextBlock returns the next framed block of the run, or nil at its end.
func (r *remoteRun) nextBlock(ctx context.Context) ([]byte, error) {
	for {
		if r.stream == nil {
			if err := r.open(ctx); err != nil {
				return nil, err
			}
		}
		if len(r.buf) >= shuffle.BlockHeaderSize {
			n, err := shuffle.BlockLen(r.buf)
			if err != nil {
				return nil, err
			}
			if len(r.buf) >= n {
				b := r.buf[:n:n]
				r.buf = r.buf[n:]
				r.got++
				if r.got <= r.seen { // already delivered before a retry
					continue
				}
				r.seen++
				return b, nil
			}
		}
		r.idle.arm()
		chunk, err := r.stream.Recv()
		r.idle.disarm()
		if err == io.EOF {
			if len(r.buf) != 0 {
				return nil, fmt.Errorf("stream ended inside a block")
			}
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		r.buf = append(r.buf, chunk.GetData()...)
		r.w.metrics.fetched.Add(float64(len(chunk.GetData())))
	}
}

func (r *remoteRun) Next(ctx context.Context) bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.err != nil || r.done {
		return false
	}
	for {
		b, err := r.nextBlock(ctx)
		if err == nil && b == nil {
			r.done = true
			r.closeStream()
			return false
		}
		if err == nil {
			rec, derr := shuffle.DecodeBlock(b, r.mem)
			if derr == nil {
				r.rec = rec
				return true
			}
			err = derr
		}
		stalled := r.idle != nil && r.idle.stalled()
		r.closeStream()
		if ctx.Err() != nil {
			r.err = ctx.Err()
			return false
		}
		r.tries++
		if stalled {
			r.w.metrics.fetchStalls.Inc()
			err = fmt.Errorf("%w (%s): %w", errStalled, r.w.cfg.FetchTimeout, err)
		}
		if stalled || r.tries >= fetchAttempts || errors.Is(err, shuffle.ErrCorrupt) {
			r.err = &lostInput{ref: r.loc.GetAttempt(), err: fmt.Errorf("fetch %s from %s: %w", r.loc.GetPath(), r.loc.GetAddress(), err)}
			return false
		}
		// Back off before fetching again: a worker restarting its listener or a
		// moment of overload should not cost a recomputation.
		select {
		case <-ctx.Done():
			r.err = ctx.Err()
			return false
		case <-time.After(time.Duration(r.tries) * 100 * time.Millisecond):
		}
	}
}

func (r *remoteRun) closeStream() {
	if r.idle != nil {
		r.idle.disarm()
	}
	if r.cancel != nil {
		r.cancel()
		r.cancel, r.stream = nil, nil
	}
}

func (r *remoteRun) Record() arrow.RecordBatch { return r.rec }
func (r *remoteRun) Err() error                { return r.err }
func (r *remoteRun) Close() error {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	r.closeStream()
	r.done = true
	return nil
}
