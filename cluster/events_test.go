package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
)

// wordInput writes files of generated words and returns the directory,
// the number of lines and the number of distinct words.
func wordInput(t *testing.T, files, lines int) (string, int, int) {
	t.Helper()
	dir := t.TempDir()
	distinct := map[string]bool{}
	for f := range files {
		var b strings.Builder
		for l := range lines {
			for w := range 5 {
				word := fmt.Sprintf("w%d", (f*7919+l*31+w*17)%997)
				distinct[word] = true
				b.WriteString(word + " ")
			}
			b.WriteString("\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files * lines, len(distinct)
}

func eventKey(e *pb.JobEvent) string { return fmt.Sprintf("%d.%d", e.GetRaftIndex(), e.GetIndexSeq()) }

// TestWatchEventsResume disconnects a watcher mid-job and resumes it from
// the key of the last event it got: it receives every event exactly once,
// in order (the same events as a watch that replays the whole job), and the
// events agree with the job's status and with counts made here.
func TestWatchEventsResume(t *testing.T) {
	in, lines, distinct := wordInput(t, 4, 3000)
	e, _ := embedded(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prog := compile(t, wordcount.Job, []string{"--input", in, "--out", filepath.Join(t.TempDir(), "out")}, 4)
	id, err := e.Client.Submit(ctx, prog)
	if err != nil {
		t.Fatal(err)
	}

	// First connection: read up to the first commit, then hang up.
	var got []*pb.JobEvent
	sctx, hangUp := context.WithCancel(ctx)
	stream, err := e.Client.CC.WatchJobEvents(sctx, &pb.WatchJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("first watch: %v", err)
		}
		got = append(got, ev)
		if ev.GetStatus() != nil {
			t.Fatal("the job ended before the first watcher hung up")
		}
		if ev.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_TASK_COMMITTED {
			break
		}
	}
	hangUp()
	last := got[len(got)-1]
	// Second connection: resume after the last event received.
	stream, err = e.Client.CC.WatchJobEvents(ctx, &pb.WatchJobRequest{JobId: id,
		AfterRaftIndex: last.GetRaftIndex(), AfterIndexSeq: last.GetIndexSeq()})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("resumed watch: %v", err)
		}
		got = append(got, ev)
		if ev.GetStatus() != nil {
			break
		}
	}
	// A watch from the start, after the job ended, replays the same events.
	var all []*pb.JobEvent
	if _, err := e.Client.WatchEvents(ctx, id, func(ev *pb.JobEvent) { all = append(all, ev) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("the resumed watcher got %d events, a full replay has %d", len(got), len(all))
	}
	seen := map[string]bool{}
	for i := range got {
		k := eventKey(got[i])
		if k != eventKey(all[i]) || got[i].GetKind() != all[i].GetKind() {
			t.Fatalf("event %d: %s %s, the replay has %s %s", i, k, got[i].GetKind(), eventKey(all[i]), all[i].GetKind())
		}
		if seen[k] {
			t.Fatalf("event %s received twice", k)
		}
		seen[k] = true
		if i > 0 && (got[i].GetRaftIndex() < got[i-1].GetRaftIndex() ||
			(got[i].GetRaftIndex() == got[i-1].GetRaftIndex() && got[i].GetIndexSeq() <= got[i-1].GetIndexSeq())) {
			t.Fatalf("event %d (%s) out of order after %s", i, k, eventKey(got[i-1]))
		}
		if i > 0 && got[i].GetUnixMs() < got[i-1].GetUnixMs() {
			t.Fatalf("event %d goes back in time", i)
		}
	}

	// The events agree with the status and with the input.
	final := got[len(got)-1].GetStatus()
	if final.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("final state %s", final.GetState())
	}
	commits := map[int32]int32{}
	attempts := map[int32]int32{}
	records := map[int32][2]int64{}
	finished := map[int32]bool{}
	for _, ev := range got {
		s := ev.GetStage()
		switch ev.GetKind() {
		case pb.JobEventKind_JOB_EVENT_KIND_TASK_COMMITTED:
			commits[s]++
			r := records[s]
			records[s] = [2]int64{r[0] + ev.GetCounters().GetRecordsIn(), r[1] + ev.GetCounters().GetRecordsOut()}
		case pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_STARTED, pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_RETRIED,
			pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_SPECULATED:
			attempts[s]++
		case pb.JobEventKind_JOB_EVENT_KIND_STAGE_FINISHED:
			finished[s] = true
		}
	}
	for _, st := range final.GetStages() {
		s := st.GetStage()
		if commits[s] != st.GetTasks() || attempts[s] != st.GetAttempts() || !finished[s] {
			t.Errorf("stage %d: %d commits and %d attempts in the events (finished %v), status has %d tasks and %d attempts",
				s, commits[s], attempts[s], finished[s], st.GetTasks(), st.GetAttempts())
		}
		if r := records[s]; r[0] != st.GetRecordsIn() || r[1] != st.GetRecordsOut() {
			t.Errorf("stage %d: events count %d records in and %d out, status %d and %d", s, r[0], r[1], st.GetRecordsIn(), st.GetRecordsOut())
		}
		if st.GetStartedUnixMs() == 0 || st.GetEndedUnixMs() < st.GetStartedUnixMs() ||
			st.GetElapsedMs() != st.GetEndedUnixMs()-st.GetStartedUnixMs() {
			t.Errorf("stage %d: started %d ended %d elapsed %d", s, st.GetStartedUnixMs(), st.GetEndedUnixMs(), st.GetElapsedMs())
		}
	}
	stages := final.GetStages()
	if got := stages[0].GetRecordsIn(); got != int64(lines) {
		t.Errorf("the first superstep read %d records, the input has %d lines", got, lines)
	}
	if got := stages[len(stages)-1].GetRecordsOut(); got != int64(distinct) {
		t.Errorf("the last superstep wrote %d records, the input has %d distinct words", got, distinct)
	}
	for _, st := range stages[1:] {
		if st.GetRecordsIn() == 0 {
			t.Errorf("superstep %d read no records", st.GetStage()+1)
		}
	}
	if d, ok := cluster.JobDuration(final); !ok || d <= 0 {
		t.Errorf("job duration %v (known %v)", d, ok)
	}
}

// TestFailedJobSaysWhere checks that a job failed by a panicking task
// says, in one line, the superstep (counted from 1), the partition and the
// attempts, and then the task's own error, said once.
func TestFailedJobSaysWhere(t *testing.T) {
	e, _ := embedded(t, 2)
	prog := compile(t, panicky, []string{"--out", filepath.Join(t.TempDir(), "out")}, 2)
	_, err := e.Executor().Execute(context.Background(), prog)
	var je *cluster.JobError
	if !errors.As(err, &je) {
		t.Fatalf("want a JobError, got %v", err)
	}
	f := je.Status.GetFailure()
	if f == nil || f.GetStage() != 0 || f.GetAttempts() != 3 || !strings.HasPrefix(f.GetCause(), "panic: record four is cursed") {
		t.Fatalf("failure %+v", f)
	}
	lines := strings.Split(err.Error(), "\n")
	want := fmt.Sprintf("job test-panicky (%s) failed in superstep 1/1", prog.Spec.JobID)
	if !strings.HasPrefix(lines[0], want) || !strings.Contains(lines[0], "after 3 failed attempts") {
		t.Fatalf("first line %q, want it to start with %q and give the attempts", lines[0], want)
	}
	if !strings.HasPrefix(lines[1], "cause: panic: record four is cursed") {
		t.Fatalf("second line %q", lines[1])
	}
	if n := strings.Count(err.Error(), "record four is cursed"); n != 1 {
		t.Fatalf("the cause is said %d times:\n%s", n, err)
	}
}
