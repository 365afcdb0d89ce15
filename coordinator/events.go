package coordinator

import "errors"

// Job events are derived from the replicated log: after each applied
// command, an EventDeriver compares what it remembers of the jobs the
// command touched with the state after it, and returns what changed. It
// reads only the state and the command, so every coordinator that applies
// the same log derives the same events with the same keys (raft index,
// position among the command's events). Times come from the log entry (the
// leader's clock when it appended the command), not from the observer.

// EventKind says what an Event is about. The values match the protocol's
// JobEventKind.
type EventKind int

// Event kinds.
const (
	EventSnapshot          EventKind = 1  // not derived; a watch that cannot replay sends it
	EventStateChanged      EventKind = 2  // Phase is the job's new phase
	EventStageStarted      EventKind = 3  // the stage's first attempt started
	EventStageFinished     EventKind = 4  // every task of the stage committed
	EventAttemptFailed     EventKind = 6  // Lost, Message
	EventAttemptStarted    EventKind = 7  // first attempt of a task (of a vertex superstep)
	EventAttemptRetried    EventKind = 8  // an attempt after a failed or lost one
	EventAttemptSpeculated EventKind = 9  // a copy while another attempt runs
	EventAttemptSucceeded  EventKind = 10 // an attempt succeeded
	EventTaskCommitted     EventKind = 11 // Counters: the task's
	EventTaskUncommitted   EventKind = 12 // Counters: the dropped commit's
	EventSuperstepStarted  EventKind = 13 // Pregel: Superstep started
	EventSuperstepFinished EventKind = 14 // Pregel: Superstep ended; Active, Messages
	EventWorkerLost        EventKind = 15 // Worker died while it ran or held work of the job
	EventRollback          EventKind = 16 // Pregel: rerun from Superstep
)

var eventKindNames = map[EventKind]string{
	EventSnapshot: "snapshot", EventStateChanged: "state_changed", EventStageStarted: "stage_started",
	EventStageFinished: "stage_finished", EventAttemptFailed: "attempt_failed", EventAttemptStarted: "attempt_started",
	EventAttemptRetried: "attempt_retried", EventAttemptSpeculated: "attempt_speculated",
	EventAttemptSucceeded: "attempt_succeeded", EventTaskCommitted: "task_committed",
	EventTaskUncommitted: "task_uncommitted", EventSuperstepStarted: "superstep_started",
	EventSuperstepFinished: "superstep_finished", EventWorkerLost: "worker_lost", EventRollback: "rollback",
}

func (k EventKind) String() string {
	if n, ok := eventKindNames[k]; ok {
		return n
	}
	return "unknown"
}

// EventKey orders the events of the log: the raft index of the command
// that made the change, then the event's position among that command's
// events.
type EventKey struct {
	Index uint64 `json:"index"`
	Seq   uint32 `json:"seq"`
}

// Less reports whether k comes before k2.
func (k EventKey) Less(k2 EventKey) bool {
	return k.Index < k2.Index || (k.Index == k2.Index && k.Seq < k2.Seq)
}

// Event is one change of a job. Stage, Task and Attempt are -1 when the
// event is not about one.
type Event struct {
	Key    EventKey `json:"key"`
	Job    JobID    `json:"job"`
	UnixMs int64    `json:"unix_ms"`
	Kind   EventKind
	Stage  int `json:"stage"`
	Task   int `json:"task"`
	// Attempt is the attempt's number.
	Attempt   int      `json:"attempt"`
	Worker    WorkerID `json:"worker,omitempty"`
	Superstep int      `json:"superstep,omitempty"`
	Message   string   `json:"message,omitempty"`
	Lost      bool     `json:"lost,omitempty"`
	// Speculative marks an event about a speculative copy (the attempt
	// events and EventTaskCommitted): a commit with it set means the copy
	// won its race.
	Speculative bool `json:"speculative,omitempty"`
	// Counters: see the kinds; for EventStageFinished the stage's totals
	// over every commit it made (every vertex superstep of a Pregel stage).
	Counters Counters `json:"counters"`
	// Done and Tasks are the stage's committed and total tasks after the
	// change (for a Pregel stage, of its current superstep).
	Done  int `json:"done"`
	Tasks int `json:"tasks"`
	// Active and Messages are a finished vertex superstep's totals.
	Active   int64    `json:"active,omitempty"`
	Messages int64    `json:"messages,omitempty"`
	Phase    JobPhase `json:"phase,omitempty"`
}

// Final reports whether the event ended its job.
func (e *Event) Final() bool { return e.Kind == EventStateChanged && e.Phase.Ended() }

// EventDeriver turns applied commands into events. It is not safe for
// concurrent use: call it from the one goroutine that applies commands,
// right after each, with the state as that command left it.
type EventDeriver struct {
	jobs map[JobID]*jobView
}

type jobView struct {
	phase  JobPhase
	stages []stageView
}

type stageView struct {
	started, complete bool
	superstep         int      // Pregel: the current superstep
	rollbacks         int      // Pregel: TotalRollbacks
	sum               Counters // over the stage's commits (all supersteps)
	tasks             []taskView
}

type taskView struct {
	attempts []attemptView
	commit   *Counters // the committed attempt's counters (this superstep)
}

type attemptView struct {
	state     AttemptState
	worker    WorkerID
	superstep int
}

// NewEventDeriver returns a deriver that knows no job: the first command
// about a job derives its events from its submission.
func NewEventDeriver() *EventDeriver { return &EventDeriver{jobs: map[JobID]*jobView{}} }

// Reset makes the deriver remember the jobs of s as they are, deriving no
// events: call it after the state was replaced by a snapshot.
func (d *EventDeriver) Reset(s *State) {
	d.jobs = map[JobID]*jobView{}
	for _, j := range s.Jobs {
		var sink []Event
		v := &jobView{}
		d.diff(&sink, v, j, nil, Result{})
		d.jobs[j.ID] = v
	}
}

// Derive returns the events that command c, applied at raft index index
// with result res at time unixMs, made to s (the state right after it).
// Rejected commands derive nothing.
func (d *EventDeriver) Derive(s *State, c Command, res Result, index uint64, unixMs int64) []Event {
	if res.Err != nil && !isJobError(res.Err) {
		return nil
	}
	var jobs []JobID
	switch c := c.(type) {
	case SubmitJob:
		jobs = []JobID{c.Job}
	case CancelJob:
		jobs = []JobID{c.Job}
	case FinishJob:
		jobs = []JobID{c.Job}
	case AssignTask:
		jobs = []JobID{c.Job}
	case TaskSucceeded:
		jobs = []JobID{c.Job}
	case TaskFailed:
		jobs = []JobID{c.Job}
	case MapOutputLost:
		jobs = []JobID{c.Job}
	case WorkerDead:
		for id, v := range d.jobs {
			if v.phase == JobRunning || v.phase == JobCommitting {
				jobs = append(jobs, id)
			}
		}
		jobs = sortJobIDs(s, jobs)
	}
	var out []Event
	for _, id := range jobs {
		j := s.Job(id)
		if j == nil {
			continue
		}
		v := d.jobs[id]
		if v == nil {
			v = &jobView{}
			d.jobs[id] = v
		}
		var evs []Event
		d.diff(&evs, v, j, c, res)
		for i := range evs {
			evs[i].Job, evs[i].UnixMs = id, unixMs
		}
		out = append(out, evs...)
	}
	for i := range out {
		out[i].Key = EventKey{Index: index, Seq: uint32(i)}
	}
	return out
}

func isJobError(err error) bool {
	var je *JobError
	return errors.As(err, &je)
}

// sortJobIDs orders ids by submission (the state's job order), so that the
// events of one command come in the same order on every coordinator.
func sortJobIDs(s *State, ids []JobID) []JobID {
	want := map[JobID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []JobID
	for _, j := range s.Jobs {
		if want[j.ID] {
			out = append(out, j.ID)
		}
	}
	return out
}

func ev(kind EventKind, stage int) Event {
	return Event{Kind: kind, Stage: stage, Task: -1, Attempt: -1}
}

// diff appends the events that take view v to job j and updates v. c and
// res are the command that made the change (nil in Reset).
func (d *EventDeriver) diff(out *[]Event, v *jobView, j *Job, c Command, res Result) {
	if v.phase == "" && j.Phase != "" {
		// The job's first event: it runs (or failed at once).
		first := j.Phase
		if j.Phase == JobCommitting {
			first = JobRunning
		}
		e := ev(EventStateChanged, -1)
		e.Phase, e.Message = first, j.Error
		*out = append(*out, e)
		v.phase = first
	}
	if wd, ok := c.(WorkerDead); ok {
		for _, sv := range v.stages {
			if sv.holds(wd.Worker) {
				e := ev(EventWorkerLost, -1)
				e.Worker, e.Message = wd.Worker, wd.Reason
				*out = append(*out, e)
				break
			}
		}
	}
	for len(v.stages) < len(j.Stages) {
		v.stages = append(v.stages, stageView{})
	}
	uncommitted := map[TaskID]bool{}
	for _, t := range res.Uncommitted {
		uncommitted[t] = true
	}
	for si, st := range j.Stages {
		d.diffStage(out, &v.stages[si], j, si, st, c, uncommitted)
	}
	if j.Phase != v.phase {
		e := ev(EventStateChanged, -1)
		e.Phase = j.Phase
		if j.Phase.Ended() {
			e.Message = j.Error
		}
		*out = append(*out, e)
		v.phase = j.Phase
	}
}

func (sv *stageView) holds(w WorkerID) bool {
	for _, t := range sv.tasks {
		for _, a := range t.attempts {
			if a.worker == w && (a.state == AttemptRunning || a.state == AttemptSucceeded) {
				return true
			}
		}
	}
	return false
}

func (d *EventDeriver) diffStage(out *[]Event, sv *stageView, j *Job, si int, st *Stage, c Command, uncommitted map[TaskID]bool) {
	it := st.Iter
	for len(sv.tasks) < len(st.Tasks) {
		sv.tasks = append(sv.tasks, taskView{})
	}
	done := func() int {
		n := 0
		for _, t := range st.Tasks {
			if t.Committed != nil {
				n++
			}
		}
		return n
	}
	// Ends of attempts, then commits and un-commits.
	for ti, t := range st.Tasks {
		tv := &sv.tasks[ti]
		for ai := range min(len(tv.attempts), len(t.Attempts)) {
			was, now := tv.attempts[ai].state, t.Attempts[ai].State
			if was != AttemptRunning || now == AttemptRunning {
				continue
			}
			a := t.Attempts[ai]
			e := Event{Kind: EventAttemptSucceeded, Stage: si, Task: ti, Attempt: ai, Worker: a.Worker, Superstep: a.Superstep,
				Speculative: a.Speculative}
			if now != AttemptSucceeded {
				e.Kind, e.Lost, e.Message = EventAttemptFailed, now == AttemptLost, a.Error
			}
			*out = append(*out, e)
			tv.attempts[ai].state = now
		}
		if uncommitted[TaskID{j.ID, si, ti}] && tv.commit != nil {
			e := Event{Kind: EventTaskUncommitted, Stage: si, Task: ti, Attempt: -1, Counters: *tv.commit}
			sv.sum = SubCounters(sv.sum, *tv.commit)
			tv.commit = nil
			e.Done, e.Tasks = done(), len(st.Tasks)
			*out = append(*out, e)
		}
		if ts, ok := c.(TaskSucceeded); ok && ts.Job == j.ID && ts.Stage == si && ts.Task == ti && tv.commit == nil &&
			ts.Attempt < len(t.Attempts) && t.Attempts[ts.Attempt].State == AttemptSucceeded &&
			(t.Committed == nil || t.Committed.Attempt == ts.Attempt) && (t.Committed != nil || it != nil) {
			// Committed now (a Pregel stage's last commit of a superstep
			// was consumed by the superstep's end in the same command).
			cs := ts.Report.Counters
			tv.commit = &cs
			sv.sum.Add(cs)
			e := Event{Kind: EventTaskCommitted, Stage: si, Task: ti, Attempt: ts.Attempt, Worker: ts.Worker,
				Superstep: t.Attempts[ts.Attempt].Superstep, Counters: cs, Done: done(), Tasks: len(st.Tasks),
				Speculative: t.Attempts[ts.Attempt].Speculative}
			if it != nil && t.Committed == nil {
				e.Done = len(st.Tasks)
			}
			*out = append(*out, e)
		}
		if c == nil && t.Committed != nil && tv.commit == nil {
			cs := t.Committed.Report.Counters // Reset: remember the commits as they are
			tv.commit = &cs
			sv.sum.Add(cs)
		}
	}
	// Pregel supersteps and rollbacks.
	if it != nil {
		switch {
		case it.TotalRollbacks > sv.rollbacks:
			e := ev(EventRollback, si)
			e.Superstep = it.Superstep
			*out = append(*out, e)
			sv.rollbacks, sv.superstep = it.TotalRollbacks, it.Superstep
			sv.clearCommits()
			if sv.started {
				e := ev(EventSuperstepStarted, si)
				e.Superstep = it.Superstep
				*out = append(*out, e)
			}
		case it.Superstep > sv.superstep:
			for k := sv.superstep; k < it.Superstep; k++ {
				e := ev(EventSuperstepFinished, si)
				e.Superstep = k
				if k == it.Superstep-1 {
					e.Active, e.Messages = it.Active, it.Messages
				}
				*out = append(*out, e)
			}
			sv.superstep = it.Superstep
			sv.clearCommits()
			e := ev(EventSuperstepStarted, si)
			e.Superstep = it.Superstep
			*out = append(*out, e)
		}
	}
	// New attempts.
	for ti, t := range st.Tasks {
		tv := &sv.tasks[ti]
		for ai := len(tv.attempts); ai < len(t.Attempts); ai++ {
			a := t.Attempts[ai]
			if !sv.started {
				sv.started = true
				*out = append(*out, ev(EventStageStarted, si))
				if it != nil {
					e := ev(EventSuperstepStarted, si)
					e.Superstep = it.Superstep
					*out = append(*out, e)
					sv.superstep = it.Superstep
				}
			}
			kind := EventAttemptStarted
			for _, p := range t.Attempts[:ai] {
				if p.Superstep != a.Superstep {
					continue
				}
				if p.State == AttemptRunning {
					kind = EventAttemptSpeculated
					break
				}
				kind = EventAttemptRetried
			}
			*out = append(*out, Event{Kind: kind, Stage: si, Task: ti, Attempt: ai, Worker: a.Worker, Superstep: a.Superstep,
				Speculative: a.Speculative})
			tv.attempts = append(tv.attempts, attemptView{state: AttemptRunning, worker: a.Worker, superstep: a.Superstep})
			if a.State != AttemptRunning {
				// Started and ended in one command (Reset, or a replay).
				tv.attempts[ai].state = a.State
			}
		}
	}
	complete := j.StageComplete(si) && (it == nil || it.Final)
	switch {
	case complete && !sv.complete:
		if it != nil {
			e := ev(EventSuperstepFinished, si)
			e.Superstep = it.Superstep
			for _, t := range st.Tasks {
				if t.Committed != nil && t.Committed.Report.Iter != nil {
					e.Active += t.Committed.Report.Iter.Active
					e.Messages += t.Committed.Report.Iter.Messages
				}
			}
			*out = append(*out, e)
		}
		e := ev(EventStageFinished, si)
		e.Counters, e.Done, e.Tasks = sv.sum, done(), len(st.Tasks)
		*out = append(*out, e)
	case !complete && sv.complete:
		// Reopened: an output it made was lost (TASK_UNCOMMITTED says which).
	}
	sv.complete = complete
}

func (sv *stageView) clearCommits() {
	for i := range sv.tasks {
		sv.tasks[i].commit = nil
	}
}

// SubCounters returns a minus b.
func SubCounters(a, b Counters) Counters {
	a.RecordsIn -= b.RecordsIn
	a.RecordsOut -= b.RecordsOut
	a.ShuffleBytes -= b.ShuffleBytes
	a.ShuffleRaw -= b.ShuffleRaw
	a.Spills -= b.Spills
	a.SpillBytes -= b.SpillBytes
	return a
}
