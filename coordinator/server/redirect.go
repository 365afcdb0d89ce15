package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/coordinator/raftnode"
	"github.com/superstep/superstep/coordinator/redirect"
)

// Only the leader serves. A follower answers every RPC with a redirect
// naming the leader (package redirect), and a leader that loses the
// leadership ends the streams it serves with one, so that workers and
// watchers reconnect to the new leader.

// notLeader is the redirect this node answers with now.
func (s *Server) notLeader() error {
	id, addr := s.node.Leader()
	if id == s.cfg.ID || s.node.IsLeader() {
		// Raft names this node but it is not in the leader state (it is
		// stepping down): no leader to send the caller to yet.
		addr = ""
	}
	return redirect.Error(id, addr)
}

// A new leader serves once it has applied everything committed before its
// term (see leadership): until then it would answer from a stale state (a
// restarted coordinator would not yet know the jobs in its log), so it
// answers like a follower that knows no leader, and the caller retries.

// healthService is the gRPC health service's method prefix: every
// coordinator answers it itself, leader or not, so that probes and
// `superstep health` see a live follower as live.
const healthService = "/grpc.health.v1.Health/"

func (s *Server) unaryRedirect(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if !s.acting() && !strings.HasPrefix(info.FullMethod, healthService) {
		return nil, s.notLeader()
	}
	return h(ctx, req)
}

func (s *Server) streamRedirect(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !s.acting() && !strings.HasPrefix(info.FullMethod, healthService) {
		return s.notLeader()
	}
	return h(srv, ss)
}

// proposeError maps a failed proposal to its gRPC status: a redirect when
// this node stopped leading meanwhile.
func (s *Server) proposeError(err error) error {
	if errors.Is(err, raftnode.ErrNotLeader) {
		var nl *raftnode.NotLeaderError
		if errors.As(err, &nl) && nl.LeaderID != s.cfg.ID {
			return redirect.Error(nl.LeaderID, nl.LeaderGRPC)
		}
		return redirect.Error("", "")
	}
	return status.Errorf(codes.Unavailable, "coordinator: %v", err)
}

// leadership is called by the raft node, in order, on every change of this
// node's role.
func (s *Server) leadership(l raftnode.Leadership) {
	s.mu.Lock()
	if l.Leader {
		s.term = l.Term
		s.deposed = make(chan struct{})
		s.leaderSince = time.Now()
		s.assignedInTerm = false
	} else if s.deposed != nil {
		close(s.deposed)
		s.deposed = nil
	}
	s.leading = false
	s.mu.Unlock()
	if l.Leader {
		s.cfg.Log.Info("leader elected", "node", s.cfg.ID, "term", l.Term, "addr", s.Addr())
		// Apply everything the last leader committed before acting on the
		// state, then start every live worker's heartbeat clock afresh:
		// this node heard none while it followed.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.node.Barrier(ctx)
		cancel()
		if err != nil {
			s.cfg.Log.Warn("leader barrier", "node", s.cfg.ID, "term", l.Term, "err", err)
		}
		now := time.Now()
		var live []coordinator.WorkerID
		s.node.Read(func(st *coordinator.State) {
			for _, w := range st.Workers {
				if !w.Dead {
					live = append(live, w.ID)
				}
			}
		})
		s.mu.Lock()
		// s.fd only records when each worker was last heard, for display
		// (it is safe for concurrent use and read without s.mu); the
		// decision to declare a worker dead is coordinator.Leader.Step's,
		// which seeds its own detector when the term starts.
		for _, w := range live {
			s.fd.Heartbeat(w, now)
		}
		s.leading = s.deposed != nil && s.term == l.Term
		s.mu.Unlock()
	} else {
		s.cfg.Log.Info("leadership lost", "node", s.cfg.ID, "term", l.Term)
	}
	s.notify()
}

// acting says whether the leader loop may act: this node leads and has
// caught up with the state since it was elected.
func (s *Server) acting() bool { return s.leaderTerm() != 0 }

// leaderTerm is the raft term this node leads and acts in, 0 when it does
// not: the term to stamp decisions with (coordinator.Observations.Term).
func (s *Server) leaderTerm() uint64 {
	s.mu.Lock()
	term, leading := s.term, s.leading
	s.mu.Unlock()
	if !leading || !s.node.IsLeader() || s.node.Term() != term {
		return 0
	}
	return term
}

// waitActing waits until acting, or ctx ends.
func (s *Server) waitActing(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !s.acting() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// deposedCh is closed when this node stops leading; nil when it does not
// lead now.
func (s *Server) deposedCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deposed
}

// noteAssigned logs an assignment sent, with the term it was decided in,
// and once more the first one of a term: the end of a failover, seen from
// the cluster.
func (s *Server) noteAssigned(a coordinator.Assignment) {
	s.mu.Lock()
	first := !s.assignedInTerm
	s.assignedInTerm = true
	term, since := s.term, s.leaderSince
	s.mu.Unlock()
	if first {
		s.cfg.Log.Info("first assignment of term", "node", s.cfg.ID, "term", term, "job", a.Job, "stage", a.Stage,
			"task", a.Task, "worker", a.Worker, "since_elected_ms", time.Since(since).Milliseconds())
	}
	s.cfg.Log.Info("task assigned", "node", s.cfg.ID, "term", term, "job", a.Job, "stage", a.Stage, "task", a.Task,
		"attempt", a.Attempt, "worker", a.Worker)
}

// ListMembers implements the Coordinator service.
func (s *Server) ListMembers(ctx context.Context, _ *pb.ListMembersRequest) (*pb.ListMembersResponse, error) {
	ms, err := s.node.Members(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	out := &pb.ListMembersResponse{Term: s.node.Term()}
	for _, m := range ms {
		pm := &pb.Member{Id: m.ID, RaftAddress: m.Raft, GrpcAddress: m.GRPC, Role: string(m.Role)}
		if !m.LastContact.IsZero() {
			pm.LastContactUnixMs = m.LastContact.UnixMilli()
		}
		out.Members = append(out.Members, pm)
	}
	return out, nil
}

// resendRunning sends a worker that (re)connected the assignments of its
// attempts that the state says are running: an assignment sent on a stream
// that broke, or by a leader that died right after proposing it, may never
// have arrived. The worker ignores one it already has and answers one it
// already finished with the result again, so that a result lost with the
// old leader is delivered to the new one.
func (s *Server) resendRunning(id coordinator.WorkerID, st *stream) {
	var msgs []*pb.TaskAssignment
	s.node.Read(func(state *coordinator.State) {
		for _, j := range state.Jobs {
			if !j.Active() {
				continue
			}
			for si, stg := range j.Stages {
				for ti, t := range stg.Tasks {
					for ai, a := range t.Attempts {
						if a.State != coordinator.AttemptRunning || a.Worker != id {
							continue
						}
						asg := coordinator.Assignment{AttemptID: coordinator.AttemptID{TaskID: coordinator.TaskID{
							Job: j.ID, Stage: si, Task: ti}, Attempt: ai}, Worker: id}
						if msg, _ := assignment(state, asg); msg != nil {
							msgs = append(msgs, msg)
						}
					}
				}
			}
		}
	})
	s.mu.Lock()
	term := s.term
	s.mu.Unlock()
	for _, m := range msgs {
		if !st.enqueue(&pb.CoordinatorMessage{Term: term, Msg: &pb.CoordinatorMessage_Assign{Assign: m}}) {
			return
		}
	}
	if len(msgs) > 0 {
		s.cfg.Log.Info("assignments re-sent to a reconnected worker", "node", s.cfg.ID, "worker", id, "attempts", len(msgs))
	}
}
