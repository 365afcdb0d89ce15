package server

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/internal/security"
)

// submitter is the rule of the client methods: a client certificate (or a
// coordinator's, forwarding) and a submit or admin token. What a submit
// token sees is narrowed to its own jobs by owners.
var submitter = security.Rule{Peers: []security.Role{security.RoleClient, security.RoleCoordinator},
	Token: []security.TokenRole{security.TokenSubmit, security.TokenAdmin}}

// workerRule is the rule of the worker methods: a worker certificate.
var workerRule = security.Rule{Peers: []security.Role{security.RoleWorker}}

// coordinatorRules says who may call each method of the Coordinator
// service; a method not listed needs an admin token.
var coordinatorRules = map[string]security.Rule{
	pb.Coordinator_SubmitJob_FullMethodName:      submitter,
	pb.Coordinator_GetJob_FullMethodName:         submitter,
	pb.Coordinator_ListJobs_FullMethodName:       submitter,
	pb.Coordinator_CancelJob_FullMethodName:      submitter,
	pb.Coordinator_WatchJob_FullMethodName:       submitter,
	pb.Coordinator_WatchJobEvents_FullMethodName: submitter,
	pb.Coordinator_ListWorkers_FullMethodName:    submitter,
	pb.Coordinator_RegisterWorker_FullMethodName: workerRule,
	pb.Coordinator_Heartbeat_FullMethodName:      workerRule,
	pb.Coordinator_Connect_FullMethodName:        workerRule,
}

// owners records which certificate this coordinator first saw each worker
// ID with, for IDs the replicated state binds to none yet
// (coordinator.Worker.Cert binds the registered ones). Without TLS there are no
// principals and nothing is checked. Who submitted each job is in the
// replicated state (coordinator.Job.Owner), so that it survives a restart
// or a change of leader; see Server.mayAccess.
type owners struct {
	mu      sync.Mutex // guards the field below
	workers map[coordinator.WorkerID]string
}

// mayAccess refuses a submit token a job it did not submit. An unknown job
// passes: the caller answers NotFound for it as for any other.
func (s *Server) mayAccess(ctx context.Context, id coordinator.JobID) error {
	p := security.PrincipalOf(ctx)
	if p == nil || p.Role == security.TokenAdmin {
		return nil
	}
	owner, found := "", false
	s.node.Read(func(st *coordinator.State) {
		if j := st.Job(id); j != nil {
			owner, found = j.Owner, true
		}
	})
	if found && owner != p.Name {
		return status.Errorf(codes.NotFound, "no job %q", id) // as for a job that does not exist: IDs are not disclosed
	}
	return nil
}

// owner is the principal of ctx that a new job records as its owner, and
// refuses a job ID that a job of another principal holds.
func (s *Server) owner(ctx context.Context, id coordinator.JobID) (string, error) {
	p := security.PrincipalOf(ctx)
	if p == nil {
		return "", nil
	}
	taken := false
	s.node.Read(func(st *coordinator.State) {
		if j := st.Job(id); j != nil && j.Owner != p.Name {
			taken = true
		}
	})
	if taken {
		return "", status.Errorf(codes.AlreadyExists, "job id %q is taken", id)
	}
	return p.Name, nil
}

// bindWorker refuses a worker ID to any identity but the one it is bound
// to: the certificate it registered with, in the replicated state
// (coordinator.Worker.Cert, so the binding holds on every leader and
// across restarts), or, while the state binds it to none, the one this
// coordinator first saw it with (registering, heartbeating or connecting).
func (s *Server) bindWorker(ctx context.Context, id coordinator.WorkerID) error {
	cert := security.PeerOf(ctx)
	if cert == nil {
		return nil
	}
	who := security.Identity(cert)
	bound := ""
	s.node.Read(func(st *coordinator.State) {
		if w := st.Worker(id); w != nil {
			bound = w.Cert
		}
	})
	if bound == "" {
		bound = s.owners.bind(id, who)
	}
	if bound != who {
		return status.Errorf(codes.PermissionDenied, "worker id %s is bound to certificate %s, not %s", id, bound, who)
	}
	return nil
}

// bind binds id to who unless another identity was seen with it first,
// and returns the identity id is bound to.
func (o *owners) bind(id coordinator.WorkerID, who string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.workers[id]; ok {
		return b
	}
	o.workers[id] = who
	return who
}

// certIdentity is the identity of the peer's certificate, "" without TLS.
func certIdentity(ctx context.Context) string {
	if cert := security.PeerOf(ctx); cert != nil {
		return security.Identity(cert)
	}
	return ""
}
