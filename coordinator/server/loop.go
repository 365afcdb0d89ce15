package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator"
)

// leaderLoop acts on the state: it runs after every applied change and on a
// ticker (for the failure detector). Decisions are made by the pure
// functions of package coordinator under a read of the state; the I/O they
// call for happens after the read.
func (s *Server) leaderLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(max(s.cfg.HeartbeatInterval/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		s.tick(ctx)
	}
}

type pendingCommit struct {
	job     coordinator.JobID
	spec    []byte
	commits []coordinator.SinkCommit
}

type pendingCleanup struct {
	job     coordinator.JobID
	spec    []byte
	failed  bool
	holders []coordinator.WorkerID
}

func (s *Server) tick(ctx context.Context) {
	if !s.acting() {
		return // a follower, or a new leader still catching up
	}
	s.mu.Lock()
	dead := s.fd.Expired(time.Now())
	connected := map[coordinator.WorkerID]*stream{}
	for id, st := range s.streams {
		connected[id] = st
	}
	s.mu.Unlock()
	for _, w := range dead {
		if _, err := s.propose(ctx, coordinator.WorkerDead{Stamp: now(), Worker: w, Reason: "no heartbeat for " + s.cfg.WorkerTimeout.String()}); err == nil {
			s.cfg.Log.Warn("worker declared dead", "worker", w)
			s.mu.Lock()
			s.fd.Forget(w)
			s.mu.Unlock()
		}
	}
	var (
		assigns  []coordinator.Assignment
		commits  []pendingCommit
		cleanups []pendingCleanup
	)
	s.node.Read(func(st *coordinator.State) {
		free := st.FreeSlots()
		for w := range free {
			if connected[w] == nil {
				delete(free, w)
			}
		}
		assigns = coordinator.Schedule(st, free)
		for _, j := range st.Jobs {
			switch {
			case j.Phase == coordinator.JobCommitting:
				commits = append(commits, pendingCommit{job: j.ID, spec: j.Spec, commits: st.SinkCommits(j.ID)})
			case !j.Active() && !j.Cleaned:
				cleanups = append(cleanups, pendingCleanup{job: j.ID, spec: j.Spec,
					failed: j.Phase != coordinator.JobSucceeded, holders: st.FileHolders(j.ID)})
			}
		}
	})
	for _, a := range assigns {
		cmd := a.Command()
		cmd.Stamp = now()
		res, err := s.propose(ctx, cmd)
		if err != nil || res.Err != nil || res.Ignored {
			continue
		}
		// The message is built from the state the assignment was applied
		// to, so that it names the superstep the attempt runs.
		var msg *pb.TaskAssignment
		var why string
		s.node.Read(func(st *coordinator.State) { msg, why = assignment(st, a) })
		if msg == nil {
			if why != "" {
				_, _ = s.propose(ctx, coordinator.TaskFailed{Stamp: now(), AttemptID: a.AttemptID, Worker: a.Worker,
					Error: "could not build the assignment: " + why, Lost: true})
			}
			continue
		}
		if err := connected[a.Worker].Send(&pb.CoordinatorMessage{Msg: &pb.CoordinatorMessage_Assign{Assign: msg}}); err != nil {
			// The attempt stays running: the worker gets it again when it
			// reconnects (resendRunning), or is declared dead.
			s.cfg.Log.Info("assignment not sent; re-sent when the worker reconnects", "node", s.cfg.ID, "job", a.Job,
				"stage", a.Stage, "task", a.Task, "attempt", a.Attempt, "worker", a.Worker, "err", err)
		} else {
			s.noteAssigned(a)
		}
	}
	if len(commits)+len(cleanups) > 0 {
		// Committing and cleaning up act on files before anything is
		// proposed: first make sure this node still leads (a leader that
		// was frozen and woke up must not), by a round with a quorum.
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		term, err := s.node.VerifyLeader(vctx)
		cancel()
		if err != nil {
			s.cfg.Log.Warn("not committing: no longer the leader", "node", s.cfg.ID, "err", err)
			return
		}
		for _, c := range commits {
			s.cfg.Log.Info("committing job output", "node", s.cfg.ID, "term", term, "job", c.job)
		}
	}
	for _, c := range commits {
		msg := ""
		if err := commitJob(ctx, c); err != nil {
			msg = "committing the output: " + err.Error()
		} else if spec, err := bsp.DecodeSpec(c.spec); err == nil {
			// Before the job is seen to succeed, so that nothing of it is
			// left once it has; the cleanup removes them after a failure.
			if err := bsp.RemoveCheckpoints(spec); err != nil {
				s.cfg.Log.Warn("removing checkpoints", "job", c.job, "err", err)
			}
		}
		_, _ = s.propose(ctx, coordinator.FinishJob{Stamp: now(), Job: c.job, Error: msg})
	}
	for _, c := range cleanups {
		for _, w := range c.holders {
			if st := connected[w]; st != nil {
				_ = st.Send(&pb.CoordinatorMessage{Msg: &pb.CoordinatorMessage_DeleteJob{
					DeleteJob: &pb.DeleteJobFilesRequest{JobId: string(c.job)}}})
			}
		}
		if spec, err := bsp.DecodeSpec(c.spec); err == nil {
			if c.failed {
				_ = bsp.AbortSinks(ctx, spec)
			}
			if err := bsp.RemoveCheckpoints(spec); err != nil {
				s.cfg.Log.Warn("removing checkpoints", "job", c.job, "err", err)
			}
		}
		_, _ = s.propose(ctx, coordinator.JobCleaned{Stamp: now(), Job: c.job})
	}
}

// commitJob moves every committed sink part into place and publishes the
// outputs (bsp.CommitSinks). Repeating it after a crash is safe: work already
// done is recognised by what is found at the destination, never assumed
// from a source that is gone.
func commitJob(ctx context.Context, c pendingCommit) error {
	spec, err := bsp.DecodeSpec(c.spec)
	if err != nil {
		return err
	}
	var parts []bsp.SinkFile
	for _, sc := range c.commits {
		sf := sc.Commit.Report.SinkFile
		if sf == nil {
			continue
		}
		p := bsp.SinkFile{Node: sf.Node, Part: sf.Part, Path: sf.Path, Size: sf.Size}
		if err := bsp.CommitSinkFile(ctx, spec, p); err != nil {
			return err
		}
		parts = append(parts, p)
	}
	return bsp.CommitSinks(ctx, spec, parts)
}

// assignment builds the message that starts attempt a, once assigned: the
// job, its plan, the range bounds, the committed inputs of the task's stage
// and, for a Pregel stage, the superstep the attempt runs. It returns nil
// and why when the message cannot be built, and nil and "" when the attempt
// is no longer running (it ended before it was sent).
func assignment(st *coordinator.State, a coordinator.Assignment) (*pb.TaskAssignment, string) {
	j := st.Job(a.Job)
	if j == nil {
		return nil, ""
	}
	t := j.Task(a.Stage, a.Task)
	if t == nil || a.Attempt >= len(t.Attempts) || t.Attempts[a.Attempt].Worker != a.Worker ||
		t.Attempts[a.Attempt].State != coordinator.AttemptRunning {
		return nil, ""
	}
	var args map[string]string
	_ = json.Unmarshal(j.Args, &args)
	msg := &pb.TaskAssignment{Attempt: &pb.AttemptRef{JobId: string(a.Job), Stage: int32(a.Stage), Task: int32(a.Task),
		Attempt: int32(a.Attempt)}, JobName: j.Name, Args: args, Spec: j.Spec, Bounds: j.Bounds(a.Stage)}
	stage := j.Plan().Stages[a.Stage]
	it := j.Iteration(a.Stage)
	if it != nil {
		// Every change of superstep ends the stage's running attempts, so
		// the iteration is at the attempt's superstep.
		msg.Superstep, msg.Restore, msg.Final, msg.Aggregates = int32(it.Superstep), it.Restore, it.Final, it.Aggregates
	}
	if stage.Input.Kind != coordinator.InputShuffle {
		return msg, ""
	}
	refs, err := st.ShuffleInputs(a.Job, a.Stage)
	if err != nil {
		return nil, err.Error()
	}
	if it != nil && it.Superstep > 0 {
		if it.Pinned() {
			in := &pb.ShuffleInput{Node: int32(stage.Input.Node), Side: coordinator.MessageSide}
			for _, r := range refs {
				in.Outputs = append(in.Outputs, location(a.Job, r))
			}
			msg.Inputs = []*pb.ShuffleInput{in}
		}
		return msg, ""
	}
	sides := make([]*pb.ShuffleInput, max(stage.Input.Sides, 1))
	for i := range sides {
		sides[i] = &pb.ShuffleInput{Node: int32(stage.Input.Node), Side: int32(i)}
	}
	for _, r := range refs {
		if r.Side < 0 || r.Side >= len(sides) {
			return nil, fmt.Sprintf("map output of stage %d on side %d of a %d-sided input", r.Stage, r.Side, len(sides))
		}
		sides[r.Side].Outputs = append(sides[r.Side].Outputs, location(a.Job, r))
	}
	msg.Inputs = sides
	return msg, ""
}

func location(job coordinator.JobID, r coordinator.OutputRef) *pb.MapOutputLocation {
	return &pb.MapOutputLocation{WorkerId: string(r.Worker), Address: r.Addr, Path: r.File.Path, Index: r.File.Index,
		Attempt: &pb.AttemptRef{JobId: string(job), Stage: int32(r.Stage), Task: int32(r.Task), Attempt: int32(r.Attempt)}}
}

// status converts a job's state to its protocol form.
func (s *Server) status(id coordinator.JobID) (*pb.JobStatus, bool) {
	var out *pb.JobStatus
	var spec []byte
	s.node.Read(func(st *coordinator.State) {
		j := st.Job(id)
		if j == nil {
			return
		}
		spec = j.Spec
		out = &pb.JobStatus{JobId: string(j.ID), Name: j.Name, Error: j.Error, CurrentStage: int32(j.CurrentStage()),
			ErrorKind: KindProto(j.ErrorKind), SubmittedUnixMs: j.SubmittedMs, StartedUnixMs: j.StartedMs, EndedUnixMs: j.EndedMs}
		if j.ErrorAt.Path != "" {
			out.ErrorLocation = &pb.ErrorLocation{Path: j.ErrorAt.Path, Line: j.ErrorAt.Line}
		}
		switch j.Phase {
		case coordinator.JobRunning, coordinator.JobCommitting:
			out.State = pb.JobState_JOB_STATE_RUNNING
		case coordinator.JobSucceeded:
			out.State = pb.JobState_JOB_STATE_SUCCEEDED
		case coordinator.JobFailed:
			out.State = pb.JobState_JOB_STATE_FAILED
		case coordinator.JobCancelled:
			out.State = pb.JobState_JOB_STATE_CANCELLED
		default:
			out.State = pb.JobState_JOB_STATE_PENDING
		}
		for i, stg := range j.Stages {
			ss := &pb.StageStatus{Stage: int32(i), Tasks: int32(len(stg.Tasks))}
			if it := j.Iteration(i); it != nil {
				ss.Superstep = int32(it.Superstep)
				ss.Rollbacks = int32(it.TotalRollbacks)
			}
			for _, t := range stg.Tasks {
				ss.Attempts += int32(len(t.Attempts))
				if t.Committed != nil {
					ss.Done++
				} else if n := len(t.Attempts); n > 0 && t.Attempts[n-1].State == coordinator.AttemptRunning {
					ss.Running++
				}
			}
			stageDetail(j, i, ss)
			c := j.StageCounters(i)
			ss.RecordsIn, ss.RecordsOut, ss.ShuffleBytes, ss.ShuffleRawBytes, ss.Spills =
				c.RecordsIn, c.RecordsOut, c.ShuffleBytes, c.ShuffleRaw, c.Spills
			out.Stages = append(out.Stages, ss)
		}
		out.Failure = jobFailure(j)
		if j.Phase == coordinator.JobSucceeded {
			for node, refs := range st.CollectOutputs(id) {
				co := &pb.CollectOutput{Node: int32(node)}
				for _, r := range refs {
					co.Outputs = append(co.Outputs, location(id, r))
				}
				out.Collected = append(out.Collected, co)
			}
		}
	})
	if out == nil {
		return nil, false
	}
	s.mu.Lock()
	ops, ok := s.ops[id]
	s.mu.Unlock()
	if !ok {
		if bs, err := bsp.DecodeSpec(spec); err == nil {
			for _, st := range bs.Stages {
				ops = append(ops, st.Ops)
			}
		}
		s.mu.Lock()
		s.ops[id] = ops
		s.mu.Unlock()
	}
	for i, ss := range out.Stages {
		if i < len(ops) {
			ss.Ops = ops[i]
		}
	}
	s.events.annotate(out, time.Now())
	return out, true
}
