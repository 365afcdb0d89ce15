package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cli"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/worker"
)

// The straggler job copies text lines; the first attempt to read a line
// "slow TOKEN" stalls until the test that wrote it releases it (or a
// minute passes), and every later one passes at once. On an embedded
// cluster (one process) that makes exactly one straggling attempt, which
// the coordinator's speculation copies to another worker, and the copy
// wins.
var stragglers sync.Map // token -> *straggler

type straggler struct {
	slowed  atomic.Bool
	release chan struct{}
	once    sync.Once
}

func (s *straggler) free() { s.once.Do(func() { close(s.release) }) }

var stragglerJob = bsp.Register("test-straggler", func(p *bsp.Plan, a bsp.Args) error {
	lines := bsp.Map(bsp.Repartition(bsp.TextLines(p, a.Strings("input")...), 10), func(l string) string {
		if tok, ok := strings.CutPrefix(l, "slow "); ok {
			if v, ok := stragglers.Load(tok); ok && v.(*straggler).slowed.CompareAndSwap(false, true) {
				select {
				case <-v.(*straggler).release:
				case <-time.After(time.Minute):
				}
			}
		}
		return l
	})
	bsp.WriteText(lines, a.String("out"))
	return nil
}, bsp.WithDescription("test only: copies lines; the first attempt to read a line slow TOKEN stalls"),
	bsp.WithFlags(func(fs *pflag.FlagSet) {
		fs.StringSlice("input", nil, "input")
		fs.String("out", "", "output directory")
	}))

// runStraggler runs the straggler job over 1000 lines, the second superstep in 10 tasks, on
// emb (default speculation: 90% of the tasks done, 3x the median, 1 s)
// and checks that its output has every input line.
func runStraggler(t *testing.T, emb *cluster.Embedded) *bsp.Program {
	t.Helper()
	in := t.TempDir()
	tok := fmt.Sprint(time.Now().UnixNano())
	s := &straggler{release: make(chan struct{})}
	stragglers.Store(tok, s)
	defer s.free() // the race is decided once the job has ended
	var lines []string
	for i := range 1000 {
		l := fmt.Sprintf("line %04d", i)
		if i == 555 {
			l = "slow " + tok
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(filepath.Join(in, "in.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	prog := compileFor(t, stragglerJob, []string{"--input", in, "--out", out}, 10)
	if len(prog.Spec.Stages) != 2 || prog.Spec.Stages[1].Tasks != 10 {
		t.Fatalf("the straggler job should be two supersteps, the second of 10 tasks: %+v", prog.Spec.Stages)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if _, err := emb.Executor().Execute(ctx, prog); err != nil {
		t.Fatal(err)
	}
	if !s.slowed.Load() {
		t.Fatal("no attempt read the slow line")
	}
	var got []string
	parts, _ := filepath.Glob(filepath.Join(out, "part-*"))
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 {
			got = append(got, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		}
	}
	slices.Sort(got)
	slices.Sort(lines)
	if !slices.Equal(got, lines) {
		t.Fatalf("the output has %d lines, not the input's %d", len(got), len(lines))
	}
	return prog
}

// TestStatusShowsSpeculation runs a job with one straggler and checks that
// `superstep status` (text and --json) and the job's events show the
// speculative attempt and that it won.
func TestStatusShowsSpeculation(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for speculation's 1 s minimum")
	}
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory = 2, 32<<20
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	emb, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	prog := runStraggler(t, emb)
	id := prog.Spec.JobID

	// The JSON: one speculative copy; the copy won.
	var o, e bytes.Buffer
	root := cli.NewRoot(&o, &e)
	root.SetArgs([]string{"status", id, "--json", "--coordinator", emb.Coordinator.Addr()})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("status --json: %v\n%s", err, e.String())
	}
	var sts []struct {
		Stages []struct {
			Speculative int
			Speculated  []struct {
				Task, Original, Copy, Winner int
				CopyWon                      bool   `json:"copy_won"`
				CopyWorkerID                 string `json:"copy_worker_id"`
			}
		}
	}
	if err := json.Unmarshal(o.Bytes(), &sts); err != nil || len(sts) != 1 {
		t.Fatalf("status --json (%v): want one job:\n%s", err, o.String())
	}
	st := sts[0]
	if len(st.Stages) != 2 || st.Stages[0].Speculative != 0 || st.Stages[1].Speculative != 1 || len(st.Stages[1].Speculated) != 1 {
		t.Fatalf("status --json: want one speculative attempt, in the second superstep:\n%s", o.String())
	}
	sp := st.Stages[1].Speculated[0]
	if sp.Original != 0 || sp.Copy != 1 || sp.Winner != 1 || !sp.CopyWon || sp.CopyWorkerID == "" {
		t.Fatalf("status --json: speculated %+v, want attempt 1 copying attempt 0 and winning", sp)
	}

	// The text: the SPECULATIVE column and a line saying who won.
	o.Reset()
	root = cli.NewRoot(&o, &e)
	root.SetArgs([]string{"status", id, "--coordinator", emb.Coordinator.Addr()})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("status: %v\n%s", err, e.String())
	}
	text := o.String()
	want := fmt.Sprintf("superstep 2 partition %d: speculative attempt 2 (copy of attempt 1) on %s: the copy won", sp.Task, sp.CopyWorkerID)
	if !strings.Contains(text, "SPECULATIVE") || !strings.Contains(text, want) {
		t.Fatalf("status lacks the speculation (want %q):\n%s", want, text)
	}

	// The events: the copy is ATTEMPT_SPECULATED and speculative, and the
	// commit of its task is marked speculative (the copy won).
	var speculated, committed, losers int
	if _, err := emb.Client.WatchEvents(ctx, id, func(ev *pb.JobEvent) {
		a := ev.GetAttempt()
		if ev.GetStage() != 1 || a.GetTask() != int32(sp.Task) {
			return
		}
		switch ev.GetKind() {
		case pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_SPECULATED:
			if ev.GetSpeculative() && a.GetAttempt() == 1 {
				speculated++
			}
		case pb.JobEventKind_JOB_EVENT_KIND_TASK_COMMITTED:
			if ev.GetSpeculative() && a.GetAttempt() == 1 {
				committed++
			}
		case pb.JobEventKind_JOB_EVENT_KIND_ATTEMPT_FAILED:
			if a.GetAttempt() == 0 && ev.GetLost() && !ev.GetSpeculative() {
				losers++
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if speculated != 1 || committed != 1 || losers != 1 {
		t.Fatalf("events of task %d: %d speculative starts, %d speculative commits, %d superseded originals; want 1 each",
			sp.Task, speculated, committed, losers)
	}
}
