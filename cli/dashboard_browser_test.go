package cli_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/spf13/pflag"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/graph"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/worker"
)

func compileFor(t *testing.T, job *bsp.Job, flags []string, partitions int) *bsp.Program {
	t.Helper()
	fs := job.FlagSet()
	fs.AddFlagSet(pflag.NewFlagSet("", pflag.ContinueOnError))
	if err := fs.Parse(flags); err != nil {
		t.Fatal(err)
	}
	args := bsp.EncodeArgs(fs)
	plan, err := job.Build(args, partitions)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := bsp.Compile(context.Background(), plan, bsp.CompileOptions{JobID: fmt.Sprintf("%s-%d", job.Name, time.Now().UnixNano()),
		Job: job.Name, Args: args, CheckpointDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// TestDashboardInBrowser runs wordcount and a PageRank on an embedded
// cluster whose coordinator serves the dashboard, and reads the pages in
// headless Chromium: the jobs list shows both jobs, a job page has one
// timeline bar per task attempt and the PageRank chart one point per
// vertex superstep, and the workers page turns a stopped worker to lost by
// itself (live updates). Screenshots go to the test's temp dir, or under
// $SUPERSTEP_TEST_ARTIFACTS to keep them.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	browser := findChromium()
	if browser == "" {
		t.Skip("no chromium, chromium-browser or google-chrome on PATH: install chromium to run the browser test")
	}
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory = 2, 64<<20
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	emb, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: t.TempDir(), HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	base := "http://" + emb.Coordinator.HTTPAddr()

	in := t.TempDir()
	var text strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&text, "w%d w%d w%d\n", i%101, i%37, i%7)
	}
	os.WriteFile(filepath.Join(in, "in.txt"), []byte(text.String()), 0o644)
	wcProg := compileFor(t, wordcount.Job, []string{"--input", in, "--out", filepath.Join(t.TempDir(), "wc")}, 4)
	prProg := compileFor(t, graph.PageRankJob, []string{"--edges", filepath.Join("..", "examples", "graph", "testdata", "sqlite-links.tsv"),
		"--out", filepath.Join(t.TempDir(), "pr")}, 4)
	for _, p := range []*bsp.Program{wcProg, prProg} {
		if _, err := emb.Executor().Execute(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	status := func(id string) *pb.JobStatus {
		st, err := emb.Client.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	shots := t.TempDir()
	if dir := os.Getenv("SUPERSTEP_TEST_ARTIFACTS"); dir != "" { // kept after the test
		shots = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancel()
	bctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	defer cancelTimeout()
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", path)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	texts := func(sel string) []string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.textContent.trim())`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	open := func(path, ready string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}

	// The jobs list shows both jobs, succeeded.
	open("/", "table.jobs")
	shot("jobs")
	if names := texts("tr.job td:nth-child(2)"); !slices.Equal(names, []string{"pagerank", "wordcount"}) {
		t.Fatalf("jobs list: %q", names)
	}
	if states := texts("tr.job td.state"); !slices.Equal(states, []string{"succeeded", "succeeded"}) {
		t.Fatalf("job states: %q", states)
	}

	// One timeline bar per attempt, for each job; one chart point per
	// vertex superstep for the PageRank.
	for _, p := range []*bsp.Program{wcProg, prProg} {
		id := p.Spec.JobID
		st := status(id)
		var attempts int32
		for _, s := range st.GetStages() {
			attempts += s.GetAttempts()
		}
		open("/jobs/"+id, "svg.timeline")
		shot("job-" + p.Spec.Job)
		if got := count("svg.timeline rect.attempt"); got != int(attempts) || got == 0 {
			t.Errorf("%s: %d timeline bars, the job made %d attempts", p.Spec.Job, got, attempts)
		}
		if got, want := count("table.stages tbody tr"), len(st.GetStages()); got != want {
			t.Errorf("%s: %d rows in the supersteps table, want %d", p.Spec.Job, got, want)
		}
		if p == prProg {
			steps := st.GetStages()[len(st.GetStages())-1].GetSupersteps()
			if steps < 2 {
				t.Fatalf("PageRank ran %d vertex supersteps", steps)
			}
			for _, series := range []string{"active", "messages"} {
				if got := count("svg.chart circle.point." + series); got != int(steps) {
					t.Errorf("PageRank chart: %d %s points for %d vertex supersteps", got, series, steps)
				}
			}
		}
	}

	// A job with one straggler: its copy is a speculative bar, marked as
	// the winner, and the speculative attempts table says so.
	sp := runStraggler(t, emb)
	open("/jobs/"+sp.Spec.JobID, "svg.timeline")
	shot("job-speculation")
	if got := count("svg.timeline rect.attempt.speculative"); got != 1 {
		t.Errorf("speculation: %d speculative bars, want 1", got)
	}
	if got := count("svg.timeline rect.attempt.speculative.won"); got != 1 {
		t.Errorf("speculation: %d speculative bars marked as the winner, want 1", got)
	}
	if got := count("svg.timeline rect.attempt.won"); got != 1 {
		t.Errorf("speculation: %d bars marked as winners, want 1", got)
	}
	if got := count(".legend .key.speculative") + count(".legend .key.won"); got != 2 {
		t.Errorf("the timeline's legend lacks the speculative or the winner key")
	}
	if got := texts("table.speculated td.winner"); !slices.Equal(got, []string{"the copy (attempt 2)"}) {
		t.Errorf("speculative attempts table: winners %q", got)
	}

	// The workers page lists both workers; a stopped worker turns to lost
	// without a reload.
	open("/workers", "table.workers")
	if got := count("tr.worker.alive"); got != 2 {
		t.Fatalf("%d alive workers listed, want 2", got)
	}
	// The jobs' reducers fetched from the other worker: some worker has
	// served shuffle bytes (shown once its heartbeat reported them; the
	// page refreshes itself).
	served, err := chromedp.Run(bctx, chromedp.Poll[bool](`[...document.querySelectorAll("tr.worker td.served")].some(e => e.textContent.trim() !== "0 B")`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !served {
		t.Fatalf("no worker shows shuffle bytes served (%v): %q", err, texts("tr.worker td.served"))
	}
	stop, cancelStop := context.WithTimeout(ctx, 10*time.Second)
	emb.Workers[0].Stop(stop)
	cancelStop()
	lostID := emb.Workers[0].ID()
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(`tr.worker.lost`))); err != nil {
		t.Fatalf("the stopped worker never showed as lost: %v", err)
	}
	shot("workers")
	if got := texts("tr.worker.lost th"); !slices.Equal(got, []string{lostID}) {
		t.Fatalf("lost workers %q, want %s", got, lostID)
	}
	if got := count("tr.worker.alive"); got != 1 {
		t.Fatalf("%d alive workers after stopping one", got)
	}

	open("/coordinators", "table.coordinators")
	if got := texts("table.coordinators td:nth-child(2)"); !slices.Equal(got, []string{"leader"}) {
		t.Fatalf("coordinator roles %q", got)
	}
}
