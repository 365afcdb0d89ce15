package server

import (
	"context"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/coordinator/dashboard"
	"github.com/superstep/superstep/coordinator/raftnode"
)

// dashSource is the server as the dashboard's Source.
type dashSource struct{ s *Server }

func (d dashSource) Jobs() []*pb.JobStatus {
	resp, _ := d.s.ListJobs(context.Background(), &pb.ListJobsRequest{})
	return resp.GetJobs()
}

func (d dashSource) Job(id string) (*pb.JobStatus, bool) { return d.s.status(coordinator.JobID(id)) }

func (d dashSource) JobEvents(id string) []coordinator.Event {
	evs, _, _ := d.s.events.since(coordinator.JobID(id), coordinator.EventKey{})
	return evs
}

func (d dashSource) Workers() []*pb.WorkerStatus {
	resp, _ := d.s.ListWorkers(context.Background(), &pb.ListWorkersRequest{})
	return resp.GetWorkers()
}

func (d dashSource) Version() uint64 { return d.s.events.applied.Load() }

func (d dashSource) Coordinators(ctx context.Context) dashboard.Coordinators {
	n := d.s.node
	out := dashboard.Coordinators{Self: d.s.cfg.ID, Term: n.Term(), Applied: d.s.events.applied.Load(),
		Role: string(raftnode.RoleFollower)}
	if n.IsLeader() {
		out.Role = string(raftnode.RoleLeader)
	}
	out.Leader, _ = n.Leader()
	ms, err := n.Members(ctx)
	if err != nil {
		out.Error = err.Error()
	}
	now := time.Now()
	for _, m := range ms {
		dm := dashboard.Member{ID: m.ID, Raft: m.Raft, GRPC: m.GRPC, Role: string(m.Role), LastContactMs: -1}
		if !m.LastContact.IsZero() {
			dm.LastContactMs = max(0, now.Sub(m.LastContact).Milliseconds())
		}
		out.Members = append(out.Members, dm)
	}
	return out
}
