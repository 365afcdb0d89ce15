package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
)

// Inputs resolved on the workers. A job submitted with deferred inputs
// (its spec lists no input files: the submitter may not see the data) is
// resolved before it is created: the coordinator asks a connected worker
// that can run the job, over its task stream, to list and split the inputs
// and check the outputs where the data is, and creates the job from the
// spec the worker returns. A worker that does not answer in time is
// replaced by another.

// resolveTimeout bounds one worker's resolution (listing a large bucket
// takes a while); resolveWorkers bounds how many workers are tried.
const (
	resolveTimeout = 2 * time.Minute
	resolveWorkers = 3
)

// resolveInputs returns the spec with its inputs resolved by a worker.
func (s *Server) resolveInputs(ctx context.Context, req *pb.SubmitJobRequest, spec []byte) ([]byte, error) {
	job := &coordinator.Job{Name: req.GetName(), Fingerprint: req.GetFingerprint()}
	var tried []coordinator.WorkerID
	var lastErr error
	for range resolveWorkers {
		id, st := s.resolver(job, tried)
		if st == nil {
			break
		}
		tried = append(tried, id)
		var b [8]byte
		_, _ = rand.Read(b[:])
		rid := hex.EncodeToString(b[:])
		ch := make(chan *pb.ResolveInputsResponse, 1)
		s.mu.Lock()
		if s.resolving == nil {
			s.resolving = map[string]chan *pb.ResolveInputsResponse{}
		}
		s.resolving[rid] = ch
		s.mu.Unlock()
		msg := &pb.CoordinatorMessage{Term: s.currentTerm(), Msg: &pb.CoordinatorMessage_Resolve{Resolve: &pb.ResolveInputsRequest{
			RequestId: rid, JobName: req.GetName(), Args: req.GetArgs(), Spec: spec}}}
		var resp *pb.ResolveInputsResponse
		if st.enqueue(msg) {
			t := time.NewTimer(resolveTimeout)
			select {
			case resp = <-ch:
			case <-t.C:
				lastErr = status.Errorf(codes.Unavailable, "worker %s did not resolve the inputs within %v", id, resolveTimeout)
			case <-ctx.Done():
				lastErr = ctx.Err()
			}
			t.Stop()
		}
		s.mu.Lock()
		delete(s.resolving, rid)
		s.mu.Unlock()
		if resp != nil {
			if resp.GetError() != "" {
				return nil, status.Errorf(codes.InvalidArgument, "job %s: %s", req.GetJobId(), resp.GetError())
			}
			return resp.GetSpec(), nil
		}
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, status.Errorf(codes.FailedPrecondition,
		"job %s: no connected worker can run %s to list its inputs (start workers of the same build first)", req.GetJobId(), req.GetName())
}

// resolver picks a connected, live worker that can run job and was not
// tried yet.
func (s *Server) resolver(job *coordinator.Job, tried []coordinator.WorkerID) (coordinator.WorkerID, *stream) {
	var able []coordinator.WorkerID
	s.node.Read(func(st *coordinator.State) {
		for _, w := range st.Workers {
			if w.CanRun(job) && !slices.Contains(tried, w.ID) {
				able = append(able, w.ID)
			}
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range able {
		if st, ok := s.streams[id]; ok {
			return id, st
		}
	}
	return "", nil
}

// resolved hands a worker's answer to the submit waiting for it.
func (s *Server) resolved(r *pb.ResolveInputsResponse) {
	s.mu.Lock()
	ch, ok := s.resolving[r.GetRequestId()]
	s.mu.Unlock()
	if ok {
		select {
		case ch <- r:
		default: // answered twice
		}
	}
}

func (s *Server) currentTerm() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term
}
