package coordinator

import (
	"fmt"
	"slices"
	"time"
)

// The leader's step, in the manner of etcd/raft's Ready: the leader's I/O
// layer (coordinator/server) gathers what it observed since the last step —
// the time, the workers whose task streams are open, the heartbeats and task
// results received, the acknowledgements and outcomes of the work it carried
// out — and calls Leader.Step, which returns a Ready of what to do: commands
// to propose, messages to send, sink commits and cleanups to run. Step does
// no I/O, reads no clock and starts no goroutines: the same Leader, State and
// Observations give the same Ready, which the data-driven tests under
// testdata/step check.
//
// The I/O layer's contract:
//
//   - It proposes Ready.Propose in order, stopping at the first proposal that
//     fails (not leader any more); a command the state rejects or ignores is
//     not an error.
//   - It then sends Ready.Send, each on the worker's own bounded queue; a
//     message that cannot be queued (the worker's queue is full or its stream
//     is gone) is reported in the next Observations.Undelivered, if it is an
//     assignment.
//   - It runs Ready.Commit and Ready.Cleanup off the decision loop and reports
//     each outcome once, in a later Observations.Committed or Cleaned. Step
//     does not ask again for work it was not told the outcome of.
//   - It calls Step after every applied change and on a ticker.

// LeaderConfig configures the decisions of a Leader.
type LeaderConfig struct {
	// WorkerTimeout is the silence after which a worker is declared dead.
	WorkerTimeout time.Duration
	// ReconcileGrace is how long an attempt the state thinks runs may be
	// missing from its worker's heartbeats before it is declared lost (a
	// result, or the assignment itself, may be in flight).
	ReconcileGrace time.Duration
	// DeleteRetry is how often a job-file deletion is sent again to a
	// holder that has not acknowledged it.
	DeleteRetry time.Duration
	// RetainJobs is how long an ended job whose files are deleted stays in
	// the state (for status and jobs) before it is forgotten, so that
	// snapshots stop growing. Zero keeps jobs forever.
	RetainJobs time.Duration
	// Speculation says when a straggling attempt gets a copy on another
	// worker (see Speculate); the zero value never speculates.
	Speculation SpeculationConfig
	// Timeouts says when a running attempt has run too long and is retried
	// elsewhere (see Overdue); the zero value never times out.
	Timeouts TimeoutConfig
	// Exclusion says when a worker whose attempts keep failing gets no
	// tasks for a while (see Exclude); the zero value never excludes.
	Exclusion ExclusionConfig
	// StepGap, when set, is the longest time expected between two steps
	// (the I/O layer steps on a ticker). A longer gap means the leader
	// itself did not run (its process was frozen or starved): heartbeats
	// that arrived meanwhile could not be read, so the gap does not count
	// as the workers' silence, and a leader that wakes does not declare
	// every worker dead. Zero counts every gap.
	StepGap time.Duration
}

// DefaultLeaderConfig is a 2 s worker timeout, a 2 s reconcile grace, a 1 s
// delete retry and one hour of retention.
func DefaultLeaderConfig() LeaderConfig {
	return LeaderConfig{WorkerTimeout: 2 * time.Second, ReconcileGrace: 2 * time.Second,
		DeleteRetry: time.Second, RetainJobs: time.Hour}
}

// Observations are what the I/O layer saw since the previous Step.
type Observations struct {
	// Now is the leader's clock.
	Now time.Time
	// Term is the leader's raft term; zero when this node does not lead
	// (then Step does nothing). A new term starts a new leadership: the
	// Leader forgets what it knew and seeds its failure detector afresh.
	Term uint64
	// Connected lists the workers with an open task stream.
	Connected []WorkerID
	// Heartbeats received, in order.
	Heartbeats []Heartbeat
	// Results are the task results received, as commands (TaskSucceeded,
	// TaskFailed, MapOutputLost); Step stamps them and proposes those about
	// attempts the state still runs.
	Results []Command
	// Undelivered lists assignments that could not be queued to their
	// worker: they are lost.
	Undelivered []AttemptID
	// DeleteAcks are the workers that acknowledged deleting a job's files.
	DeleteAcks []DeleteAck
	// Committed are the outcomes of Ready.Commit work.
	Committed []CommitOutcome
	// Cleaned are the jobs whose Ready.Cleanup work ran.
	Cleaned []JobID
}

// Heartbeat is one heartbeat of a worker. Running is the attempts it runs
// now; Complete says that Running is the full list (older workers send only
// a count), so that Step may reconcile against it.
type Heartbeat struct {
	Worker   WorkerID
	Running  []AttemptID
	Complete bool
}

// DeleteAck says that a worker removed every file of a job.
type DeleteAck struct {
	Job    JobID
	Worker WorkerID
}

// CommitOutcome is the outcome of committing a job's sinks: Err is empty on
// success.
type CommitOutcome struct {
	Job JobID
	Err string
}

// Ready is what one Step decided.
type Ready struct {
	// Propose are commands to propose, in order.
	Propose []Command
	// Send are messages to workers, sent after the proposals.
	Send []Message
	// Commit are jobs whose sinks to commit (phase committing): the I/O
	// layer commits every committed sink part (State.SinkCommits) and then
	// the sinks, and reports a CommitOutcome.
	Commit []JobID
	// Cleanup are ended jobs whose coordinator-side files to remove (an
	// aborted job's temporary sink output, checkpoints); reported in
	// Observations.Cleaned.
	Cleanup []JobID
	// Stalled, when not zero, is a gap between this step and the previous
	// one longer than LeaderConfig.StepGap, which the failure detector did
	// not count (for the I/O layer to log).
	Stalled time.Duration
}

// Empty reports whether the Ready asks for nothing.
func (r Ready) Empty() bool {
	return len(r.Propose) == 0 && len(r.Send) == 0 && len(r.Commit) == 0 && len(r.Cleanup) == 0
}

// MessageKind is what a Message asks a worker to do.
type MessageKind string

// Message kinds.
const (
	// SendAssign starts Attempt on the worker; the I/O layer builds the
	// assignment from the state (the attempt is running there).
	SendAssign MessageKind = "assign"
	// SendCancel stops Attempt on the worker.
	SendCancel MessageKind = "cancel"
	// SendDelete removes every file of Job from the worker.
	SendDelete MessageKind = "delete"
)

// Message is one message to a worker, carrying the leader's term so that a
// worker ignores a deposed leader.
type Message struct {
	Kind    MessageKind
	Worker  WorkerID
	Term    uint64
	Attempt AttemptID // assign, cancel
	Job     JobID     // delete
}

// Leader is the volatile memory of one leadership between steps: what the
// failure detector heard, what was sent, what is in flight. It is not
// replicated; a new leader (a new term) starts from a fresh one seeded from
// the state. A Leader is used by one goroutine.
type Leader struct {
	cfg  LeaderConfig
	term uint64

	heard     map[WorkerID]time.Time // last heartbeat (or the seed) of each live worker
	sent      map[AttemptID]bool     // running attempts whose assignment was sent (or predates the term)
	missing   map[AttemptID]time.Time
	deleteAt  map[DeleteAck]time.Time // when a delete was last sent to a holder
	acked     map[DeleteAck]bool
	cleanedUp map[JobID]bool          // Ready.Cleanup done
	inFlight  map[JobID]bool          // Ready.Commit or Cleanup asked, no outcome yet
	clock     *AttemptClock           // when attempts were sent and how long they took, for Speculate
	adopted   map[AttemptID]time.Time // running attempts of an earlier leader: when this one took over (Overdue)
	lastStep  time.Time               // the previous step's Now, for StepGap
}

// NewLeader returns a Leader that has not led yet.
func NewLeader(cfg LeaderConfig) *Leader {
	l := &Leader{cfg: cfg}
	l.reset(0)
	return l
}

func (l *Leader) reset(term uint64) {
	l.term = term
	l.heard = map[WorkerID]time.Time{}
	l.sent = map[AttemptID]bool{}
	l.missing = map[AttemptID]time.Time{}
	l.deleteAt = map[DeleteAck]time.Time{}
	l.acked = map[DeleteAck]bool{}
	l.cleanedUp = map[JobID]bool{}
	l.inFlight = map[JobID]bool{}
	l.clock = NewAttemptClock()
	l.adopted = map[AttemptID]time.Time{}
	l.lastStep = time.Time{}
}

// Term is the term of the current leadership, 0 before the first.
func (l *Leader) Term() uint64 { return l.term }

// Step decides what to do given the state and what was observed. It does
// not modify s. See the package comment on Ready for the I/O layer's side.
func (l *Leader) Step(s *State, o Observations) Ready {
	var r Ready
	if o.Term == 0 || o.Term < s.Term {
		// Not the leader, or deposed: the state has applied a command of a
		// newer leader's term. No decision, no message, no commit.
		return r
	}
	if o.Term != l.term {
		l.startLeadership(s, o)
	}
	r.Stalled = l.stalled(o.Now)
	stamp := Stamp{Time: o.Now.UnixMilli()}
	connected := map[WorkerID]bool{}
	for _, w := range o.Connected {
		connected[w] = true
	}
	for _, hb := range o.Heartbeats {
		if w := s.Worker(hb.Worker); w != nil && !w.Dead {
			l.heard[hb.Worker] = o.Now
		}
	}
	l.results(s, o, stamp, &r)
	for _, a := range o.Undelivered {
		if t := attemptOf(s, a); t != nil && t.State == AttemptRunning {
			r.Propose = append(r.Propose, TaskFailed{Stamp: stamp, AttemptID: a, Worker: t.Worker,
				Error: "the assignment could not be delivered to the worker", ErrorKind: KindLost})
		}
		delete(l.sent, a)
	}
	dead := l.detect(s, o, stamp, &r)
	l.reconcile(s, o, stamp, dead, &r)
	l.timeouts(s, o, stamp, dead, &r)
	l.exclude(s, o, stamp, dead, &r)
	// Attempts this Ready already ends are not sent.
	l.assign(s, o, stamp, connected, dead, endingIn(&r), &r)
	l.finish(s, o, stamp, &r)
	l.cleanup(s, o, stamp, connected, &r)
	return r
}

// startLeadership forgets the previous leadership and seeds the failure
// detector: every live worker of the state gets a full timeout from now to
// reach this leader, and a worker that died while no leader ran is declared
// dead once it has not. Attempts running in the state were assigned by an
// earlier leader: they are not sent again (reconcile decides about them).
func (l *Leader) startLeadership(s *State, o Observations) {
	l.reset(o.Term)
	for _, w := range s.Workers {
		if !w.Dead {
			l.heard[w.ID] = o.Now
		}
	}
	s.eachRunning(func(a AttemptID, _ WorkerID) { l.sent[a], l.adopted[a] = true, o.Now })
}

// stalled moves the failure detector's, the reconciler's and the attempt
// timers' clocks forward by the gap since the previous step when it is
// longer than StepGap (the leader did not run, so it heard nothing), and
// returns that gap.
func (l *Leader) stalled(now time.Time) time.Duration {
	prev := l.lastStep
	l.lastStep = now
	if l.cfg.StepGap <= 0 || prev.IsZero() {
		return 0
	}
	gap := now.Sub(prev)
	if gap <= l.cfg.StepGap {
		return 0
	}
	for w, t := range l.heard {
		l.heard[w] = t.Add(gap)
	}
	for a, t := range l.missing {
		l.missing[a] = t.Add(gap)
	}
	for a, t := range l.adopted {
		l.adopted[a] = t.Add(gap)
	}
	l.clock.Shift(gap) // nor toward attempts' ages (timeouts, speculation)
	return gap
}

// results proposes the task results that are about attempts still running
// in the state; late results (an attempt already lost, failed or
// superseded) are dropped. A MapOutputLost is always proposed: the state
// ignores it unless it names the committed attempt.
func (l *Leader) results(s *State, o Observations, stamp Stamp, r *Ready) {
	for _, c := range o.Results {
		switch c := c.(type) {
		case TaskSucceeded:
			if running(s, c.AttemptID, c.Worker) {
				c.Stamp = stamp
				r.Propose = append(r.Propose, c)
				l.clock.Ended(c.AttemptID, o.Now)
			}
		case TaskFailed:
			if running(s, c.AttemptID, c.Worker) {
				c.Stamp = stamp
				r.Propose = append(r.Propose, c)
			}
		case MapOutputLost:
			c.Stamp = stamp
			r.Propose = append(r.Propose, c)
		}
	}
}

// detect declares dead the workers not heard from for longer than the
// worker timeout, and returns them.
func (l *Leader) detect(s *State, o Observations, stamp Stamp, r *Ready) map[WorkerID]bool {
	dead := map[WorkerID]bool{}
	ids := make([]WorkerID, 0, len(l.heard))
	for w := range l.heard {
		ids = append(ids, w)
	}
	slices.Sort(ids)
	for _, id := range ids {
		w := s.Worker(id)
		if w == nil || w.Dead {
			delete(l.heard, id)
			continue
		}
		if o.Now.Sub(l.heard[id]) > l.cfg.WorkerTimeout {
			dead[id] = true
			r.Propose = append(r.Propose, WorkerDead{Stamp: stamp, Worker: id,
				Reason: fmt.Sprintf("no heartbeat for %s", l.cfg.WorkerTimeout)})
		}
	}
	// A worker registered after the leadership started is tracked from its
	// first step here.
	for _, w := range s.Workers {
		if _, ok := l.heard[w.ID]; !ok && !w.Dead {
			l.heard[w.ID] = o.Now
		}
	}
	return dead
}

// reconcile compares each complete heartbeat with the state: an attempt the
// state runs on the worker that the worker does not report, for longer than
// the grace, is lost (its result was lost); an attempt the worker runs that
// the state does not (it ended, or its job did) is cancelled on the worker.
func (l *Leader) reconcile(s *State, o Observations, stamp Stamp, dead map[WorkerID]bool, r *Ready) {
	reported := map[WorkerID]map[AttemptID]bool{}
	for _, hb := range o.Heartbeats {
		if !hb.Complete {
			continue
		}
		set := map[AttemptID]bool{}
		for _, a := range hb.Running {
			set[a] = true
			if !running(s, a, hb.Worker) {
				r.Send = append(r.Send, Message{Kind: SendCancel, Worker: hb.Worker, Term: l.term, Attempt: a})
			}
		}
		reported[hb.Worker] = set
	}
	s.eachRunning(func(a AttemptID, w WorkerID) {
		set, ok := reported[w]
		switch {
		case dead[w]:
			delete(l.missing, a)
		case !ok:
			// No complete heartbeat of w in this step: no news.
		case set[a]:
			delete(l.missing, a)
		default:
			since, seen := l.missing[a]
			if !seen {
				l.missing[a] = o.Now
			} else if o.Now.Sub(since) > l.cfg.ReconcileGrace {
				delete(l.missing, a)
				r.Propose = append(r.Propose, TaskFailed{Stamp: stamp, AttemptID: a, Worker: w,
					Error: "the worker does not run this attempt (its result was lost)", ErrorKind: KindLost})
			}
		}
	})
	for a := range l.missing {
		if t := attemptOf(s, a); t == nil || t.State != AttemptRunning {
			delete(l.missing, a)
		}
	}
}

// assign sends the attempts assigned in the state that were not sent yet,
// and proposes new assignments on the connected live workers' free slots
// (Schedule). A new assignment is sent in the step after it is applied.
func (l *Leader) assign(s *State, o Observations, stamp Stamp, connected, dead map[WorkerID]bool, ending map[AttemptID]bool, r *Ready) {
	s.eachRunning(func(a AttemptID, w WorkerID) {
		if l.sent[a] || ending[a] || dead[w] {
			return
		}
		if !connected[w] {
			r.Propose = append(r.Propose, TaskFailed{Stamp: stamp, AttemptID: a, Worker: w,
				Error: "the worker's task stream is closed", ErrorKind: KindLost})
			return
		}
		l.sent[a] = true
		l.clock.Started(a, o.Now)
		r.Send = append(r.Send, Message{Kind: SendAssign, Worker: w, Term: l.term, Attempt: a})
	})
	for a := range l.sent {
		if t := attemptOf(s, a); t == nil || t.State != AttemptRunning {
			delete(l.sent, a)
		}
	}
	free := s.FreeSlots()
	now := o.Now.UnixMilli()
	excluding := excludingIn(r)
	for w := range free {
		if !connected[w] || dead[w] || s.Worker(w).Excluded(now) || excluding[w] {
			delete(free, w)
		}
	}
	scheduled := Schedule(s, free)
	for _, a := range scheduled {
		c := a.Command()
		c.Stamp, c.Term = stamp, l.term
		r.Propose = append(r.Propose, c)
	}
	l.speculate(s, o, stamp, free, scheduled, r)
}

// speculate proposes one copy of each straggler (Speculate) on another
// worker with a slot left after the scheduled assignments. A task is
// copied once per leadership.
func (l *Leader) speculate(s *State, o Observations, stamp Stamp, free map[WorkerID]int, scheduled []Assignment, r *Ready) {
	if !l.cfg.Speculation.Enabled {
		return
	}
	var stragglers []Straggler
	l.clock.Read(func(t Times) { stragglers = Speculate(s, l.cfg.Speculation, t, o.Now) })
	if len(stragglers) == 0 {
		return
	}
	left := make(map[WorkerID]int, len(free))
	for w, n := range free {
		left[w] = n
	}
	for _, a := range scheduled {
		left[a.Worker]--
	}
	for _, sg := range stragglers {
		w := SpeculationTarget(s, sg, left)
		if w == "" {
			continue
		}
		left[w]--
		l.clock.Copied(sg.TaskID)
		n := len(s.Job(sg.Job).Task(sg.Stage, sg.Task).Attempts)
		r.Propose = append(r.Propose, AssignTask{Stamp: stamp, Term: l.term, Worker: w, Speculative: true,
			AttemptID: AttemptID{TaskID: sg.TaskID, Attempt: n}})
	}
}

// finish asks for the commit of committing jobs and proposes FinishJob with
// each outcome.
func (l *Leader) finish(s *State, o Observations, stamp Stamp, r *Ready) {
	outcomes := map[JobID]CommitOutcome{}
	for _, c := range o.Committed {
		outcomes[c.Job] = c
		delete(l.inFlight, c.Job)
	}
	for _, j := range s.Jobs {
		if j.Phase != JobCommitting {
			continue
		}
		if out, ok := outcomes[j.ID]; ok {
			r.Propose = append(r.Propose, FinishJob{Stamp: stamp, Term: l.term, Job: j.ID, Error: out.Err})
			continue
		}
		if !l.inFlight[j.ID] {
			l.inFlight[j.ID] = true
			r.Commit = append(r.Commit, j.ID)
		}
	}
}

// cleanup removes the files of ended jobs: each holder's by a delete
// message repeated every DeleteRetry until the holder acknowledges
// (proposed as JobFilesDeleted) or dies; then the coordinator's side once
// (Ready.Cleanup); then JobCleaned. Cleaned jobs are forgotten RetainJobs after
// they ended.
func (l *Leader) cleanup(s *State, o Observations, stamp Stamp, connected map[WorkerID]bool, r *Ready) {
	for _, a := range o.DeleteAcks {
		if j := s.Job(a.Job); j != nil && !j.Cleaned && !slices.Contains(j.Deleted, a.Worker) && !l.acked[a] {
			l.acked[a] = true
			r.Propose = append(r.Propose, JobFilesDeleted{Stamp: stamp, Job: a.Job, Worker: a.Worker})
		}
	}
	for _, id := range o.Cleaned {
		delete(l.inFlight, id)
		l.cleanedUp[id] = true
	}
	now := o.Now.UnixMilli()
	for _, j := range s.Jobs {
		if !j.Phase.Ended() {
			continue
		}
		if j.Cleaned {
			if l.cfg.RetainJobs > 0 && j.EndedMs > 0 && now-j.EndedMs > l.cfg.RetainJobs.Milliseconds() {
				r.Propose = append(r.Propose, ForgetJob{Stamp: stamp, Job: j.ID})
			}
			continue
		}
		pending := false
		for _, w := range s.FileHolders(j.ID) {
			k := DeleteAck{Job: j.ID, Worker: w}
			if slices.Contains(j.Deleted, w) || l.acked[k] {
				continue
			}
			pending = true
			if last, ok := l.deleteAt[k]; connected[w] && (!ok || o.Now.Sub(last) >= l.cfg.DeleteRetry) {
				l.deleteAt[k] = o.Now
				r.Send = append(r.Send, Message{Kind: SendDelete, Worker: w, Term: l.term, Job: j.ID})
			}
		}
		switch {
		case pending:
		case !l.cleanedUp[j.ID] && !l.inFlight[j.ID]:
			// Only now: a holder acknowledges once the job's attempts
			// stopped, and before that one could still upload a part
			// into the sink's temporary output after it was removed.
			l.inFlight[j.ID] = true
			r.Cleanup = append(r.Cleanup, j.ID)
		case l.cleanedUp[j.ID]:
			r.Propose = append(r.Propose, JobCleaned{Stamp: stamp, Job: j.ID})
		}
	}
}

// running reports whether attempt a runs on worker w in the state.
func running(s *State, a AttemptID, w WorkerID) bool {
	t := attemptOf(s, a)
	return t != nil && t.State == AttemptRunning && t.Worker == w
}

// attemptOf returns the state's attempt a, or nil.
func attemptOf(s *State, a AttemptID) *Attempt {
	j := s.Job(a.Job)
	if j == nil {
		return nil
	}
	t := j.Task(a.Stage, a.Task)
	if t == nil || a.Attempt < 0 || a.Attempt >= len(t.Attempts) {
		return nil
	}
	return &t.Attempts[a.Attempt]
}

// eachRunning calls fn for every running attempt of an active job, in job,
// stage, task and attempt order.
func (s *State) eachRunning(fn func(AttemptID, WorkerID)) {
	for _, j := range s.Jobs {
		if !j.Active() {
			continue
		}
		for si, st := range j.Stages {
			for ti, t := range st.Tasks {
				for ai, a := range t.Attempts {
					if a.State == AttemptRunning {
						fn(AttemptID{TaskID: TaskID{j.ID, si, ti}, Attempt: ai}, a.Worker)
					}
				}
			}
		}
	}
}
