package server

import (
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/coordinator/raftnode"
)

// maxJobEvents bounds the events kept per job; past it the oldest are
// dropped and a watch that needs them starts with a SNAPSHOT.
const maxJobEvents = 1 << 18

// eventLog keeps every job's events as derived from the applied log
// (coordinator.EventDeriver), for WatchJobEvents, the stage and job times
// of the status, and the dashboard. observe runs on raft's FSM goroutine.
type eventLog struct {
	deriver *coordinator.EventDeriver // only observe touches it
	applied atomic.Uint64             // the last applied raft index

	mu      sync.Mutex // guards the fields below
	jobs    map[coordinator.JobID]*jobEvents
	changed chan struct{} // closed and replaced when events are added
	// lost is when each dead worker was declared dead (Unix ms; the time of
	// the restore for workers already dead in a restored snapshot).
	lost map[coordinator.WorkerID]int64
}

// jobEvents are one job's events, oldest first, and what they say about
// its times.
type jobEvents struct {
	events []coordinator.Event
	// complete is set when events reach back to the job's submission.
	complete bool
	// times, Unix ms (0: not yet)
	submitted, started, ended int64
	stageStart, stageEnd      map[int]int64
	// sums are the stages' totals over every commit (every vertex
	// superstep of a Pregel stage, whose state keeps only the current
	// superstep's commits).
	sums map[int]coordinator.Counters
}

func newEventLog() *eventLog {
	return &eventLog{deriver: coordinator.NewEventDeriver(), jobs: map[coordinator.JobID]*jobEvents{},
		changed: make(chan struct{}), lost: map[coordinator.WorkerID]int64{}}
}

// observe derives the events of one applied command (see raftnode.Applied)
// and returns them.
func (l *eventLog) observe(a raftnode.Applied) []coordinator.Event {
	if a.Read == nil {
		return nil
	}
	if a.Index > 0 {
		l.applied.Store(a.Index)
	}
	if a.Restored {
		var dead []coordinator.WorkerID
		a.Read(func(st *coordinator.State) {
			l.deriver.Reset(st)
			for _, w := range st.Workers {
				if w.Dead {
					dead = append(dead, w.ID)
				}
			}
		})
		l.mu.Lock()
		for _, je := range l.jobs {
			je.complete = false
		}
		for _, w := range dead {
			if _, ok := l.lost[w]; !ok {
				l.lost[w] = time.Now().UnixMilli()
			}
		}
		l.mu.Unlock()
		return nil
	}
	if wd, ok := a.Command.(coordinator.WorkerDead); ok && !a.Result.Ignored && a.Result.Err == nil {
		l.mu.Lock()
		l.lost[wd.Worker] = a.At.UnixMilli()
		l.mu.Unlock()
	}
	var evs []coordinator.Event
	a.Read(func(st *coordinator.State) {
		evs = l.deriver.Derive(st, a.Command, a.Result, a.Index, a.At.UnixMilli())
	})
	if len(evs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range evs {
		je := l.jobs[e.Job]
		if je == nil {
			_, submit := a.Command.(coordinator.SubmitJob)
			je = &jobEvents{complete: submit, submitted: e.UnixMs, stageStart: map[int]int64{}, stageEnd: map[int]int64{},
				sums: map[int]coordinator.Counters{}}
			l.jobs[e.Job] = je
		}
		if len(je.events) >= maxJobEvents {
			je.events = append(je.events[:0:0], je.events[maxJobEvents/2:]...)
			je.complete = false
		}
		je.events = append(je.events, e)
		switch e.Kind {
		case coordinator.EventStageStarted:
			if je.started == 0 {
				je.started = e.UnixMs
			}
			je.stageStart[e.Stage] = e.UnixMs
			delete(je.stageEnd, e.Stage)
		case coordinator.EventStageFinished:
			je.stageEnd[e.Stage] = e.UnixMs
		case coordinator.EventTaskCommitted:
			c := je.sums[e.Stage]
			c.Add(e.Counters)
			je.sums[e.Stage] = c
		case coordinator.EventTaskUncommitted:
			delete(je.stageEnd, e.Stage)
			je.sums[e.Stage] = coordinator.SubCounters(je.sums[e.Stage], e.Counters)
		case coordinator.EventStateChanged:
			if e.Phase.Ended() {
				je.ended = e.UnixMs
			}
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return evs
}

// since returns the job's events after key, whether the log holds every
// event after key (if not, the caller sends a SNAPSHOT first), and a
// channel closed when more events arrive.
func (l *eventLog) since(id coordinator.JobID, after coordinator.EventKey) ([]coordinator.Event, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	je := l.jobs[id]
	if je == nil {
		return nil, false, l.changed
	}
	evs := je.events
	whole := je.complete || (len(evs) > 0 && after != (coordinator.EventKey{}) && !after.Less(evs[0].Key))
	i := 0
	for i < len(evs) && !after.Less(evs[i].Key) {
		i++
	}
	return append([]coordinator.Event(nil), evs[i:]...), whole, l.changed
}

// last returns the key of the job's newest event.
func (l *eventLog) last(id coordinator.JobID) coordinator.EventKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	if je := l.jobs[id]; je != nil && len(je.events) > 0 {
		return je.events[len(je.events)-1].Key
	}
	return coordinator.EventKey{}
}

// annotate sets the times of a job's status from its events when the log
// reaches back to the job's submission (they are the times of the
// replicated log, the same on every coordinator); otherwise it fills only
// the times the status lacks.
func (l *eventLog) annotate(out *pb.JobStatus, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	je := l.jobs[coordinator.JobID(out.GetJobId())]
	if je == nil {
		return
	}
	if out.SubmittedUnixMs == 0 || je.complete {
		out.SubmittedUnixMs = je.submitted
	}
	if out.StartedUnixMs == 0 || (je.complete && je.started > 0) {
		out.StartedUnixMs = je.started
	}
	if isFinal(out.GetState()) && je.ended > 0 && (out.EndedUnixMs == 0 || je.complete) {
		out.EndedUnixMs = je.ended
	}
	for _, ss := range out.GetStages() {
		st, en := je.stageStart[int(ss.GetStage())], je.stageEnd[int(ss.GetStage())]
		ss.StartedUnixMs, ss.EndedUnixMs = st, en
		if c, ok := je.sums[int(ss.GetStage())]; ok && ss.GetSupersteps() > 0 {
			ss.RecordsIn, ss.RecordsOut, ss.ShuffleBytes, ss.ShuffleRawBytes, ss.Spills, ss.SpillBytes =
				c.RecordsIn, c.RecordsOut, c.ShuffleBytes, c.ShuffleRaw, c.Spills, c.SpillBytes
		}
		switch {
		case st > 0 && en >= st:
			ss.ElapsedMs = en - st
		case st > 0 && !isFinal(out.GetState()):
			ss.ElapsedMs = max(0, now.UnixMilli()-st)
		case st > 0 && out.EndedUnixMs >= st:
			ss.ElapsedMs = out.EndedUnixMs - st
		}
	}
}

// eventProto converts an event; status is set by the caller when needed.
func eventProto(e coordinator.Event) *pb.JobEvent {
	out := &pb.JobEvent{Kind: pb.JobEventKind(e.Kind), Stage: int32(e.Stage), Message: e.Message, UnixMs: e.UnixMs,
		RaftIndex: e.Key.Index, IndexSeq: e.Key.Seq, WorkerId: string(e.Worker), Superstep: int32(e.Superstep),
		Done: int32(e.Done), Tasks: int32(e.Tasks), Active: e.Active, Messages: e.Messages, Lost: e.Lost,
		Speculative: e.Speculative}
	if e.Task >= 0 {
		out.Attempt = &pb.AttemptRef{JobId: string(e.Job), Stage: int32(e.Stage), Task: int32(e.Task), Attempt: int32(e.Attempt)}
	}
	if c := e.Counters; c != (coordinator.Counters{}) {
		out.Counters = &pb.Counters{RecordsIn: c.RecordsIn, RecordsOut: c.RecordsOut, ShuffleBytes: c.ShuffleBytes,
			ShuffleRawBytes: c.ShuffleRaw, Spills: c.Spills, SpillBytes: c.SpillBytes}
	}
	if e.Kind == coordinator.EventStateChanged {
		out.State = phaseState(e.Phase)
		if e.Phase == coordinator.JobCommitting {
			out.State, out.Message = pb.JobState_JOB_STATE_RUNNING, "committing"
		}
	}
	return out
}

// phaseState is a job phase's protocol state.
func phaseState(p coordinator.JobPhase) pb.JobState {
	switch p {
	case coordinator.JobRunning, coordinator.JobCommitting:
		return pb.JobState_JOB_STATE_RUNNING
	case coordinator.JobSucceeded:
		return pb.JobState_JOB_STATE_SUCCEEDED
	case coordinator.JobFailed:
		return pb.JobState_JOB_STATE_FAILED
	case coordinator.JobCancelled:
		return pb.JobState_JOB_STATE_CANCELLED
	}
	return pb.JobState_JOB_STATE_PENDING
}

// WatchJobEvents implements the Coordinator service.
func (s *Server) WatchJobEvents(req *pb.WatchJobRequest, out grpc.ServerStreamingServer[pb.JobEvent]) error {
	id := coordinator.JobID(req.GetJobId())
	if err := s.mayAccess(out.Context(), id); err != nil {
		return err
	}
	if _, ok := s.status(id); !ok {
		return status.Errorf(codes.NotFound, "no job %q", req.GetJobId())
	}
	after := coordinator.EventKey{Index: req.GetAfterRaftIndex(), Seq: req.GetAfterIndexSeq()}
	first := true
	for {
		evs, whole, changed := s.events.since(id, after)
		if first && !whole {
			// The log does not reach back to where the client is: start it
			// from the job's status as of the newest event.
			key := s.events.last(id)
			st, _ := s.status(id)
			snap := &pb.JobEvent{Kind: pb.JobEventKind_JOB_EVENT_KIND_SNAPSHOT, Stage: -1, Status: st,
				RaftIndex: key.Index, IndexSeq: key.Seq, UnixMs: time.Now().UnixMilli()}
			if err := out.Send(snap); err != nil {
				return err
			}
			if isFinal(st.GetState()) {
				return nil
			}
			after = key
			evs, _, changed = s.events.since(id, after)
		}
		first = false
		for _, e := range evs {
			pe := eventProto(e)
			if e.Final() {
				pe.Status, _ = s.status(id)
			}
			if err := out.Send(pe); err != nil {
				return err
			}
			after = e.Key
			if e.Final() {
				return nil
			}
		}
		select {
		case <-changed:
		case <-out.Context().Done():
			return out.Context().Err()
		}
	}
}

// stageDetail fills what the status of stage i of j says about vertex
// supersteps and retries.
func stageDetail(j *coordinator.Job, i int, ss *pb.StageStatus) {
	it := j.Iteration(i)
	if it != nil {
		ss.Supersteps = int32(it.Superstep + 1)
	}
	for ti, t := range j.Stages[i].Tasks {
		seen := map[int]bool{}
		for ai, a := range t.Attempts {
			if seen[a.Superstep] {
				ss.Retries++
			}
			seen[a.Superstep] = true
			if a.Speculative {
				ss.Speculative++
				ss.Speculated = append(ss.Speculated, speculated(t, ti, ai))
			}
		}
	}
}

// speculated describes the race of task t's speculative copy ai with the
// attempt it copied: the winner is the one of the two that committed (or,
// once that commit was dropped to be recomputed, the one that succeeded).
func speculated(t *coordinator.Task, ti, ai int) *pb.SpeculatedTask {
	a := t.Attempts[ai]
	out := &pb.SpeculatedTask{Task: int32(ti), Original: -1, Copy: int32(ai), CopyWorkerId: string(a.Worker),
		Winner: -1, Superstep: int32(a.Superstep)}
	for p := ai - 1; p >= 0; p-- {
		if q := t.Attempts[p]; q.Superstep == a.Superstep && !q.Speculative {
			out.Original = int32(p)
			break
		}
	}
	orig := int(out.Original)
	succeeded := func(i int) bool { return i >= 0 && t.Attempts[i].State == coordinator.AttemptSucceeded }
	switch {
	case t.Committed != nil && (t.Committed.Attempt == ai || t.Committed.Attempt == orig):
		out.Winner = int32(t.Committed.Attempt)
	case succeeded(ai) && !succeeded(orig):
		out.Winner = int32(ai)
	case succeeded(orig) && !succeeded(ai):
		out.Winner = int32(orig)
	}
	out.CopyWon = out.Winner == int32(ai)
	return out
}

// jobFailure says where a failed job failed: the task out of attempts, with
// its last failed attempt's error as the cause; nil unless j failed.
func jobFailure(j *coordinator.Job) *pb.JobFailure {
	if j.Phase != coordinator.JobFailed {
		return nil
	}
	for si, st := range j.Stages {
		for ti, t := range st.Tasks {
			if t.Failures < j.MaxAttempts {
				continue
			}
			for ai := len(t.Attempts) - 1; ai >= 0; ai-- {
				if t.Attempts[ai].State == coordinator.AttemptFailed {
					return &pb.JobFailure{Stage: int32(si), Task: int32(ti), Attempts: int32(t.Failures), Cause: t.Attempts[ai].Error}
				}
			}
		}
	}
	return &pb.JobFailure{Stage: -1, Task: -1, Cause: j.Error}
}

// lostAt returns when worker w was declared dead (Unix ms), 0 if unknown.
func (l *eventLog) lostAt(w coordinator.WorkerID) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost[w]
}

// workerDetail sets the states, loss times and heartbeat ages of listed
// workers and drops the workers dead for longer than the retention.
func (s *Server) workerDetail(ws []*pb.WorkerStatus, now time.Time) []*pb.WorkerStatus {
	out := ws[:0]
	for _, w := range ws {
		id := coordinator.WorkerID(w.GetWorkerId())
		if !w.GetAlive() {
			w.State = pb.WorkerState_WORKER_STATE_DEAD
			w.LostUnixMs = s.events.lostAt(id)
			if w.LostUnixMs == 0 {
				// Dead before this coordinator knew it: start the clock now.
				s.events.mu.Lock()
				s.events.lost[id] = now.UnixMilli()
				s.events.mu.Unlock()
				w.LostUnixMs = now.UnixMilli()
			}
			if s.cfg.LostWorkerRetention > 0 && now.UnixMilli()-w.LostUnixMs > s.cfg.LostWorkerRetention.Milliseconds() {
				s.mu.Lock()
				delete(s.heard, id)
				s.mu.Unlock()
				continue
			}
		} else {
			w.State = pb.WorkerState_WORKER_STATE_ALIVE
			if w.GetExcludedUntilUnixMs() > 0 {
				w.State = pb.WorkerState_WORKER_STATE_EXCLUDED
			}
			if t, ok := s.fd.LastHeartbeat(id); ok {
				w.HeartbeatAgeMs = max(0, now.Sub(t).Milliseconds())
			}
			s.mu.Lock()
			h := s.heard[id]
			w.BytesServed, w.Load = h.served, h.load
			s.mu.Unlock()
		}
		out = append(out, w)
	}
	return out
}
