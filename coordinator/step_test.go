package coordinator

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected output of the data-driven tests under testdata/")

// TestStep runs the scripts under testdata/step. A script is a sequence of
// blocks: one command line, a line "----", the expected output, and a
// blank line. Lines starting with # between blocks are comments. With
// -update the expected outputs are rewritten from what the commands print.
//
// Commands (times are milliseconds since the script's epoch):
//
//	worker ID SLOTS                     register a worker (fingerprint fp)
//	submit JOB MAPS REDUCES             submit twoStageSpec(MAPS, REDUCES)
//	step t=MS term=N [conn=W,W] [hb=W:ATT,ATT] [hbcount=W] [ok=ATT@W]
//	     [fail=ATT@W] [permanent=ATT@W] [lost=ATT@W] [undelivered=ATT]
//	     [ack=JOB@W] [committed=JOB] [commitfail=JOB] [cleaned=JOB]
//	     [leader=NAME]
//	                                    run Leader.Step, print its Ready and
//	                                    apply its proposals, printing each
//	                                    result; hb with nothing after the
//	                                    colon is a complete empty list,
//	                                    hbcount an old worker's count only;
//	                                    leader names the Leader (default a),
//	                                    so that two leaders can share a state
//	config [timeout-floor=MS] [timeout-multiplier=K] [exclude-after=N]
//	       [exclude-for=MS] [stepgap=MS] set the config of the Leaders made
//	                                    from now on (default: no timeouts,
//	                                    no exclusion, every step gap counts)
//	restart                             snapshot and restore the state, and
//	                                    start a fresh Leader (a coordinator
//	                                    restart with its data dir)
//	state                               print the jobs, attempts and workers
//
// ATT is JOB/STAGE/TASK/ATTEMPT. The leader's config: worker timeout 2 s,
// reconcile grace 1 s, delete retry 1 s, retention 10 s.
func TestStep(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "step", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

type stepScript struct {
	t      *testing.T
	s      *State
	l      map[string]*Leader // by name; "a" unless a step says leader=NAME
	epoch  time.Time
	config LeaderConfig
}

func runScript(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := LeaderConfig{WorkerTimeout: 2 * time.Second, ReconcileGrace: time.Second, DeleteRetry: time.Second,
		RetainJobs: 10 * time.Second}
	sc := &stepScript{t: t, s: NewState(), l: map[string]*Leader{}, epoch: time.UnixMilli(1_000_000), config: cfg}
	lines := strings.Split(string(b), "\n")
	var out strings.Builder
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command without a ---- line", path, i+1)
		}
		var want []string
		j := i + 2
		for ; j < len(lines) && lines[j] != ""; j++ {
			want = append(want, lines[j])
		}
		got := sc.run(line)
		if !*update && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", path, i+1, line, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		out.WriteString(line + "\n----\n")
		for _, g := range got {
			out.WriteString(g + "\n")
		}
		if j < len(lines) {
			out.WriteString("\n")
		}
		i = j
	}
	checkInvariants(t, sc.s)
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (sc *stepScript) run(line string) []string {
	f := strings.Fields(line)
	switch f[0] {
	case "worker":
		slots, _ := strconv.Atoi(f[2])
		return []string{applied(sc.s.Apply(RegisterWorker{Worker: WorkerID(f[1]), Addr: "addr-" + f[1], Fingerprint: fp, Slots: slots}))}
	case "submit":
		maps, _ := strconv.Atoi(f[2])
		reduces, _ := strconv.Atoi(f[3])
		return []string{applied(sc.s.Apply(SubmitJob{Stamp: Stamp{Time: sc.epoch.UnixMilli()}, Job: JobID(f[1]), Name: "job",
			Spec: twoStageSpec(maps, reduces), Fingerprint: fp}))}
	case "restart":
		b, err := sc.s.Snapshot()
		if err != nil {
			sc.t.Fatal(err)
		}
		if sc.s, err = RestoreState(b); err != nil {
			sc.t.Fatal(err)
		}
		clear(sc.l)
		return []string{"restarted"}
	case "state":
		return describeState(sc.s)
	case "config":
		for _, a := range f[1:] {
			k, v, _ := strings.Cut(a, "=")
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				sc.t.Fatalf("config %s: %v", a, err)
			}
			ms := time.Duration(n) * time.Millisecond
			switch k {
			case "timeout-floor":
				sc.config.Timeouts.Floor = ms
			case "timeout-multiplier":
				sc.config.Timeouts.Multiplier = n
			case "exclude-after":
				sc.config.Exclusion.Failures = int(n)
			case "exclude-for":
				sc.config.Exclusion.For = ms
			case "stepgap":
				sc.config.StepGap = ms
			default:
				sc.t.Fatalf("unknown config %q", a)
			}
		}
		return []string{"ok"}
	case "step":
		return sc.step(f[1:])
	}
	sc.t.Fatalf("unknown command %q", line)
	return nil
}

func (sc *stepScript) step(args []string) []string {
	var o Observations
	name := "a"
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "leader":
			name = v
		case "t":
			ms, _ := strconv.Atoi(v)
			o.Now = sc.epoch.Add(time.Duration(ms) * time.Millisecond)
		case "term":
			n, _ := strconv.Atoi(v)
			o.Term = uint64(n)
		case "conn":
			for _, w := range strings.Split(v, ",") {
				o.Connected = append(o.Connected, WorkerID(w))
			}
		case "hb", "hbcount":
			w, list, _ := strings.Cut(v, ":")
			hb := Heartbeat{Worker: WorkerID(w), Complete: k == "hb"}
			for _, s := range strings.Split(list, ",") {
				if s != "" {
					hb.Running = append(hb.Running, sc.attempt(s))
				}
			}
			o.Heartbeats = append(o.Heartbeats, hb)
		case "ok", "fail", "permanent", "lost":
			as, w, _ := strings.Cut(v, "@")
			at := sc.attempt(as)
			var c Command
			switch k {
			case "ok":
				c = TaskSucceeded{AttemptID: at, Worker: WorkerID(w), Report: report(sc.s.Job(at.Job), at)}
			case "fail":
				c = TaskFailed{AttemptID: at, Worker: WorkerID(w), Error: "user error", ErrorKind: KindUser}
			case "permanent":
				c = TaskFailed{AttemptID: at, Worker: WorkerID(w), Error: "in.txt:3: bad record", ErrorKind: KindPermanent,
					At: Location{Path: "in.txt", Line: 3}}
			case "lost":
				c = TaskFailed{AttemptID: at, Worker: WorkerID(w), Error: "fetch failed", ErrorKind: KindLost}
			}
			o.Results = append(o.Results, c)
		case "undelivered":
			o.Undelivered = append(o.Undelivered, sc.attempt(v))
		case "ack":
			j, w, _ := strings.Cut(v, "@")
			o.DeleteAcks = append(o.DeleteAcks, DeleteAck{Job: JobID(j), Worker: WorkerID(w)})
		case "committed":
			o.Committed = append(o.Committed, CommitOutcome{Job: JobID(v)})
		case "commitfail":
			o.Committed = append(o.Committed, CommitOutcome{Job: JobID(v), Err: "output appeared while the job ran"})
		case "cleaned":
			o.Cleaned = append(o.Cleaned, JobID(v))
		default:
			sc.t.Fatalf("unknown step argument %q", a)
		}
	}
	l := sc.l[name]
	if l == nil {
		l = NewLeader(sc.config)
		sc.l[name] = l
	}
	rd := l.Step(sc.s, o)
	var out []string
	if rd.Stalled > 0 {
		out = append(out, fmt.Sprintf("stalled %dms", rd.Stalled.Milliseconds()))
	}
	for _, c := range rd.Propose {
		out = append(out, "propose "+describeCommand(c)+": "+applied(sc.s.Apply(c)))
	}
	for _, m := range rd.Send {
		switch m.Kind {
		case SendDelete:
			out = append(out, fmt.Sprintf("send %s %s %s term=%d", m.Kind, m.Worker, m.Job, m.Term))
		default:
			out = append(out, fmt.Sprintf("send %s %s %s term=%d", m.Kind, m.Worker, attemptString(m.Attempt), m.Term))
		}
	}
	for _, j := range rd.Commit {
		out = append(out, "commit "+string(j))
	}
	for _, j := range rd.Cleanup {
		out = append(out, "cleanup "+string(j))
	}
	if len(out) == 0 {
		out = []string{"(nothing)"}
	}
	return out
}

func (sc *stepScript) attempt(s string) AttemptID {
	p := strings.Split(s, "/")
	if len(p) != 4 {
		sc.t.Fatalf("bad attempt %q", s)
	}
	n := make([]int, 3)
	for i := range n {
		n[i], _ = strconv.Atoi(p[i+1])
	}
	return attempt(JobID(p[0]), n[0], n[1], n[2])
}

func attemptString(a AttemptID) string {
	return fmt.Sprintf("%s/%d/%d/%d", a.Job, a.Stage, a.Task, a.Attempt)
}

func applied(r Result) string {
	switch {
	case r.Err != nil:
		return "rejected: " + r.Err.Error()
	case r.Ignored:
		return "ignored"
	}
	s := "ok"
	for _, p := range r.Phases {
		s += fmt.Sprintf(" (job %s %s)", p.Job, p.Phase)
	}
	return s
}

func describeCommand(c Command) string {
	switch c := c.(type) {
	case AssignTask:
		return fmt.Sprintf("assign_task %s %s term=%d", attemptString(c.AttemptID), c.Worker, c.Term)
	case TaskSucceeded:
		return fmt.Sprintf("task_succeeded %s %s", attemptString(c.AttemptID), c.Worker)
	case TaskFailed:
		kind := string(c.kind())
		if c.Timeout {
			kind += " timeout"
		}
		return fmt.Sprintf("task_failed %s %s %s %q", attemptString(c.AttemptID), c.Worker, kind, c.Error)
	case ExcludeWorker:
		return fmt.Sprintf("exclude_worker %s until=%d %q", c.Worker, c.UntilMs-1_000_000, c.Reason)
	case MapOutputLost:
		return fmt.Sprintf("map_output_lost %s", attemptString(c.AttemptID))
	case WorkerDead:
		return fmt.Sprintf("worker_dead %s %q", c.Worker, c.Reason)
	case FinishJob:
		return fmt.Sprintf("finish_job %s term=%d %q", c.Job, c.Term, c.Error)
	case JobFilesDeleted:
		return fmt.Sprintf("job_files_deleted %s %s", c.Job, c.Worker)
	case JobCleaned:
		return "job_cleaned " + string(c.Job)
	case ForgetJob:
		return "forget_job " + string(c.Job)
	}
	return c.Kind()
}

func describeState(s *State) []string {
	var out []string
	for _, w := range s.Workers {
		line := fmt.Sprintf("worker %s slots=%d running=%d dead=%v", w.ID, w.Slots, w.Running, w.Dead)
		if w.Failures > 0 {
			line += fmt.Sprintf(" failures=%d", w.Failures)
		}
		if w.ExcludedUntilMs > 0 {
			line += fmt.Sprintf(" excluded-until=%d", w.ExcludedUntilMs-1_000_000)
		}
		out = append(out, line)
	}
	for _, j := range s.Jobs {
		line := fmt.Sprintf("job %s %s stage=%d", j.ID, j.Phase, j.CurrentStage())
		if j.ErrorKind != "" {
			line += fmt.Sprintf(" kind=%s", j.ErrorKind)
		}
		if j.Cleaned {
			line += " cleaned"
		}
		if len(j.Deleted) > 0 {
			line += fmt.Sprintf(" deleted=%v", j.Deleted)
		}
		out = append(out, line)
		for si, st := range j.Stages {
			for ti, t := range st.Tasks {
				var as []string
				for _, a := range t.Attempts {
					st := string(a.State)
					if a.TimedOut {
						st = "timedout"
					}
					as = append(as, fmt.Sprintf("%s@%s", st, a.Worker))
				}
				c := ""
				if t.Committed != nil {
					c = fmt.Sprintf(" committed=%d", t.Committed.Attempt)
				}
				out = append(out, fmt.Sprintf("  %d/%d [%s]%s", si, ti, strings.Join(as, " "), c))
			}
		}
	}
	if len(out) == 0 {
		out = []string{"(empty)"}
	}
	return out
}

// TestStepGapCountsOnlyRunningTime checks what the stall script relies on:
// without a StepGap, a leader that did not run for 5 s declares every
// worker dead on waking; with one, none.
func TestStepGapCountsOnlyRunningTime(t *testing.T) {
	for _, gap := range []time.Duration{0, 500 * time.Millisecond} {
		s := NewState()
		for _, w := range []WorkerID{"w1", "w2"} {
			if r := s.Apply(RegisterWorker{Worker: w, Addr: "addr-" + string(w), Fingerprint: fp, Slots: 1}); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		l := NewLeader(LeaderConfig{WorkerTimeout: 2 * time.Second, ReconcileGrace: time.Second, DeleteRetry: time.Second, StepGap: gap})
		t0 := time.UnixMilli(1_000_000)
		o := Observations{Now: t0, Term: 1, Connected: []WorkerID{"w1", "w2"}}
		l.Step(s, o)
		o.Now = t0.Add(5 * time.Second)
		rd := l.Step(s, o)
		dead := 0
		for _, c := range rd.Propose {
			if _, ok := c.(WorkerDead); ok {
				dead++
			}
		}
		want := 2
		if gap > 0 {
			want = 0
			if rd.Stalled != 5*time.Second {
				t.Errorf("stalled %v, want 5s", rd.Stalled)
			}
		}
		if dead != want {
			t.Errorf("step gap %v: %d workers declared dead, want %d", gap, dead, want)
		}
	}
}

// TestStallDoesNotAgeAttempts checks that a stall of the leader does not
// count toward a running attempt's age: an attempt 1 s old before a 10 s
// stall is 1 s old after it, for timeouts and speculation alike.
func TestStallDoesNotAgeAttempts(t *testing.T) {
	l := NewLeader(LeaderConfig{WorkerTimeout: 2 * time.Second, StepGap: 500 * time.Millisecond})
	a := AttemptID{TaskID: TaskID{Job: "j"}, Attempt: 0}
	done := AttemptID{TaskID: TaskID{Job: "j", Task: 1}, Attempt: 0}
	t0 := time.UnixMilli(1_000_000)
	l.clock.Started(a, t0)
	l.clock.Started(done, t0)
	l.clock.Ended(done, t0.Add(300*time.Millisecond))
	if gap := l.stalled(t0.Add(time.Second)); gap != 0 {
		t.Fatalf("first step: gap %v", gap)
	}
	if gap := l.stalled(t0.Add(11 * time.Second)); gap != 10*time.Second {
		t.Fatalf("gap %v, want 10s", gap)
	}
	tm := l.clock.Snapshot()
	if age := t0.Add(11 * time.Second).Sub(tm.Start[a]); age != time.Second {
		t.Errorf("running attempt's age after the stall %v, want 1s", age)
	}
	if tm.Took[done] != 300*time.Millisecond {
		t.Errorf("an ended attempt's duration changed: %v", tm.Took[done])
	}
}
