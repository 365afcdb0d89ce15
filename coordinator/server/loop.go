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

// leaderLoop acts on the state: it runs after every applied change, after
// every observation and on a ticker (for the failure detector). Decisions
// are made by coordinator.Leader.Step under a read of the state; the I/O
// they call for happens after the read (tick).
func (s *Server) leaderLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(tickInterval(s.cfg))
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

// observations are what the RPC handlers saw since the last step, for
// coordinator.Leader.Step. Guarded by Server.mu.
type observations struct {
	heartbeats  []coordinator.Heartbeat
	results     []coordinator.Command
	undelivered []coordinator.AttemptID
	acks        []coordinator.DeleteAck
	committed   []coordinator.CommitOutcome
	cleaned     []coordinator.JobID
}

// observe records an observation under the lock and wakes the loop.
func (s *Server) observe(f func(o *observations)) {
	s.mu.Lock()
	f(&s.obs)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// tickInterval is how often the leader loop steps without an observation.
func tickInterval(cfg Config) time.Duration { return max(cfg.HeartbeatInterval/2, 10*time.Millisecond) }

// stepGap is the gap between two steps past which the leader counts itself
// as not having run (coordinator.LeaderConfig.StepGap): a quarter of the
// worker timeout, and never less than five ticks.
func stepGap(cfg Config) time.Duration { return max(cfg.WorkerTimeout/4, 5*tickInterval(cfg)) }

// tick is one decision of the leader loop: it gathers the observations,
// lets coordinator.Leader.Step decide under a read of the state, and
// carries out the Ready — proposals in order, then messages on the
// workers' queues; commits and cleanups on their own goroutines, whose
// outcomes come back as observations. Only the loop's goroutine calls it.
func (s *Server) tick(ctx context.Context) {
	if !s.acting() {
		return // a follower, or a new leader still catching up: observations wait
	}
	s.mu.Lock()
	term := s.term
	o := s.obs
	s.obs = observations{}
	obs := coordinator.Observations{Now: time.Now(), Term: term, Heartbeats: o.heartbeats, Results: o.results,
		Undelivered: o.undelivered, DeleteAcks: o.acks, Committed: o.committed, Cleaned: o.cleaned}
	connected := map[coordinator.WorkerID]*stream{}
	for id, st := range s.streams {
		connected[id] = st
		obs.Connected = append(obs.Connected, id)
	}
	s.mu.Unlock()
	var rd coordinator.Ready
	s.node.Read(func(st *coordinator.State) { rd = s.leader.Step(st, obs) })
	if rd.Stalled > 0 {
		s.cfg.Log.Warn("the leader loop did not run; worker silence during the gap is not counted",
			"gap", rd.Stalled.Round(time.Millisecond), "term", term)
	}
	// A leader that was frozen may have been deposed meanwhile without
	// knowing it yet. Before acting on a decision taken before a stall (the
	// stall before this step, or one while carrying it out), it confirms
	// its leadership with a quorum, once.
	verified := false
	current := func() bool {
		if verified || (rd.Stalled == 0 && time.Since(obs.Now) <= s.stepGap) {
			return true
		}
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.node.VerifyLeader(vctx)
		cancel()
		if err != nil {
			s.cfg.Log.Info("not acting on a decision taken before a stall: no longer the leader", "term", term, "err", err)
			return false
		}
		verified = true
		return true
	}
	for _, c := range rd.Propose {
		if !current() {
			return
		}
		res, err := s.propose(ctx, c)
		if err != nil {
			return // not the leader any more: the next leader decides
		}
		s.logDecision(c, res)
	}
	for _, m := range rd.Send {
		if !current() {
			return
		}
		s.send(ctx, connected[m.Worker], m)
	}
	for _, id := range rd.Commit {
		s.goWork(func() { s.commit(ctx, id) })
	}
	for _, id := range rd.Cleanup {
		s.goWork(func() { s.cleanup(ctx, id) })
	}
}

// goWork runs f on a goroutine that Close waits for.
func (s *Server) goWork(f func()) {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		f()
	}()
}

// send carries out one message of a Ready on the worker's queue. An
// assignment is built from the state (the attempt runs there); one that
// cannot be queued is reported undelivered.
func (s *Server) send(ctx context.Context, st *stream, m coordinator.Message) {
	msg := &pb.CoordinatorMessage{Term: m.Term}
	switch m.Kind {
	case coordinator.SendAssign:
		var as *pb.TaskAssignment
		var why string
		a := coordinator.Assignment{AttemptID: m.Attempt, Worker: m.Worker}
		s.node.Read(func(state *coordinator.State) { as, why = assignment(state, a) })
		if as == nil {
			if why != "" {
				_, _ = s.propose(ctx, coordinator.TaskFailed{Stamp: now(), AttemptID: m.Attempt, Worker: m.Worker,
					Error: "could not build the assignment: " + why, ErrorKind: coordinator.KindLost})
			}
			return
		}
		msg.Msg = &pb.CoordinatorMessage_Assign{Assign: as}
	case coordinator.SendCancel:
		msg.Msg = &pb.CoordinatorMessage_Cancel{Cancel: attemptRef(m.Attempt)}
	case coordinator.SendDelete:
		msg.Msg = &pb.CoordinatorMessage_DeleteJob{DeleteJob: &pb.DeleteJobFilesRequest{JobId: string(m.Job)}}
	}
	if st == nil || !st.enqueue(msg) {
		if m.Kind == coordinator.SendAssign {
			s.observe(func(o *observations) { o.undelivered = append(o.undelivered, m.Attempt) })
		}
		return
	}
	if m.Kind == coordinator.SendAssign {
		s.noteAssigned(coordinator.Assignment{AttemptID: m.Attempt, Worker: m.Worker})
	}
}

func attemptRef(a coordinator.AttemptID) *pb.AttemptRef {
	return &pb.AttemptRef{JobId: string(a.Job), Stage: int32(a.Stage), Task: int32(a.Task), Attempt: int32(a.Attempt)}
}

// logDecision logs every recovery decision as one structured line on the
// leader: a worker declared dead, an attempt lost (and rerun), a job
// failed, a job forgotten.
func (s *Server) logDecision(c coordinator.Command, res coordinator.Result) {
	if res.Err != nil || res.Ignored {
		return
	}
	switch c := c.(type) {
	case coordinator.WorkerDead:
		s.cfg.Log.Warn("worker declared dead", "worker", c.Worker, "reason", c.Reason)
	case coordinator.TaskFailed:
		if c.ErrorKind == coordinator.KindLost {
			s.cfg.Log.Warn("attempt lost; the task reruns", "job", c.Job, "stage", c.Stage, "task", c.Task,
				"attempt", c.Attempt, "worker", c.Worker, "reason", c.Error)
		}
	case coordinator.ForgetJob:
		s.cfg.Log.Info("ended job forgotten after its retention", "job", c.Job)
	}
	for _, u := range res.Uncommitted {
		s.cfg.Log.Warn("output lost; recomputing", "job", u.Job, "stage", u.Stage, "task", u.Task)
	}
	for _, p := range res.Phases {
		if p.Phase == coordinator.JobFailed {
			s.cfg.Log.Warn("job failed", "job", p.Job)
		}
	}
}

// commit commits a committing job's sinks, off the decision loop, and
// reports the outcome. Committing acts on files before anything is
// proposed: it first makes sure this node still leads (a leader that was
// frozen and woke up must not), by a round with a quorum. A node that no
// longer leads reports nothing: its next leadership starts afresh.
func (s *Server) commit(ctx context.Context, id coordinator.JobID) {
	var c pendingCommit
	s.node.Read(func(st *coordinator.State) {
		if j := st.Job(id); j != nil {
			c = pendingCommit{job: id, spec: j.Spec, commits: st.SinkCommits(id)}
		}
	})
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	term, err := s.node.VerifyLeader(vctx)
	cancel()
	if err != nil {
		s.cfg.Log.Warn("not committing: no longer the leader", "node", s.cfg.ID, "job", id, "err", err)
		return
	}
	s.cfg.Log.Info("committing job output", "node", s.cfg.ID, "term", term, "job", id)
	msg := ""
	if err := commitJob(ctx, c); err != nil {
		msg = "committing the output: " + err.Error()
	} else if spec, err := bsp.DecodeSpec(c.spec); err == nil {
		// Before the job is seen to succeed, so that nothing of it is
		// left once it has; the cleanup removes them after a failure.
		if err := bsp.RemoveCheckpoints(spec); err != nil {
			s.cfg.Log.Warn("removing checkpoints", "job", id, "err", err)
		}
	}
	s.observe(func(o *observations) { o.committed = append(o.committed, coordinator.CommitOutcome{Job: id, Err: msg}) })
}

// cleanup removes the coordinator's files of an ended job (a failed job's
// temporary sink output, checkpoints), off the decision loop.
func (s *Server) cleanup(ctx context.Context, id coordinator.JobID) {
	var spec []byte
	failed := false
	s.node.Read(func(st *coordinator.State) {
		if j := st.Job(id); j != nil {
			spec, failed = j.Spec, j.Phase != coordinator.JobSucceeded
		}
	})
	if bs, err := bsp.DecodeSpec(spec); err == nil {
		if failed {
			if err := bsp.AbortSinks(ctx, bs); err != nil {
				s.cfg.Log.Warn("aborting sinks", "job", id, "err", err)
			}
		}
		if err := bsp.RemoveCheckpoints(bs); err != nil {
			s.cfg.Log.Warn("removing checkpoints", "job", id, "err", err)
		}
	}
	s.observe(func(o *observations) { o.cleaned = append(o.cleaned, id) })
}

// commitJob moves every committed sink part into place and publishes the
// outputs (bsp.CommitSinkParts, which the in-process executor uses too).
func commitJob(ctx context.Context, c pendingCommit) error {
	spec, err := bsp.DecodeSpec(c.spec)
	if err != nil {
		return err
	}
	var parts []bsp.SinkFile
	for _, sc := range c.commits {
		if sf := sc.Commit.Report.SinkFile; sf != nil {
			parts = append(parts, bsp.SinkFile{Node: sf.Node, Part: sf.Part, Path: sf.Path, Size: sf.Size})
		}
	}
	return bsp.CommitSinkParts(ctx, spec, parts)
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
			ss.RecordsIn, ss.RecordsOut, ss.ShuffleBytes, ss.ShuffleRawBytes, ss.Spills, ss.SpillBytes =
				c.RecordsIn, c.RecordsOut, c.ShuffleBytes, c.ShuffleRaw, c.Spills, c.SpillBytes
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
