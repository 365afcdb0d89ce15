package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
)

// progress shows one bar per superstep (tasks done of total, records,
// shuffle bytes, elapsed) on a terminal, or one line per finished superstep
// otherwise. Its event method is called serially by the executor.
type progress struct {
	w      io.Writer
	mode   string
	stages int
	p      *mpb.Progress
	bars   map[int]*mpb.Bar
	start  map[int]time.Time
	recs   map[int]int64
	bytes  map[int]int64
	// finished marks stages reported done (cluster jobs)
	finished map[int]bool
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, mode string, prog *bsp.Program) *progress {
	if mode == "auto" {
		mode = "plain"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	pr := &progress{w: w, mode: mode, stages: len(prog.Spec.Stages), bars: map[int]*mpb.Bar{},
		start: map[int]time.Time{}, recs: map[int]int64{}, bytes: map[int]int64{}, finished: map[int]bool{}}
	if mode == "bar" {
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithAutoRefresh())
	}
	return pr
}

func (pr *progress) event(ev local.Event) {
	switch {
	case ev.Task < 0 && !ev.Done:
		pr.start[ev.Stage] = time.Now()
		if pr.p != nil {
			name := fmt.Sprintf("superstep %d/%d %s", ev.Stage+1, pr.stages, strings.Join(ev.Ops, "→"))
			stage := ev.Stage
			pr.bars[ev.Stage] = pr.p.AddBar(int64(ev.Tasks),
				mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d tasks", decor.WCSyncSpace)),
				mpb.AppendDecorators(
					decor.Any(func(decor.Statistics) string {
						return fmt.Sprintf("%d records  %s", pr.recs[stage], formatBytes(pr.bytes[stage]))
					}, decor.WCSyncSpace),
					decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace)))
			if ev.Tasks == 0 {
				pr.bars[ev.Stage].SetTotal(0, true)
			}
		}
	case ev.Done:
		if pr.mode == "plain" {
			fmt.Fprintf(pr.w, "superstep %d/%d done: %d tasks, %d records, %s shuffled, %s  [%s]\n", ev.Stage+1, pr.stages,
				ev.Tasks, pr.recs[ev.Stage], formatBytes(pr.bytes[ev.Stage]),
				time.Since(pr.start[ev.Stage]).Round(time.Millisecond), strings.Join(ev.Ops, "→"))
		}
	default:
		if ev.Report != nil {
			pr.recs[ev.Stage] += ev.Report.RecordsIn
			pr.bytes[ev.Stage] += ev.Report.ShuffleBytes
		}
		if b := pr.bars[ev.Stage]; b != nil {
			b.Increment()
		}
	}
}

func (pr *progress) wait() {
	if pr.p != nil {
		for _, b := range pr.bars {
			if !b.Completed() {
				b.Abort(false)
			}
		}
		pr.p.Wait()
	}
}

// status shows a cluster job's status as the same bars or lines as the
// in-process executor's events.
func (pr *progress) status(st *pb.JobStatus) {
	for _, s := range st.GetStages() {
		stage := int(s.GetStage())
		if _, started := pr.start[stage]; !started && (s.GetDone() > 0 || s.GetRunning() > 0 || stage <= int(st.GetCurrentStage())) {
			pr.event(local.Event{Stage: stage, Tasks: int(s.GetTasks()), Task: -1, Ops: s.GetOps()})
		}
		if _, started := pr.start[stage]; !started {
			continue
		}
		pr.recs[stage], pr.bytes[stage] = s.GetRecordsIn(), s.GetShuffleBytes()
		if b := pr.bars[stage]; b != nil {
			b.SetCurrent(int64(s.GetDone()))
		}
		if s.GetDone() == s.GetTasks() && !pr.finished[stage] {
			pr.finished[stage] = true
			pr.event(local.Event{Stage: stage, Tasks: int(s.GetTasks()), Task: -1, Done: true, Ops: s.GetOps()})
		}
	}
}
