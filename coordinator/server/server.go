// Package server is the coordinator process: the gRPC Coordinator service
// over the replicated state of package coordinator (applied through
// coordinator/raftnode), and the leader loop that turns the state's
// decisions into actions — assigning tasks on the workers' streams,
// declaring silent workers dead, committing finished jobs' outputs and
// deleting their shuffle files.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/coordinator/raftnode"
	"github.com/superstep/superstep/internal/planspec"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/internal/telemetry"
)

// Config configures a coordinator server; start from DefaultConfig.
type Config struct {
	Listen   string // gRPC address (port 0: any)
	DataDir  string // raft log and snapshots; empty keeps state in memory
	RaftBind string // raft peer address with a DataDir
	// ID is this coordinator's raft node ID; empty: "coordinator".
	ID string
	// Peers are the initial voters of a coordinator cluster (see
	// raftnode.Config.Peers); empty: a single coordinator.
	Peers []raftnode.Peer
	// Advertise is the gRPC address other coordinators send clients and
	// workers to; empty: the listener's address.
	Advertise string
	// RaftTimeout is raft's heartbeat and election timeout with a DataDir;
	// zero: raftnode's default. A failover takes about one to two of it.
	RaftTimeout       time.Duration
	HeartbeatInterval time.Duration // how often workers heartbeat
	WorkerTimeout     time.Duration // silence after which a worker is declared dead
	Log               *slog.Logger
	// AllowPaths (--allow-path), when not empty, are the only directories
	// a job's inputs and outputs may lie under: SubmitJob refuses any other
	// job before a task runs. Workers check their own roots again.
	AllowPaths security.Roots
	// HTTP, when set, is the address of the dashboard and /metrics (port
	// 0: any); see Handler.
	HTTP string
	// LostWorkerRetention is how long ListWorkers keeps listing a dead
	// worker (marked dead, with when it was lost) before dropping it.
	LostWorkerRetention time.Duration
	// Speculation says when a straggling attempt gets a copy on another
	// worker (--speculation, --speculation-quantile,
	// --speculation-multiplier, --speculation-min).
	Speculation coordinator.SpeculationConfig
	// Timeouts says when a running attempt has run too long and is retried
	// elsewhere (--task-timeout-floor, --task-timeout-multiplier); the
	// zero value never times out.
	Timeouts coordinator.TimeoutConfig
	// Exclusion says when a worker whose attempts keep failing gets no new
	// task for a while (--exclude-after, --exclude-for); the zero value
	// never excludes.
	Exclusion coordinator.ExclusionConfig
	// TLS, when set, makes the gRPC service (and raft between
	// coordinators) speak mutual TLS 1.3 with role certificates, and
	// Tokens checks the clients' bearer tokens (see auth.go). Without TLS
	// the listen address must be loopback unless Insecure is set.
	TLS      *security.TLS
	Tokens   *security.TokenStore
	Insecure bool
	// Limits bound jobs, workers and the submit rate (limits.go).
	Limits Limits
	// RetainJobs (--retain-jobs) is how long an ended job whose files are
	// deleted stays in the state, for status and jobs, before it is
	// forgotten so that snapshots stop growing; zero keeps every job.
	RetainJobs time.Duration
}

// DefaultRetainJobs is the default of Config.RetainJobs: one hour.
const DefaultRetainJobs = time.Hour

// DefaultRaftTimeout is the raft heartbeat and election timeout of a
// coordinator with a data directory: a failover (detecting the silence,
// electing, catching up) takes about one to two of it.
const DefaultRaftTimeout = 500 * time.Millisecond

// DefaultConfig is an in-memory coordinator on a free loopback port.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:0", HeartbeatInterval: 200 * time.Millisecond, WorkerTimeout: 2 * time.Second,
		RaftTimeout: DefaultRaftTimeout, LostWorkerRetention: 10 * time.Minute, RetainJobs: DefaultRetainJobs,
		Log: slog.Default(), Speculation: coordinator.DefaultSpeculationConfig(),
		Timeouts: coordinator.DefaultTimeoutConfig(), Exclusion: coordinator.DefaultExclusionConfig()}
}

// Server is a running coordinator.
type Server struct {
	pb.UnimplementedCoordinatorServer
	cfg  Config
	node *raftnode.Node
	lis  net.Listener
	srv  *grpc.Server
	wake chan struct{}
	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex // guards the fields below
	fd      *coordinator.FailureDetector
	streams map[coordinator.WorkerID]*stream
	heard   map[coordinator.WorkerID]heard   // each worker's figures from its last heartbeat
	changed chan struct{}                    // closed and replaced on every applied change
	ops     map[coordinator.JobID][][]string // operator names per stage, decoded once per job
	// leadership (see redirect.go)
	term           uint64        // the term this node leads or last led in
	deposed        chan struct{} // closed when this node stops leading; nil while it follows
	leading        bool          // leads and has caught up with the state
	leaderSince    time.Time
	assignedInTerm bool
	recvs          sync.WaitGroup // Connect's receive goroutines

	resolving map[string]chan *pb.ResolveInputsResponse // submits waiting for a worker's resolution (resolve.go)

	obs    observations        // since the last step (loop.go)
	leader *coordinator.Leader // the leader's decisions; only the loop goroutine uses it
	work   sync.WaitGroup      // commits and cleanups running off the loop

	events  *eventLog     // job events derived from the applied log (events.go)
	stepGap time.Duration // see coordinator.LeaderConfig.StepGap
	metrics *metrics      // Prometheus metrics (metrics.go)
	http    *telemetry.Server

	owners  owners
	limits  Limits
	submits *rateLimiter
}

// streamQueue bounds the messages waiting to be sent on one worker's
// stream. A worker that stops reading fills its queue; it is then treated
// as lost (its stream is ended) instead of stalling the leader loop, which
// never blocks on a worker.
const streamQueue = 256

// stream is a worker's Connect stream: a bounded queue drained by one
// sender goroutine owned by Connect.
type stream struct {
	queue  chan *pb.CoordinatorMessage
	cancel context.CancelFunc // ends the stream (a full queue)
}

// enqueue queues m without blocking; false when the queue is full, in which
// case the stream is ended (the worker reconnects, or is declared dead).
func (s *stream) enqueue(m *pb.CoordinatorMessage) bool {
	select {
	case s.queue <- m:
		return true
	default:
		s.cancel()
		return false
	}
}

// Start starts a coordinator. A single coordinator returns once it leads;
// one of a cluster (Config.Peers) returns once it serves, leader or not.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Speculation.Enabled {
		if err := cfg.Speculation.Validate(); err != nil {
			return nil, err
		}
	}
	if err := security.CheckListen("coordinator", cfg.Listen, cfg.TLS != nil, cfg.Insecure); err != nil {
		return nil, err
	}
	if cfg.HTTP != "" {
		if err := security.CheckListen("coordinator --http", cfg.HTTP, cfg.TLS != nil, cfg.Insecure); err != nil {
			return nil, err
		}
	}
	if cfg.RaftBind != "" {
		if err := security.CheckListen("coordinator raft", cfg.RaftBind, cfg.TLS != nil, cfg.Insecure); err != nil {
			return nil, err
		}
	}
	if cfg.ID == "" {
		cfg.ID = "coordinator"
	}
	rc := raftnode.DefaultConfig()
	rc.ID = cfg.ID
	rc.DataDir, rc.BindAddr, rc.Peers = cfg.DataDir, cfg.RaftBind, cfg.Peers
	if rc.BindAddr == "" {
		rc.BindAddr = "127.0.0.1:0"
	}
	if cfg.RaftTimeout > 0 {
		rc.HeartbeatTimeout = cfg.RaftTimeout
	}
	if cfg.TLS != nil {
		rc.TLS = &raftnode.TLSConfig{Server: cfg.TLS.ServerConfig(security.RoleCoordinator),
			Client: cfg.TLS.ClientConfig(security.RoleCoordinator)}
	}
	if self, ok := raftnode.PeerByID(cfg.Peers, cfg.ID); ok && unspecifiedHost(rc.BindAddr) {
		// Bound on every interface: peers reach it at its --peers address.
		rc.AdvertiseAddr = self.Addr
	}
	if cfg.DataDir == "" {
		// One in-memory voter: elect it quickly so an embedded cluster starts
		// in milliseconds.
		rc.HeartbeatTimeout = 50 * time.Millisecond
	}
	s := &Server{cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{}),
		fd: coordinator.NewFailureDetector(cfg.WorkerTimeout), streams: map[coordinator.WorkerID]*stream{},
		heard:   map[coordinator.WorkerID]heard{},
		changed: make(chan struct{}),
		ops:     map[coordinator.JobID][][]string{}, events: newEventLog(),
		owners: owners{workers: map[coordinator.WorkerID]string{}},
		leader: coordinator.NewLeader(coordinator.LeaderConfig{WorkerTimeout: cfg.WorkerTimeout,
			ReconcileGrace: max(cfg.WorkerTimeout, 4*cfg.HeartbeatInterval), DeleteRetry: max(cfg.WorkerTimeout/2, time.Second),
			RetainJobs: cfg.RetainJobs, Speculation: cfg.Speculation, Timeouts: cfg.Timeouts, Exclusion: cfg.Exclusion,
			StepGap: stepGap(cfg)}), stepGap: stepGap(cfg)}
	s.limits = cfg.Limits.withDefaults()
	s.submits = &rateLimiter{rate: s.limits.SubmitRate, burst: float64(s.limits.SubmitBurst)}
	s.metrics = newMetrics(s)
	rc.OnApply = func(a raftnode.Applied) { s.metrics.observe(s.events.observe(a)); s.notify() }
	rc.OnLeadership = s.leadership
	// The gRPC listener comes first: peers learn its address from the raft
	// handshake.
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("coordinator: listen on %s: %w", cfg.Listen, err)
	}
	s.lis = lis
	rc.GRPCAddr = cfg.Advertise
	if rc.GRPCAddr == "" {
		rc.GRPCAddr = lis.Addr().String()
	}
	node, err := raftnode.NewNode(rc)
	if err != nil {
		lis.Close()
		return nil, err
	}
	s.node = node
	if len(cfg.Peers) == 0 {
		// A single coordinator serves once it leads and has applied its
		// log (see leadership).
		if err := s.waitActing(ctx); err != nil {
			node.Close()
			lis.Close()
			return nil, err
		}
	}
	// Authorization runs first: nobody learns even where the leader is
	// without the right certificate and token.
	auth := &security.Authorizer{Rules: coordinatorRules, Tokens: cfg.Tokens}
	s.srv = grpc.NewServer(append(auth.ServerOptions(cfg.TLS), grpc.MaxRecvMsgSize(256<<20), grpc.MaxSendMsgSize(256<<20),
		grpc.ChainUnaryInterceptor(s.unaryRedirect), grpc.ChainStreamInterceptor(s.streamRedirect),
		// Clients ping every few seconds to notice a frozen leader.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		// And the server pings its clients, so that a worker whose
		// connection died silently loses its stream within seconds.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 5 * time.Second, Timeout: 5 * time.Second}))...)
	pb.RegisterCoordinatorServer(s.srv, s)
	hs := health.NewServer() // the standard gRPC health service: superstep health
	healthpb.RegisterHealthServer(s.srv, hs)
	go s.srv.Serve(lis)
	if cfg.HTTP != "" {
		if s.http, err = telemetry.Serve(cfg.HTTP, s.Handler(), httpTLS(cfg.TLS), cfg.Log); err != nil {
			s.srv.Stop()
			node.Close()
			return nil, fmt.Errorf("coordinator: %w", err)
		}
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.leaderLoop(lctx)
	cfg.Log.Info("coordinator started", "node", cfg.ID, "addr", lis.Addr().String(), "raft", node.Addr(),
		"data_dir", cfg.DataDir, "peers", raftnode.FormatPeers(cfg.Peers))
	return s, nil
}

// Fatal delivers an error that ends this coordinator (its peers belong to
// another cluster); the owner should Close it and exit with the error.
func (s *Server) Fatal() <-chan error { return s.node.Fatal() }

func unspecifiedHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// Addr is the address clients and workers dial.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Close stops the server. Idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	stop := s.stop
	s.stop = nil
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-s.done
	s.work.Wait()
	if s.http != nil {
		s.http.Close()
	}
	s.srv.Stop()
	s.recvs.Wait()
	return s.node.Close()
}

// notify wakes the leader loop and the watchers after a state change.
func (s *Server) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) propose(ctx context.Context, c coordinator.Command) (coordinator.Result, error) {
	res, err := s.node.Propose(ctx, c)
	if err != nil {
		return res, s.proposeError(err)
	}
	return res, nil
}

// SubmitJob implements the Coordinator service.
func (s *Server) SubmitJob(ctx context.Context, req *pb.SubmitJobRequest) (*pb.SubmitJobResponse, error) {
	args, _ := json.Marshal(req.GetArgs())
	sid, spec, err := jobIdentity(req.GetJobId(), req.GetSpec())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	ps, err := planspec.Decode(spec)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "job %s: %v", sid, err)
	}
	if err := s.cfg.AllowPaths.CheckSpec(ps); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "job %s: %v", sid, err)
	}
	id := coordinator.JobID(sid)
	if err := s.checkSubmit(ctx, id); err != nil {
		return nil, err
	}
	// Before the retry of a deferred submit below answers for an existing
	// job: a job ID of another principal's is refused whatever the spec.
	owner, err := s.owner(ctx, id)
	if err != nil {
		return nil, err
	}
	if ps.InputsDeferred {
		var existing *coordinator.Job
		s.node.Read(func(st *coordinator.State) {
			if j := st.Job(id); j != nil {
				cp := *j
				existing = &cp
			}
		})
		if existing != nil {
			// A retried submit of a job created from a worker's resolution.
			if existing.Name != req.GetName() || string(existing.Args) != string(args) {
				return nil, status.Errorf(codes.InvalidArgument, "job %s exists with other contents", sid)
			}
			return &pb.SubmitJobResponse{JobId: sid}, nil
		}
		if spec, err = s.resolveInputs(ctx, req, spec); err != nil {
			return nil, err
		}
		if ps, err = planspec.Decode(spec); err != nil || ps.InputsDeferred || ps.JobID != sid {
			return nil, status.Errorf(codes.Internal, "job %s: a worker resolved its inputs into a bad spec: %v", sid, err)
		}
		if err := s.cfg.AllowPaths.CheckSpec(ps); err != nil {
			return nil, status.Errorf(codes.PermissionDenied, "job %s: %v", sid, err)
		}
		// Listing the inputs took a while: another principal may have
		// taken the ID meanwhile.
		if owner, err = s.owner(ctx, id); err != nil {
			return nil, err
		}
	}
	res, err := s.propose(ctx, coordinator.SubmitJob{Stamp: now(), Job: id, Name: req.GetName(), Args: args, Spec: spec,
		Fingerprint: req.GetFingerprint(), MaxAttempts: int(req.GetMaxAttempts()), Owner: owner})
	if err != nil {
		return nil, err
	}
	var je *coordinator.JobError
	if errors.Is(res.Err, coordinator.ErrJobConflict) {
		return nil, status.Errorf(codes.AlreadyExists, "%v", res.Err)
	}
	if res.Err != nil && !errors.As(res.Err, &je) {
		return nil, status.Errorf(codes.InvalidArgument, "%v", res.Err)
	}
	return &pb.SubmitJobResponse{JobId: sid}, nil
}

// GetJob implements the Coordinator service.
func (s *Server) GetJob(ctx context.Context, req *pb.GetJobRequest) (*pb.JobStatus, error) {
	if err := s.mayAccess(ctx, coordinator.JobID(req.GetJobId())); err != nil {
		return nil, err
	}
	st, ok := s.status(coordinator.JobID(req.GetJobId()))
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no job %q", req.GetJobId())
	}
	return st, nil
}

// ListJobs implements the Coordinator service.
func (s *Server) ListJobs(ctx context.Context, _ *pb.ListJobsRequest) (*pb.ListJobsResponse, error) {
	var ids []coordinator.JobID
	s.node.Read(func(st *coordinator.State) {
		for _, j := range st.Jobs {
			ids = append(ids, j.ID)
		}
	})
	ids = slices.DeleteFunc(ids, func(id coordinator.JobID) bool { return s.mayAccess(ctx, id) != nil })
	out := &pb.ListJobsResponse{}
	for _, id := range ids {
		if js, ok := s.status(id); ok {
			out.Jobs = append(out.Jobs, js)
		}
	}
	return out, nil
}

// CancelJob implements the Coordinator service.
func (s *Server) CancelJob(ctx context.Context, req *pb.CancelJobRequest) (*pb.CancelJobResponse, error) {
	id := coordinator.JobID(req.GetJobId())
	if err := s.mayAccess(ctx, id); err != nil {
		return nil, err
	}
	before, ok := s.status(id)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no job %q", req.GetJobId())
	}
	final := isFinal(before.GetState())
	if !final {
		reason := req.GetReason()
		if reason == "" {
			reason = "cancelled by request"
		}
		if _, err := s.propose(ctx, coordinator.CancelJob{Stamp: now(), Job: id, Reason: reason}); err != nil {
			return nil, err
		}
	}
	after, _ := s.status(id)
	return &pb.CancelJobResponse{Status: after, AlreadyFinal: final}, nil
}

func isFinal(st pb.JobState) bool {
	return st == pb.JobState_JOB_STATE_SUCCEEDED || st == pb.JobState_JOB_STATE_FAILED || st == pb.JobState_JOB_STATE_CANCELLED
}

// WatchJob implements the Coordinator service.
func (s *Server) WatchJob(req *pb.GetJobRequest, out grpc.ServerStreamingServer[pb.JobStatus]) error {
	id := coordinator.JobID(req.GetJobId())
	if err := s.mayAccess(out.Context(), id); err != nil {
		return err
	}
	var last []byte
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if !s.node.IsLeader() {
			return s.notLeader()
		}
		st, ok := s.status(id)
		if !ok {
			return status.Errorf(codes.NotFound, "no job %q", req.GetJobId())
		}
		b, _ := json.Marshal(st)
		if string(b) != string(last) {
			if err := out.Send(st); err != nil {
				return err
			}
			last = b
		}
		if isFinal(st.GetState()) {
			return nil
		}
		select {
		case <-changed:
		case <-out.Context().Done():
			return out.Context().Err()
		}
	}
}

// RegisterWorker implements the Coordinator service.
func (s *Server) RegisterWorker(ctx context.Context, req *pb.RegisterWorkerRequest) (*pb.RegisterWorkerResponse, error) {
	if err := security.ValidName("worker", req.GetWorkerId()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	if err := s.bindWorker(ctx, coordinator.WorkerID(req.GetWorkerId())); err != nil {
		return nil, err
	}
	if err := s.checkRegister(coordinator.WorkerID(req.GetWorkerId())); err != nil {
		return nil, err
	}
	res, err := s.propose(ctx, coordinator.RegisterWorker{Worker: coordinator.WorkerID(req.GetWorkerId()),
		Addr: req.GetAddress(), Fingerprint: req.GetFingerprint(), Jobs: req.GetJobs(), Slots: int(req.GetSlots()),
		Memory: req.GetMemoryBytes(), Cert: certIdentity(ctx)})
	if err != nil {
		return nil, err
	}
	if errors.Is(res.Err, coordinator.ErrWorkerCert) {
		return nil, status.Errorf(codes.PermissionDenied, "%v", res.Err)
	}
	if res.Err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "%v", res.Err)
	}
	s.mu.Lock()
	s.fd.Heartbeat(coordinator.WorkerID(req.GetWorkerId()), time.Now())
	s.mu.Unlock()
	s.observe(func(o *observations) {
		o.heartbeats = append(o.heartbeats, coordinator.Heartbeat{Worker: coordinator.WorkerID(req.GetWorkerId())})
	})
	return &pb.RegisterWorkerResponse{HeartbeatIntervalMs: s.cfg.HeartbeatInterval.Milliseconds()}, nil
}

// Heartbeat implements the Coordinator service.
func (s *Server) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	if err := security.ValidName("worker", req.GetWorkerId()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	id := coordinator.WorkerID(req.GetWorkerId())
	if err := s.bindWorker(ctx, id); err != nil {
		return nil, err
	}
	known := false
	s.node.Read(func(st *coordinator.State) {
		w := st.Worker(id)
		known = w != nil && !w.Dead
	})
	if !known {
		return &pb.HeartbeatResponse{Reregister: true}, nil
	}
	hb := coordinator.Heartbeat{Worker: id}
	// A worker that lists every running attempt is reconciled against the
	// state; an older one sends only the count.
	if ra := req.GetRunningAttempts(); len(ra) == int(req.GetRunning()) {
		hb.Complete = true
		for _, a := range ra {
			hb.Running = append(hb.Running, attemptOf(a))
		}
	}
	s.mu.Lock()
	s.fd.Heartbeat(id, time.Now())
	s.heard[id] = heard{served: max(0, req.GetBytesServed()), load: boundedLoad(req.GetLoad())}
	s.obs.heartbeats = append(s.obs.heartbeats, hb)
	s.mu.Unlock()
	return &pb.HeartbeatResponse{}, nil
}

// heard is what a worker's last heartbeat reported.
type heard struct {
	served int64   // shuffle bytes served to other workers
	load   float64 // host load per CPU
}

// boundedLoad is a reported load as shown: a negative, NaN or absurd
// figure (the worker's word, unchecked) is shown as unknown (0).
func boundedLoad(l float64) float64 {
	if !(l >= 0 && l <= 1e6) {
		return 0
	}
	return l
}

// ListWorkers implements the Coordinator service.
func (s *Server) ListWorkers(context.Context, *pb.ListWorkersRequest) (*pb.ListWorkersResponse, error) {
	out := &pb.ListWorkersResponse{}
	var free map[coordinator.WorkerID]int
	now := time.Now()
	s.node.Read(func(st *coordinator.State) {
		free = st.FreeSlots()
		for _, w := range st.Workers {
			ws := &pb.WorkerStatus{WorkerId: string(w.ID), Address: w.Addr,
				Slots: int32(w.Slots), FreeSlots: int32(free[w.ID]), Alive: !w.Dead, Fingerprint: w.Fingerprint,
				MemoryBytes: w.Memory}
			if w.Excluded(now.UnixMilli()) {
				ws.ExcludedUntilUnixMs, ws.ExcludedReason = w.ExcludedUntilMs, w.ExcludedReason
			}
			out.Workers = append(out.Workers, ws)
		}
	})
	out.Workers = s.workerDetail(out.Workers, now)
	return out, nil
}

// Connect implements the Coordinator service: a worker's task stream.
func (s *Server) Connect(conn grpc.BidiStreamingServer[pb.WorkerMessage, pb.CoordinatorMessage]) error {
	first, err := conn.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello == nil {
		return status.Error(codes.InvalidArgument, "the first message of Connect must be a Hello")
	}
	if err := security.ValidName("worker", hello.GetWorkerId()); err != nil {
		return status.Errorf(codes.InvalidArgument, "%v", err)
	}
	id := coordinator.WorkerID(hello.GetWorkerId())
	if err := s.bindWorker(conn.Context(), id); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(conn.Context())
	defer cancel()
	st := &stream{queue: make(chan *pb.CoordinatorMessage, streamQueue), cancel: cancel}
	s.mu.Lock()
	s.streams[id] = st
	s.mu.Unlock()
	s.notify()
	defer func() {
		s.mu.Lock()
		if s.streams[id] == st {
			delete(s.streams, id)
		}
		s.mu.Unlock()
	}()
	deposed := s.deposedCh()
	if deposed == nil {
		return s.notLeader()
	}
	s.resendRunning(id, st)
	// Receiving runs on its own goroutine so that the stream ends as soon
	// as this node stops leading (the worker then reconnects to the new
	// leader); once this handler returns, gRPC ends the stream and the
	// goroutine's Recv returns. Close waits for it.
	errc := make(chan error, 1)
	s.recvs.Add(1)
	go func() {
		defer s.recvs.Done()
		errc <- s.receive(conn, id)
	}()
	// This goroutine is the stream's only sender: it drains the queue.
	for {
		select {
		case err := <-errc:
			return err
		case <-deposed:
			return s.notLeader()
		case <-sctx.Done():
			return status.Errorf(codes.ResourceExhausted, "worker %s does not read its task stream", id)
		case m := <-st.queue:
			if err := conn.Send(m); err != nil {
				return err
			}
		}
	}
}

func (s *Server) receive(conn grpc.BidiStreamingServer[pb.WorkerMessage, pb.CoordinatorMessage], id coordinator.WorkerID) error {
	for {
		m, err := conn.Recv()
		if err != nil {
			return err
		}
		if r := m.GetResult(); r != nil {
			s.result(id, r)
		}
		if r := m.GetResolved(); r != nil {
			s.resolved(r)
		}
		if d := m.GetDeleted(); d != nil && d.GetJobId() != "" {
			ack := coordinator.DeleteAck{Job: coordinator.JobID(d.GetJobId()), Worker: id}
			s.observe(func(o *observations) { o.acks = append(o.acks, ack) })
		}
	}
}

func attemptOf(a *pb.AttemptRef) coordinator.AttemptID {
	return coordinator.AttemptID{TaskID: coordinator.TaskID{Job: coordinator.JobID(a.GetJobId()), Stage: int(a.GetStage()),
		Task: int(a.GetTask())}, Attempt: int(a.GetAttempt())}
}

// result turns a worker's task result into commands, observed for the next
// step (which drops those about attempts no longer running).
func (s *Server) result(w coordinator.WorkerID, r *pb.TaskResult) {
	at := attemptOf(r.GetAttempt())
	var cmd coordinator.Command
	if r.GetOk() {
		rep := coordinator.TaskReport{Samples: r.GetSamples()}
		if c := r.GetCounters(); c != nil {
			rep.Counters = coordinator.Counters{RecordsIn: c.GetRecordsIn(), RecordsOut: c.GetRecordsOut(),
				ShuffleBytes: c.GetShuffleBytes(), ShuffleRaw: c.GetShuffleRawBytes(), Spills: c.GetSpills(), SpillBytes: c.GetSpillBytes()}
		}
		if mo := r.GetMapOutput(); mo != nil {
			rep.MapOutput = &coordinator.MapOutputFile{Path: mo.GetPath(), Sizes: mo.GetSizes(), Index: mo.GetIndex()}
		}
		if sf := r.GetSinkFile(); sf != nil {
			rep.SinkFile = &coordinator.SinkFile{Node: int(sf.GetNode()), Part: int(sf.GetPart()), Path: sf.GetPath(), Size: sf.GetSize()}
		}
		if it := r.GetIter(); it != nil {
			rep.Iter = &coordinator.IterReport{Superstep: int(it.GetSuperstep()), Active: it.GetActive(),
				Messages: it.GetMessages(), Aggregates: it.GetAggregates(), Final: it.GetFinal(), Checkpoint: it.GetCheckpoint()}
		}
		cmd = coordinator.TaskSucceeded{Stamp: now(), AttemptID: at, Worker: w, Report: rep}
	} else {
		if li := r.GetLostInput(); li != nil && li.GetJobId() != "" {
			lost := coordinator.MapOutputLost{Stamp: now(), AttemptID: attemptOf(li), Reason: r.GetError()}
			s.observe(func(o *observations) { o.results = append(o.results, lost) })
		}
		msg := r.GetError()
		if st := r.GetStack(); st != "" {
			msg += "\n" + st
		}
		s.cfg.Log.Info("task attempt failed", "node", s.cfg.ID, "job", at.Job, "stage", at.Stage, "task", at.Task,
			"attempt", at.Attempt, "worker", w, "lost", r.GetLost(), "err", r.GetError())
		tf := coordinator.TaskFailed{Stamp: now(), AttemptID: at, Worker: w, Error: msg, Lost: r.GetLost(),
			StateLost: r.GetStateLost(), ErrorKind: KindOf(r.GetErrorKind())}
		if loc := r.GetErrorLocation(); loc != nil && loc.GetLine() >= 0 {
			tf.At = coordinator.Location{Path: loc.GetPath(), Line: loc.GetLine()}
		}
		cmd = tf
	}
	s.observe(func(o *observations) { o.results = append(o.results, cmd) })
}

// now stamps a command with the leader's clock (see coordinator.Stamp).
func now() coordinator.Stamp { return coordinator.Stamp{Time: time.Now().UnixMilli()} }

var kinds = map[pb.ErrorKind]coordinator.ErrorKind{
	pb.ErrorKind_ERROR_KIND_USER:      coordinator.KindUser,
	pb.ErrorKind_ERROR_KIND_LOST:      coordinator.KindLost,
	pb.ErrorKind_ERROR_KIND_PERMANENT: coordinator.KindPermanent,
	pb.ErrorKind_ERROR_KIND_CANCELLED: coordinator.KindCancelled,
	pb.ErrorKind_ERROR_KIND_NO_WORKER: coordinator.KindNoWorker,
}

// KindOf converts a protocol error kind; unknown values are unset.
func KindOf(k pb.ErrorKind) coordinator.ErrorKind { return kinds[k] }

// KindProto converts an error kind to its protocol form.
func KindProto(k coordinator.ErrorKind) pb.ErrorKind {
	for p, c := range kinds {
		if c == k {
			return p
		}
	}
	return pb.ErrorKind_ERROR_KIND_UNSPECIFIED
}
