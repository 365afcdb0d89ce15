package worker

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator/redirect"
	"github.com/superstep/superstep/internal/faults"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/internal/telemetry"
	"github.com/superstep/superstep/shuffle"
)

// Config configures a worker; start from DefaultConfig.
type Config struct {
	ID          string // empty: a fresh random id
	Coordinator string // host:port of the coordinator, or a comma-separated list of a cluster's
	Listen      string // host:port to serve shuffle files on (port 0: any)
	Advertise   string // address peers dial; empty: the listener's address
	DataDir     string // shuffle and spill files
	Slots       int    // tasks run at once
	Memory      int64  // bytes for all running tasks' shuffle buffers
	Compression shuffle.Compression
	Mem         memory.Allocator
	Log         *slog.Logger
	// Fingerprint is the job-registry fingerprint the worker registers
	// with; empty means this binary's (bsp.Fingerprint). Only tests and
	// tools that know what they do set it.
	Fingerprint string
	// RegisterTimeout bounds how long Start waits for the coordinator.
	RegisterTimeout time.Duration
	// AllowPaths (--allow-path), when not empty, are the only directories
	// a job's inputs and outputs may lie under; an assignment of a job with
	// a path outside them fails before the task runs.
	AllowPaths security.Roots
	// HTTP, when set, is the address to serve /metrics on (port 0: any).
	HTTP string
	// LeaderTimeout bounds how long a call to the coordinators keeps
	// retrying while none leads (a failover, a restart); zero: the
	// default of package redirect.
	LeaderTimeout time.Duration
	// TLS, when set, makes the shuffle service and the connections to the
	// coordinator and to peers speak mutual TLS 1.3 with the worker's role
	// certificate. Without it the listen address must be loopback unless
	// Insecure is set.
	TLS      *security.TLS
	Insecure bool
	// FetchTimeout (--fetch-timeout) is how long a shuffle fetch may go
	// without receiving a byte (connecting included) before it fails and
	// the map output is reported lost, so that a frozen or wedged holder
	// holds up its readers no longer than this. Zero: no deadline.
	FetchTimeout time.Duration
}

// DefaultFetchTimeout is the default Config.FetchTimeout.
const DefaultFetchTimeout = 10 * time.Second

// DefaultConfig listens on a free loopback port with two slots and 1 GiB.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:0", Slots: 2, Memory: 1 << 30, Compression: shuffle.Zstd,
		Mem: memory.NewGoAllocator(), Log: slog.Default(), RegisterTimeout: 10 * time.Second, FetchTimeout: DefaultFetchTimeout}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Coordinator == "":
		return errors.New("worker: no coordinator address (--coordinator)")
	case badAddrs(c.Coordinator) != nil:
		return fmt.Errorf("worker: --coordinator: %w", badAddrs(c.Coordinator))
	case c.DataDir == "":
		return errors.New("worker: no data directory (--data-dir)")
	case c.Slots < 1:
		return fmt.Errorf("worker: slots must be at least 1, got %d", c.Slots)
	case c.Memory < 1<<20:
		return fmt.Errorf("worker: memory must be at least 1 MiB, got %d", c.Memory)
	case c.FetchTimeout < 0:
		return fmt.Errorf("worker: --fetch-timeout %s is negative", c.FetchTimeout)
	case c.Mem == nil || c.Log == nil:
		return errors.New("worker: no allocator or logger")
	case c.Advertise == "" && wildcard(c.Listen):
		return fmt.Errorf("%w (listening on %s)", ErrWildcardAdvertise, c.Listen)
	}
	if c.ID != "" {
		if err := security.ValidName("worker", c.ID); err != nil {
			return fmt.Errorf("worker: --id: %w", err)
		}
	}
	return nil
}

// runningTask is an assigned attempt until its goroutine has ended.
type runningTask struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the attempt ran and cleaned up
	// cancelled is set (under Worker.mu) when the coordinator stopped the
	// attempt: its outputs are nobody's and are removed.
	cancelled bool
}

type attemptKey struct {
	job                  string
	stage, task, attempt int32
}

func keyOf(a *pb.AttemptRef) attemptKey {
	return attemptKey{a.GetJobId(), a.GetStage(), a.GetTask(), a.GetAttempt()}
}

func (k attemptKey) ref() *pb.AttemptRef {
	return &pb.AttemptRef{JobId: k.job, Stage: k.stage, Task: k.task, Attempt: k.attempt}
}

// Worker is a running worker.
type Worker struct {
	pb.UnimplementedWorkerServer
	cfg       Config
	id        string
	unlockDir func() // releases the data dir's lock (claimDataDir)
	lis       net.Listener
	srv       *grpc.Server
	conn      *redirect.Conn // to the leading coordinator
	cc        pb.CoordinatorClient
	files     files
	peers     peers
	res       *bsp.MemResident // Pregel partitions of the tasks run here
	slots     chan struct{}
	stop      context.CancelFunc
	loops     sync.WaitGroup // connect and heartbeat loops
	tasks     sync.WaitGroup // running tasks
	health    *health.Server
	// metrics are the worker's Prometheus metrics; http serves them.
	metrics *metrics
	http    *telemetry.Server
	served  atomic.Int64 // shuffle bytes sent by FetchPartition

	mu      sync.Mutex // guards the fields below
	running map[attemptKey]*runningTask
	seen    map[attemptKey]bool
	// results holds the results of the attempts that ended here, until
	// their job's files are deleted, to answer a repeated assignment.
	results map[attemptKey]*pb.TaskResult
	term    uint64 // the newest coordinator term seen on a task stream (fencing)
	// unreported are attempts that ended here and whose result is not sent
	// yet: heartbeats list them with the running ones.
	unreported map[attemptKey]bool
	// deleted holds the jobs whose files were deleted: their late
	// assignments are refused and their late sink files removed.
	deleted map[string]bool
	// pruned is, per job, the superstep whose dead message outputs were
	// last deleted (see pruneMessages).
	pruned   map[string]int
	progs    map[string]*bsp.Program
	draining bool
	stopErr  error // why the worker stopped itself
	send     func(*pb.WorkerMessage) error

	done chan struct{} // closed when Stop has finished
}

// ErrNoCoordinator means the coordinator could not be reached.
var ErrNoCoordinator = errors.New("no coordinator")

// ErrWildcardAdvertise: the worker listens on a wildcard address (0.0.0.0,
// [::], or no host) and was not told the address peers dial to reach it.
var ErrWildcardAdvertise = errors.New("worker: listening on a wildcard address needs an address to advertise (--advertise HOST:PORT, SUPERSTEP_ADVERTISE)")

// ErrDeregistered: the worker stopped itself because the coordinator no
// longer knows it (it was declared dead, or the coordinator lost its
// state). A supervisor should start it again.
var ErrDeregistered = errors.New("worker: the coordinator no longer knows this worker; stopped")

// wildcard reports whether a listen address names no particular host.
func wildcard(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false // net.Listen reports it
	}
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// advertised is the address peers dial: adv, with the listener's port when
// adv has none (or port 0); the listener's own address when adv is empty.
func advertised(adv string, lis net.Addr) (string, error) {
	_, port, err := net.SplitHostPort(lis.String())
	if err != nil {
		return "", err
	}
	if adv == "" {
		return lis.String(), nil
	}
	if bare := strings.Trim(adv, "[]"); !strings.Contains(adv, ":") || net.ParseIP(bare) != nil {
		adv = net.JoinHostPort(bare, port) // a host or IP without a port
	}
	host, p, err := net.SplitHostPort(adv)
	if err != nil {
		return "", fmt.Errorf("worker: --advertise %q: %w", adv, err)
	}
	if host == "" || wildcard(adv) {
		return "", fmt.Errorf("worker: --advertise %q: %w", adv, ErrWildcardAdvertise)
	}
	if p == "0" || p == "" {
		p = port
	}
	return net.JoinHostPort(host, p), nil
}

// Start starts serving shuffle files, registers with the coordinator and
// begins taking tasks. It returns once registered.
func Start(ctx context.Context, cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := security.CheckListen("worker", cfg.Listen, cfg.TLS != nil, cfg.Insecure); err != nil {
		return nil, err
	}
	if cfg.HTTP != "" {
		if err := security.CheckListen("worker --http", cfg.HTTP, cfg.TLS != nil, cfg.Insecure); err != nil {
			return nil, err
		}
	}
	if cfg.ID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = dir
	unlock, cleared, err := claimDataDir(dir)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			unlock()
		}
	}()
	if cleared > 0 {
		cfg.Log.Info("removed what an earlier worker process left in the data dir", "dir", dir, "entries", cleared)
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("worker: listen on %s: %w", cfg.Listen, err)
	}
	if cfg.Advertise, err = advertised(cfg.Advertise, lis.Addr()); err != nil {
		lis.Close()
		return nil, err
	}
	auth := &security.Authorizer{Rules: workerRules}
	srv := grpc.NewServer(append(auth.ServerOptions(cfg.TLS), grpc.InitialWindowSize(fetchWindow), grpc.InitialConnWindowSize(fetchWindow),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: fetchKeepalive / 2, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: fetchKeepalive, Timeout: fetchKeepaliveTimeout}))...)
	w := &Worker{cfg: cfg, id: cfg.ID, lis: lis, srv: srv,
		files: files{open: map[string]*shuffle.FileReader{}}, peers: peers{tls: cfg.TLS, conns: map[string]*grpc.ClientConn{}},
		res: bsp.NewMemResident(), slots: make(chan struct{}, cfg.Slots), running: map[attemptKey]*runningTask{}, results: map[attemptKey]*pb.TaskResult{},
		seen: map[attemptKey]bool{}, unreported: map[attemptKey]bool{}, deleted: map[string]bool{}, pruned: map[string]int{}, progs: map[string]*bsp.Program{},
		done: make(chan struct{})}
	w.metrics = newMetrics(w)
	if cfg.HTTP != "" {
		var tc *tls.Config
		if cfg.TLS != nil { // as the coordinator's: a certificate of the cluster CA, any role
			tc = cfg.TLS.ServerConfig(security.Roles...)
		}
		if w.http, err = telemetry.Serve(cfg.HTTP, w.Handler(), tc, cfg.Log); err != nil {
			lis.Close()
			return nil, fmt.Errorf("worker: %w", err)
		}
	}
	pb.RegisterWorkerServer(w.srv, w)
	w.health = health.NewServer() // SERVING once registered; see superstep health
	w.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(w.srv, w.health)
	go w.srv.Serve(lis)
	addrs, _ := redirect.ParseAddrs(cfg.Coordinator) // checked by Validate
	w.conn, err = redirect.Dial(addrs, redirect.Options{RetryFor: cfg.LeaderTimeout, DialOptions: []grpc.DialOption{
		grpc.WithTransportCredentials(cfg.TLS.ClientCreds(security.RoleCoordinator)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20))}})
	if err != nil {
		w.srv.Stop()
		if w.http != nil {
			w.http.Close()
		}
		return nil, err
	}
	w.cc = pb.NewCoordinatorClient(w.conn)
	interval, err := w.register(ctx)
	if err != nil {
		w.close()
		return nil, err
	}
	w.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	lctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.loops.Add(2)
	go func() { defer w.loops.Done(); w.connectLoop(lctx) }()
	go func() { defer w.loops.Done(); w.heartbeatLoop(lctx, interval) }()
	w.unlockDir, started = unlock, true
	cfg.Log.Info("worker started", "id", w.id, "addr", cfg.Advertise, "coordinator", cfg.Coordinator, "slots", cfg.Slots)
	return w, nil
}

// ID is the worker's id.
func (w *Worker) ID() string { return w.id }

// Addr is the address peers fetch shuffle files from.
func (w *Worker) Addr() string { return w.cfg.Advertise }

func (w *Worker) fingerprint() string {
	if w.cfg.Fingerprint != "" {
		return w.cfg.Fingerprint
	}
	return bsp.Fingerprint()
}

func (w *Worker) register(ctx context.Context) (time.Duration, error) {
	names := []string{}
	for _, j := range bsp.Jobs() {
		names = append(names, j.Name)
	}
	req := &pb.RegisterWorkerRequest{WorkerId: w.id, Address: w.cfg.Advertise, Fingerprint: w.fingerprint(),
		Jobs: names, Slots: int32(w.cfg.Slots), MemoryBytes: w.cfg.Memory}
	deadline := time.Now().Add(w.cfg.RegisterTimeout)
	var err error
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var resp *pb.RegisterWorkerResponse
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err = w.cc.RegisterWorker(cctx, req)
		cancel()
		if err == nil {
			return time.Duration(max(resp.GetHeartbeatIntervalMs(), 50)) * time.Millisecond, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	return 0, fmt.Errorf("%w at %s: is `superstep coordinator` running? (%v)", ErrNoCoordinator, w.cfg.Coordinator, err)
}

func (w *Worker) heartbeatLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Every running attempt is listed, so that the coordinator can
		// reconcile: attempts it thinks run here but do not (a result was
		// lost) are rerun, attempts that run here but ended there are
		// cancelled.
		w.mu.Lock()
		n := len(w.running) + len(w.unreported)
		refs := make([]*pb.AttemptRef, 0, n)
		for k := range w.running {
			refs = append(refs, k.ref())
		}
		for k := range w.unreported {
			refs = append(refs, k.ref())
		}
		w.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, interval*4)
		resp, err := w.cc.Heartbeat(cctx, &pb.HeartbeatRequest{WorkerId: w.id, Running: int32(n), RunningAttempts: refs,
			FreeSlots: int32(max(0, w.cfg.Slots-n)), Load: hostLoad(), BytesServed: w.served.Load()})
		cancel()
		if err == nil && resp.GetReregister() {
			w.cfg.Log.Warn("coordinator does not know this worker; stopping", "id", w.id)
			w.mu.Lock()
			w.stopErr = ErrDeregistered
			w.mu.Unlock()
			go w.Stop(context.Background())
			return
		}
	}
}

func badAddrs(s string) error {
	_, err := redirect.ParseAddrs(s)
	return err
}

// connectLoop holds the task stream, reconnecting while the worker runs.
// The stream is opened again at once when the coordinators' leader
// changes (the old one may be frozen rather than gone).
func (w *Worker) connectLoop(ctx context.Context) {
	for wait := 50 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, time.Second) {
		began := time.Now()
		sctx, cancel := context.WithCancel(ctx)
		changed := w.conn.LeaderChanged()
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			select {
			case <-changed:
				cancel()
			case <-sctx.Done():
			}
		}()
		err := w.serveStream(sctx)
		cancel()
		<-watched
		if ctx.Err() == nil {
			w.cfg.Log.Warn("task stream broken; reconnecting", "err", err)
		}
		if time.Since(began) > 2*time.Second {
			wait = 25 * time.Millisecond // it was up: reconnect quickly
		}
		select {
		case <-ctx.Done():
		case <-w.conn.LeaderChanged(): // a leader was found: go to it now
		case <-time.After(wait):
		}
	}
}

func (w *Worker) serveStream(ctx context.Context) error {
	s, err := w.cc.Connect(ctx)
	if err != nil {
		return err
	}
	var sendMu sync.Mutex
	send := func(m *pb.WorkerMessage) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return s.Send(m)
	}
	if err := send(&pb.WorkerMessage{Msg: &pb.WorkerMessage_Hello{Hello: &pb.Hello{WorkerId: w.id}}}); err != nil {
		return err
	}
	w.mu.Lock()
	w.send = send
	w.mu.Unlock()
	for {
		m, err := s.Recv()
		if err != nil {
			return err
		}
		// Fencing: a message from an older leader term than the newest seen
		// comes from a deposed leader and is ignored.
		w.mu.Lock()
		stale := m.GetTerm() != 0 && m.GetTerm() < w.term
		if m.GetTerm() > w.term {
			w.term = m.GetTerm()
		}
		term := w.term
		w.mu.Unlock()
		if stale {
			w.cfg.Log.Warn("ignoring a message from a deposed coordinator", "term", m.GetTerm(), "newest_term", term)
			continue
		}
		switch msg := m.Msg.(type) {
		case *pb.CoordinatorMessage_Assign:
			w.assign(msg.Assign)
		case *pb.CoordinatorMessage_Cancel:
			w.mu.Lock()
			if rt, ok := w.running[keyOf(msg.Cancel)]; ok {
				rt.cancelled = true
				rt.cancel()
			}
			w.mu.Unlock()
		case *pb.CoordinatorMessage_Resolve:
			// Listing may take a while (an object store): off the loop.
			go func(req *pb.ResolveInputsRequest) {
				_ = send(&pb.WorkerMessage{Msg: &pb.WorkerMessage_Resolved{Resolved: w.resolveInputs(ctx, req)}})
			}(msg.Resolve)
		case *pb.CoordinatorMessage_DeleteJob:
			// Not waited for here: the job's attempts may take a moment to
			// notice they were cancelled, and this loop must keep reading.
			// The coordinator asks again until it gets the acknowledgement.
			go func(job string) {
				if err := w.deleteJob(context.Background(), job); err != nil {
					w.cfg.Log.Warn("deleting job files", "job", job, "err", err)
					return
				}
				_ = send(&pb.WorkerMessage{Msg: &pb.WorkerMessage_Deleted{Deleted: &pb.DeleteJobFilesRequest{JobId: job}}})
			}(msg.DeleteJob.GetJobId())
		}
	}
}

// report sends a task result, retrying until a stream is up (the
// coordinator ignores duplicates).
func (w *Worker) report(ctx context.Context, res *pb.TaskResult) {
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		w.mu.Lock()
		send := w.send
		w.mu.Unlock()
		if send != nil && send(&pb.WorkerMessage{Msg: &pb.WorkerMessage_Result{Result: res}}) == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (w *Worker) assign(a *pb.TaskAssignment) {
	k := keyOf(a.GetAttempt())
	w.mu.Lock()
	if w.seen[k] {
		res := w.results[k]
		w.mu.Unlock()
		if res != nil {
			// A new leader, or a new stream, asks again for an attempt
			// that ended here: its result may have been lost with the
			// old one. The coordinator ignores a duplicate.
			go w.report(context.Background(), res)
		}
		return // a repeated assignment
	}
	w.seen[k] = true
	if w.draining || w.deleted[k.job] {
		why := "worker is stopping"
		if !w.draining {
			why = "the job has ended"
		}
		w.mu.Unlock()
		go w.report(context.Background(), &pb.TaskResult{Attempt: a.GetAttempt(), Lost: true, Error: why,
			ErrorKind: pb.ErrorKind_ERROR_KIND_LOST})
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runningTask{cancel: cancel, done: make(chan struct{})}
	w.running[k] = rt
	w.tasks.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.tasks.Done()
		defer cancel()
		w.slots <- struct{}{}
		res := w.runTask(ctx, a)
		w.metrics.ended(res)
		<-w.slots
		w.mu.Lock()
		delete(w.running, k)
		w.unreported[k] = true // still listed in heartbeats until reported
		late := w.deleted[k.job]
		if !late {
			w.results[k] = res
		}
		cancelled := rt.cancelled
		w.mu.Unlock()
		if sf := res.GetSinkFile(); (late || cancelled) && sf != nil {
			// The job ended while this attempt ran, or the coordinator
			// cancelled it (another attempt won a speculative race):
			// nobody will commit its part, so it must not outlive the job.
			bsp.RemoveSinkAttempt(sf.GetPath())
		}
		if mo := res.GetMapOutput(); cancelled && mo != nil {
			if err := os.Remove(mo.GetPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
				w.cfg.Log.Warn("removing a cancelled attempt's map output", "path", mo.GetPath(), "err", err)
			}
		}
		close(rt.done)
		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		w.report(rctx, res)
		rcancel()
		w.mu.Lock()
		delete(w.unreported, k)
		w.mu.Unlock()
	}()
}

// program returns the job's plan bound to the assignment's spec, building it
// once per job.
func (w *Worker) program(a *pb.TaskAssignment) (*bsp.Program, error) {
	jobID := a.GetAttempt().GetJobId()
	w.mu.Lock()
	p, ok := w.progs[jobID]
	w.mu.Unlock()
	if ok {
		return p, nil
	}
	spec, err := bsp.DecodeSpec(a.GetSpec())
	if err != nil {
		return nil, err
	}
	if spec.JobID != jobID {
		return nil, fmt.Errorf("worker %s: the spec of job %q was assigned as job %q", w.id, spec.JobID, jobID)
	}
	if err := w.cfg.AllowPaths.CheckSpec(spec); err != nil {
		return nil, fmt.Errorf("worker %s refuses job %s: %w", w.id, jobID, err)
	}
	job, err := bsp.Lookup(a.GetJobName())
	if err != nil {
		return nil, err
	}
	plan, err := job.Build(a.GetArgs(), spec.Partitions)
	if err != nil {
		return nil, err
	}
	if p, err = bsp.Bind(plan, spec); err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.progs[jobID] = p
	w.mu.Unlock()
	return p, nil
}

// resolveInputs lists and splits the inputs of a job submitted with
// deferred inputs, as this worker sees them (bsp.ResolveInputs), and checks
// the resolved plan's paths against --allow-path.
func (w *Worker) resolveInputs(ctx context.Context, req *pb.ResolveInputsRequest) *pb.ResolveInputsResponse {
	resp := &pb.ResolveInputsResponse{RequestId: req.GetRequestId()}
	spec, err := func() ([]byte, error) {
		spec, err := bsp.DecodeSpec(req.GetSpec())
		if err != nil {
			return nil, err
		}
		if err := security.ValidName("job", spec.JobID); err != nil {
			return nil, err
		}
		if err := w.cfg.AllowPaths.CheckSpec(spec); err != nil { // the outputs and checkpoints
			return nil, err
		}
		job, err := bsp.Lookup(req.GetJobName())
		if err != nil {
			return nil, err
		}
		plan, err := job.Build(req.GetArgs(), spec.Partitions)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		resolved, err := bsp.ResolveInputs(ctx, plan, spec)
		if err != nil {
			return nil, err
		}
		if err := w.cfg.AllowPaths.CheckSpec(resolved); err != nil { // every input file
			return nil, err
		}
		return resolved.Encode()
	}()
	if err != nil {
		resp.Error = fmt.Sprintf("worker %s: %v", w.id, err)
		w.cfg.Log.Info("resolving a job's inputs failed", "request", req.GetRequestId(), "err", err)
		return resp
	}
	resp.Spec = spec
	return resp
}

func (w *Worker) runTask(ctx context.Context, a *pb.TaskAssignment) *pb.TaskResult {
	res := &pb.TaskResult{Attempt: a.GetAttempt()}
	if err := w.checkAssignment(a); err != nil {
		res.Error, res.ErrorKind = err.Error(), pb.ErrorKind_ERROR_KIND_PERMANENT // the same on every worker
		return res
	}
	if k := int(a.GetSuperstep()); k >= 2 {
		w.pruneMessages(a.GetAttempt().GetJobId(), k)
	}
	prog, err := w.program(a)
	if err != nil {
		res.Error = err.Error()
		res.ErrorKind = pb.ErrorKind_ERROR_KIND_USER
		if bsp.Permanent(err) || errors.Is(err, security.ErrOutsideRoot) {
			res.ErrorKind = pb.ErrorKind_ERROR_KIND_PERMANENT
		}
		return res
	}
	env := &bsp.TaskEnv{Mem: w.cfg.Mem, MemoryBudget: w.cfg.Memory / int64(w.cfg.Slots), WorkDir: w.cfg.DataDir,
		Compression: w.cfg.Compression, Inputs: &inputs{w: w, shuf: a.GetInputs(), mem: w.cfg.Mem, cached: map[string]*shuffle.Index{}},
		Resident: w.res}
	at := a.GetAttempt()
	if err := faults.BeforeTask(ctx, faults.Task{Worker: w.id, Job: at.GetJobId(), Stage: int(at.GetStage()),
		Task: int(at.GetTask()), Attempt: int(at.GetAttempt())}); err != nil {
		// Only under the test build tag "faults": a delayed attempt that
		// was cancelled is lost, a broken rules file fails it.
		res.Error, res.Lost = err.Error(), ctx.Err() != nil
		return res
	}
	rep, err := prog.RunTask(ctx, bsp.TaskSpec{Stage: int(at.GetStage()), Partition: int(at.GetTask()),
		Attempt: int(at.GetAttempt()), Bounds: a.GetBounds(), Superstep: int(a.GetSuperstep()), Restore: a.GetRestore(),
		Final: a.GetFinal(), Aggregates: a.GetAggregates()}, env)
	if err != nil {
		res.Error = err.Error()
		var te *bsp.TaskError
		if errors.As(err, &te) {
			// The attempt is named by the result; the error is the task's own.
			res.Error, res.Stack = te.Err.Error(), te.Stack
		}
		res.ErrorKind = pb.ErrorKind_ERROR_KIND_USER
		var li *lostInput
		if errors.As(err, &li) {
			res.Lost, res.LostInput, res.ErrorKind = true, li.ref, pb.ErrorKind_ERROR_KIND_LOST
			return res
		}
		switch kind, ie := bsp.Classify(err, ctx.Err() != nil); kind {
		case bsp.FailStateLost:
			res.Lost, res.StateLost, res.ErrorKind = true, true, pb.ErrorKind_ERROR_KIND_LOST
		case bsp.FailCancelled:
			res.Lost, res.ErrorKind = true, pb.ErrorKind_ERROR_KIND_CANCELLED
		case bsp.FailPermanent:
			res.ErrorKind = pb.ErrorKind_ERROR_KIND_PERMANENT
			if ie != nil {
				res.ErrorLocation = &pb.ErrorLocation{Path: ie.Path, Line: ie.Line}
			}
		}
		return res
	}
	res.Ok = true
	res.Counters = &pb.Counters{RecordsIn: rep.RecordsIn, RecordsOut: rep.RecordsOut, ShuffleBytes: rep.ShuffleBytes,
		ShuffleRawBytes: rep.ShuffleRaw, Spills: int64(rep.Spills), SpillBytes: rep.SpillBytes}
	if mo := rep.MapOutput; mo != nil {
		ixb, _ := mo.Index.MarshalBinary()
		sizes := make([]int64, mo.Index.NumPartitions)
		for p := range sizes {
			sizes[p] = mo.Index.PartitionBytes(p)
		}
		res.MapOutput = &pb.MapOutputFile{Path: mo.Path, Index: ixb, Sizes: sizes}
	}
	if sf := rep.SinkFile; sf != nil {
		res.SinkFile = &pb.SinkFile{Node: int32(sf.Node), Part: int32(sf.Part), Path: sf.Path, Size: sf.Size}
	}
	res.Samples = rep.Samples
	if it := rep.Iter; it != nil {
		res.Iter = &pb.IterReport{Superstep: int32(it.Superstep), Active: it.Active, Messages: it.Messages,
			Aggregates: it.Aggregates, Final: it.Final, Checkpoint: it.Checkpoint}
	}
	return res
}

// pruneMessages deletes the job's dead Pregel message outputs once per
// superstep: superstep k runs only once k-1 is complete everywhere, so the
// messages of supersteps before k-1 are read by nobody.
func (w *Worker) pruneMessages(jobID string, k int) {
	w.mu.Lock()
	done := w.pruned[jobID] >= k
	if !done {
		w.pruned[jobID] = k
	}
	w.mu.Unlock()
	if done {
		return
	}
	for _, p := range bsp.StaleMessageOutputs(w.cfg.DataDir, jobID, k-1) {
		w.files.drop(p)
		_ = security.RemoveInside(w.cfg.DataDir, p)
	}
}

// checkAssignment refuses, before anything runs or is written, an
// assignment whose job ID could leave the data directory. (program checks
// the job's paths against --allow-path, once per job.)
func (w *Worker) checkAssignment(a *pb.TaskAssignment) error {
	if err := security.ValidName("job", a.GetAttempt().GetJobId()); err != nil {
		return fmt.Errorf("worker %s: %w", w.id, err)
	}
	return nil
}

// deleteJob cancels the job's running attempts, waits until they have
// stopped writing (or ctx ends), and removes the job's files and resident
// Pregel partitions. Attempts
// assigned afterwards are refused, so nothing of the job comes back.
func (w *Worker) deleteJob(ctx context.Context, jobID string) error {
	if err := security.ValidName("job", jobID); err != nil {
		return fmt.Errorf("worker: deleting job files: %w", err)
	}
	dir := filepath.Join(w.cfg.DataDir, jobID)
	if err := security.Inside(w.cfg.DataDir, dir); err != nil {
		return fmt.Errorf("worker: deleting job files: %w", err)
	}
	w.mu.Lock()
	w.deleted[jobID] = true
	delete(w.pruned, jobID)
	for k := range w.results {
		if k.job == jobID {
			delete(w.results, k)
		}
	}
	delete(w.progs, jobID)
	var wait []chan struct{}
	for k, rt := range w.running {
		if k.job == jobID {
			rt.cancel() // the job ended: its attempts report themselves lost and are ignored
			wait = append(wait, rt.done)
		}
	}
	w.mu.Unlock()
	for _, done := range wait {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("worker: deleting job %s: its attempts are still running: %w", jobID, ctx.Err())
		}
	}
	w.res.DropJob(jobID)
	w.files.dropUnder(dir)
	return security.RemoveAllInside(w.cfg.DataDir, dir)
}

// Stop stops taking tasks, lets running tasks finish until ctx ends (then
// cancels them; they report themselves lost), and shuts the worker down.
// It is idempotent.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	if w.draining {
		w.mu.Unlock()
		return nil
	}
	w.draining = true
	w.mu.Unlock()
	done := make(chan struct{})
	go func() { w.tasks.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		w.mu.Lock()
		for _, rt := range w.running {
			rt.cancel()
		}
		w.mu.Unlock()
		<-done
	}
	w.close()
	close(w.done)
	return nil
}

// Done is closed when the worker has stopped, by Stop or by itself (then
// Err says why).
func (w *Worker) Done() <-chan struct{} { return w.done }

// Err is why the worker stopped itself (ErrDeregistered), or nil.
func (w *Worker) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopErr
}

func (w *Worker) close() {
	w.health.Shutdown()
	if w.stop != nil {
		w.stop()
	}
	w.loops.Wait()
	w.srv.Stop()
	if w.conn != nil {
		w.conn.Close()
	}
	w.files.closeAll()
	w.peers.closeAll()
	if w.http != nil {
		w.http.Close()
	}
	if w.unlockDir != nil {
		w.unlockDir()
	}
}

// loadavgPath is where hostLoad reads the load average (a test points it
// at a file of its own).
var loadavgPath = "/proc/loadavg"

// hostLoad is the host's 1-minute load average divided by its CPU count
// (1.0: every CPU busy), from /proc/loadavg; 0 where that is unknown.
func hostLoad() float64 {
	b, err := os.ReadFile(loadavgPath)
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	l, err := strconv.ParseFloat(f, 64)
	if err != nil || l < 0 {
		return 0
	}
	return l / float64(runtime.NumCPU())
}
