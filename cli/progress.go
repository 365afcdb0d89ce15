package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
)

// progressModes are the values --progress takes.
var progressModes = []string{"auto", "bar", "plain", "none"}

// progress shows one bar per superstep (tasks done of total, records,
// shuffle bytes, elapsed) on a terminal, or one line per finished superstep
// otherwise. It is fed either the in-process executor's events (event) or
// a cluster job's event stream (jobEvent); both are called serially.
type progress struct {
	w      io.Writer
	mode   string
	stages []stageInfo
	p      *mpb.Progress

	mu   sync.Mutex // guards st (read by the bars' decorators)
	st   map[int]*stageProgress
	last time.Time // of the newest event (cluster jobs)
}

// stageInfo is what the plan says of a stage.
type stageInfo struct {
	ops   []string
	tasks int
}

// stageProgress is what the events said of a stage so far.
type stageProgress struct {
	bar           *mpb.Bar
	start         time.Time
	done          int
	recIn, recOut int64
	shuffle       int64
	superstep     int // Pregel: the current vertex superstep
	pregel        bool
	retries       int
	finished      bool
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func stagesOfProgram(prog *bsp.Program) []stageInfo {
	var out []stageInfo
	for _, st := range prog.Spec.Stages {
		out = append(out, stageInfo{ops: st.Ops, tasks: st.Tasks})
	}
	return out
}

func stagesOfStatus(st *pb.JobStatus) []stageInfo {
	var out []stageInfo
	for _, s := range st.GetStages() {
		out = append(out, stageInfo{ops: s.GetOps(), tasks: int(s.GetTasks())})
	}
	return out
}

func newProgress(w io.Writer, mode string, stages []stageInfo) *progress {
	if mode == "auto" {
		mode = "plain"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	pr := &progress{w: w, mode: mode, stages: stages, st: map[int]*stageProgress{}}
	if mode == "bar" {
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithAutoRefresh())
	}
	return pr
}

func (pr *progress) ops(stage int) string {
	if stage < len(pr.stages) {
		return strings.Join(pr.stages[stage].ops, "→")
	}
	return ""
}

func (pr *progress) tasks(stage int) int {
	if stage < len(pr.stages) {
		return pr.stages[stage].tasks
	}
	return 0
}

// started begins a stage's bar.
func (pr *progress) started(stage int, at time.Time) *stageProgress {
	pr.mu.Lock()
	sp := pr.st[stage]
	if sp != nil {
		pr.mu.Unlock()
		return sp
	}
	sp = &stageProgress{start: at}
	pr.st[stage] = sp
	pr.mu.Unlock()
	if pr.p != nil {
		name := fmt.Sprintf("superstep %d/%d %s", stage+1, len(pr.stages), pr.ops(stage))
		sp.bar = pr.p.AddBar(int64(pr.tasks(stage)),
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d tasks", decor.WCSyncSpace)),
			mpb.AppendDecorators(
				decor.Any(func(decor.Statistics) string {
					pr.mu.Lock()
					defer pr.mu.Unlock()
					s := fmt.Sprintf("%d records in  %d out  %s", sp.recIn, sp.recOut, formatBytes(sp.shuffle))
					if sp.pregel {
						s += fmt.Sprintf("  vertex superstep %d", sp.superstep+1)
					}
					return s
				}, decor.WCSyncSpace),
				decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace)))
		if pr.tasks(stage) == 0 {
			sp.bar.SetTotal(0, true)
		}
	}
	return sp
}

// setDone moves a stage's count of committed tasks.
func (pr *progress) setDone(sp *stageProgress, done int) {
	pr.mu.Lock()
	sp.done = done
	pr.mu.Unlock()
	if sp.bar != nil {
		sp.bar.SetCurrent(int64(done))
	}
}

// finished reports a stage's end: a line in plain mode.
func (pr *progress) finished(stage int, sp *stageProgress, wall time.Duration) {
	if sp.finished {
		return
	}
	sp.finished = true
	if sp.bar != nil {
		sp.bar.SetTotal(int64(pr.tasks(stage)), true)
	}
	if pr.mode != "plain" {
		return
	}
	pr.mu.Lock()
	line := fmt.Sprintf("superstep %d/%d done: %d tasks", stage+1, len(pr.stages), pr.tasks(stage))
	if sp.pregel {
		line += fmt.Sprintf(", %d vertex supersteps", sp.superstep+1)
	}
	if sp.retries > 0 {
		line += fmt.Sprintf(", %d retries", sp.retries)
	}
	line += fmt.Sprintf(", %d records in, %d out, %s shuffled, %s  [%s]", sp.recIn, sp.recOut, formatBytes(sp.shuffle),
		wall.Round(time.Millisecond), pr.ops(stage))
	pr.mu.Unlock()
	fmt.Fprintln(pr.w, line)
}

// note prints a line about something that went wrong (plain mode), or
// above the bars.
func (pr *progress) note(format string, args ...any) {
	switch {
	case pr.mode == "plain":
		fmt.Fprintf(pr.w, format+"\n", args...)
	case pr.p != nil:
		msg := fmt.Sprintf(format, args...)
		pr.p.Write([]byte(msg + "\n"))
	}
}

// event is the in-process executor's progress callback.
func (pr *progress) event(ev local.Event) {
	switch {
	case ev.Task < 0 && !ev.Done:
		pr.started(ev.Stage, time.Now())
	case ev.Done:
		sp := pr.started(ev.Stage, time.Now())
		pr.finished(ev.Stage, sp, time.Since(sp.start))
	default:
		sp := pr.started(ev.Stage, time.Now())
		if ev.Report != nil {
			pr.mu.Lock()
			sp.recIn += ev.Report.RecordsIn
			sp.recOut += ev.Report.RecordsOut
			sp.shuffle += ev.Report.ShuffleBytes
			if ev.Report.Iter != nil {
				sp.pregel, sp.superstep = true, ev.Report.Iter.Superstep
			}
			pr.mu.Unlock()
		}
		pr.setDone(sp, min(sp.done+1, pr.tasks(ev.Stage)))
	}
}

// jobEvent is the cluster job event stream's callback.
func (pr *progress) jobEvent(e *pb.JobEvent) {
	at := time.UnixMilli(e.GetUnixMs())
	pr.last = at
	stage := int(e.GetStage())
	switch e.GetKind() {
	case pb.JobEventKind_JOB_EVENT_KIND_SNAPSHOT:
		// Resumed without the earlier events: take the totals from the status.
		st := e.GetStatus()
		if len(pr.stages) == 0 {
			pr.stages = stagesOfStatus(st)
		}
		for _, s := range st.GetStages() {
			if s.GetStartedUnixMs() == 0 {
				continue
			}
			i := int(s.GetStage())
			sp := pr.started(i, time.UnixMilli(s.GetStartedUnixMs()))
			pr.mu.Lock()
			sp.recIn, sp.recOut, sp.shuffle = s.GetRecordsIn(), s.GetRecordsOut(), s.GetShuffleBytes()
			sp.retries, sp.pregel, sp.superstep = int(s.GetRetries()), s.GetSupersteps() > 0, max(0, int(s.GetSupersteps())-1)
			pr.mu.Unlock()
			pr.setDone(sp, int(s.GetDone()))
			if s.GetEndedUnixMs() > 0 {
				pr.finished(i, sp, time.Duration(s.GetEndedUnixMs()-s.GetStartedUnixMs())*time.Millisecond)
			}
		}
	case pb.JobEventKind_JOB_EVENT_KIND_STAGE_STARTED:
		pr.started(stage, at)
	case pb.JobEventKind_JOB_EVENT_KIND_SUPERSTEP_STARTED:
		sp := pr.started(stage, at)
		pr.mu.Lock()
		sp.pregel, sp.superstep = true, int(e.GetSuperstep())
		pr.mu.Unlock()
		pr.setDone(sp, 0)
	case pb.JobEventKind_JOB_EVENT_KIND_TASK_COMMITTED, pb.JobEventKind_JOB_EVENT_KIND_TASK_UNCOMMITTED:
		sp := pr.started(stage, at)
		c, sign := e.GetCounters(), int64(1)
		if e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_TASK_UNCOMMITTED {
			sign = -1
			sp.finished = false
		}
		if a := e.GetAttempt(); sign > 0 && e.GetSpeculative() {
			pr.note("superstep %d/%d: partition %d: speculative attempt %d won", stage+1, len(pr.stages), a.GetTask(), a.GetAttempt()+1)
		}
		pr.mu.Lock()
		sp.recIn += sign * c.GetRecordsIn()
		sp.recOut += sign * c.GetRecordsOut()
		sp.shuffle += sign * c.GetShuffleBytes()
		pr.mu.Unlock()
		pr.setDone(sp, int(e.GetDone()))
	case pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_RETRIED, pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_SPECULATED:
		sp := pr.started(stage, at)
		pr.mu.Lock()
		sp.retries++
		pr.mu.Unlock()
		if a := e.GetAttempt(); e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_SPECULATED {
			pr.note("superstep %d/%d: partition %d is slow: speculative attempt %d on %s", stage+1, len(pr.stages), a.GetTask(),
				a.GetAttempt()+1, e.GetWorkerId())
		}
	case pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_FAILED:
		a := e.GetAttempt()
		what := "failed"
		if e.GetLost() {
			what = "was lost"
		}
		pr.note("superstep %d/%d: partition %d attempt %d %s: %s", stage+1, len(pr.stages), a.GetTask(), a.GetAttempt()+1,
			what, firstLine(e.GetMessage()))
	case pb.JobEventKind_JOB_EVENT_KIND_WORKER_LOST:
		pr.note("worker %s lost: %s", e.GetWorkerId(), e.GetMessage())
	case pb.JobEventKind_JOB_EVENT_KIND_ROLLBACK:
		pr.note("superstep %d/%d: rolled back to vertex superstep %d", stage+1, len(pr.stages), e.GetSuperstep()+1)
	case pb.JobEventKind_JOB_EVENT_KIND_STAGE_FINISHED:
		sp := pr.started(stage, at)
		if c := e.GetCounters(); c != nil {
			pr.mu.Lock()
			sp.recIn, sp.recOut, sp.shuffle = c.GetRecordsIn(), c.GetRecordsOut(), c.GetShuffleBytes()
			pr.mu.Unlock()
		}
		pr.setDone(sp, int(e.GetDone()))
		pr.finished(stage, sp, at.Sub(sp.start))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (pr *progress) wait() {
	if pr.p != nil {
		pr.mu.Lock()
		var bars []*mpb.Bar
		for _, sp := range pr.st {
			if sp.bar != nil {
				bars = append(bars, sp.bar)
			}
		}
		pr.mu.Unlock()
		for _, b := range bars {
			if !b.Completed() {
				b.Abort(false)
			}
		}
		pr.p.Wait()
	}
}
