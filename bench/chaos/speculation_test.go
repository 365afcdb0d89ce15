package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/internal/faults"
)

// TestSpeculationBeatsSlowTask runs wordcount on a coordinator and three
// worker processes built with the fault hook. The first attempt of task 2
// of the map stage is delayed by 25 s wherever it runs. With speculation,
// a copy (attempt 1) starts on another worker, wins, and the job ends long
// before the delay with the reference's bytes; the events name the copy
// and the winner. With --speculation=false the same job waits for the slow
// attempt, which shows that the test can fail.
func TestSpeculationBeatsSlowTask(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process speculation test; runs without -short")
	}
	const delay = 25 * time.Second
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "superstep-speculation-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("logs kept under %s (run-N/logs)", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	bin, err := buildBinary(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "text")
	if err := writeText(text, 15); err != nil {
		t.Fatal(err)
	}
	w := workload{"wordcount", []string{"--input", text, "--partitions", "6"}}
	ref := filepath.Join(dir, "ref")
	if err := reference(ctx, bin, w, ref); err != nil {
		t.Fatal(err)
	}
	rule := faults.AnyRule()
	rule.Stage, rule.Task, rule.Attempt, rule.Delay = 0, 2, 0, delay

	type outcome struct {
		took, stage0 time.Duration
		events       []*pb.JobEvent
	}
	run := func(t *testing.T, speculation bool, slow bool, n int) outcome {
		t.Helper()
		sub := filepath.Join(dir, fmt.Sprintf("run-%d", n))
		c := startProcs(t, bin, sub, speculation)
		if slow {
			for _, p := range c.rules {
				if err := os.WriteFile(p, []byte(faults.FormatRules([]faults.Rule{rule})), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		out := filepath.Join(sub, "out")
		args := append([]string{"submit", "wordcount", "--coordinator", c.addr, "--detach", "--out", out}, w.flags...)
		b, err := runOutput(ctx, bin, args...)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(b)
		h := &harness{cc: c.cc}
		st, err := h.wait(ctx, id, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if st.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %s: %s: %s", id, st.GetState(), st.GetError())
		}
		if d := compareDirs(out, ref); d != "" {
			t.Fatalf("output differs from the in-process run: %s", d)
		}
		o := outcome{took: time.Duration(st.GetEndedUnixMs()-st.GetSubmittedUnixMs()) * time.Millisecond,
			stage0: time.Duration(st.GetStages()[0].GetElapsedMs()) * time.Millisecond}
		o.events = events(t, c.cc, id)
		return o
	}

	base := run(t, true, false, 0)
	spec := run(t, true, true, 1)
	t.Logf("without a slow task: job %s, map stage %s; with one and speculation: job %s, map stage %s (%.2fx)",
		base.took, base.stage0, spec.took, spec.stage0, float64(spec.stage0)/float64(max(base.stage0, time.Millisecond)))
	var copied, won bool
	for _, e := range spec.events {
		a := e.GetAttempt()
		if e.GetStage() != 0 || a.GetTask() != 2 {
			continue
		}
		switch e.GetKind() {
		case pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_SPECULATED:
			copied = a.GetAttempt() == 1
		case pb.JobEventKind_JOB_EVENT_KIND_TASK_COMMITTED:
			won = a.GetAttempt() == 1
		}
	}
	if !copied || !won {
		t.Fatalf("events of stage 0 task 2: speculative copy %v, copy committed %v; want both", copied, won)
	}
	if spec.took >= delay {
		t.Fatalf("with speculation the job took %s, not less than the slow attempt's %s", spec.took, delay)
	}

	off := run(t, false, true, 2)
	t.Logf("with the slow task and --speculation=false: job %s, map stage %s", off.took, off.stage0)
	if off.stage0 < delay {
		t.Fatalf("without speculation the map stage took %s, less than the slow attempt's delay %s: the fault did not act", off.stage0, delay)
	}
	for _, e := range off.events {
		if e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_SPECULATED {
			t.Fatalf("--speculation=false speculated: %v", e)
		}
	}
}

type procs struct {
	addr  string
	rules []string
	cc    pb.CoordinatorClient
}

// startProcs starts a coordinator and three workers (two slots each) under
// dir; they are stopped when the test ends.
func startProcs(t *testing.T, bin, dir string, speculation bool) procs {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	coord := &process{name: "coordinator", bin: bin, prefix: "coordinator listening on ",
		args: []string{"coordinator", "--listen", addr, "--speculation=" + strconv.FormatBool(speculation)},
		log:  filepath.Join(dir, "logs", "coordinator.log")}
	if err := coord.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coord.stop(30 * time.Second) })
	p := procs{addr: addr}
	for i := range 3 {
		rules := filepath.Join(dir, fmt.Sprintf("faults-%d.rules", i))
		wp := &process{name: fmt.Sprintf("worker-%d", i), bin: bin, prefix: "worker ",
			args: []string{"worker", "--coordinator", addr, "--listen", "127.0.0.1:0", "--data-dir",
				filepath.Join(dir, fmt.Sprintf("worker-%d", i)), "--slots", "2", "--memory", "32MB"},
			env: []string{faults.EnvFile + "=" + rules}, log: filepath.Join(dir, "logs", fmt.Sprintf("worker-%d.log", i))}
		if err := wp.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { wp.stop(30 * time.Second) })
		p.rules = append(p.rules, rules)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p.cc = pb.NewCoordinatorClient(conn)
	return p
}

// events replays an ended job's events.
func events(t *testing.T, cc pb.CoordinatorClient, id string) []*pb.JobEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := cc.WatchJobEvents(ctx, &pb.WatchJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []*pb.JobEvent
	for {
		e, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("events of job %s: no end within 20 s (%d events)", id, len(out))
			}
			return out // the stream ends after the job's last event
		}
		out = append(out, e)
		if e.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_STATE_CHANGED && e.GetState() == pb.JobState_JOB_STATE_SUCCEEDED {
			return out
		}
	}
}
