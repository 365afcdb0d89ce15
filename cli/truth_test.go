package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	_ "github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/testwait"
	"github.com/superstep/superstep/worker"
)

func runCLI(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	root := NewRoot(&o, &e)
	root.SetArgs(args)
	err = root.ExecuteContext(ctx)
	return o.String(), e.String(), err
}

func writeWords(t *testing.T, lines int) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for l := range lines {
		fmt.Fprintf(&b, "w%d w%d w%d\n", l%101, l%37, l%1009)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFlagsThatMakeNoSense checks that each is refused as a usage error
// whose message names the flag.
func TestFlagsThatMakeNoSense(t *testing.T) {
	in := writeWords(t, 10)
	out := filepath.Join(t.TempDir(), "out")
	base := []string{"wordcount", "--input", in, "--out", out}
	cases := []struct {
		args []string
		flag string
	}{
		{append([]string{"run"}, append(base, "--partitions", "0")...), "--partitions"},
		{append([]string{"run"}, append(base, "--progress", "fancy")...), "--progress"},
		{append([]string{"run"}, append(base, "--workers", "-1")...), "--workers"},
		{append([]string{"run"}, append(base, "--memory", "0")...), "--memory"},
		{append([]string{"run"}, append(base, "--detach")...), "--detach"},
		{append([]string{"submit"}, append(base, "--memory", "1GB")...), "--memory"},
		{append([]string{"submit"}, append(base, "--workers", "3")...), "--workers"},
		{[]string{"status", "x", "--watch", "--progress", "fancy"}, "--progress"},
		{append([]string{"run"}, append(base, "--workers", "0", "--http", "127.0.0.1:0")...), "--http"},
		{append([]string{"run"}, append(base, "--log-format", "xml")...), "--log-format"},
		{[]string{"coordinator", "--log-format", "xml"}, "--log-format"},
		{[]string{"worker", "--data-dir", t.TempDir(), "--log-level", "loud"}, "--log-level"},
	}
	for _, c := range cases {
		_, _, err := runCLI(context.Background(), c.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%v: error %v; want a usage error naming %s", c.args, err, c.flag)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused command wrote output: %v", err)
	}
}

// TestHelpShowsOneMemoryDefault: the --memory line of `run JOB --help`
// gives its default once, in words.
func TestHelpShowsOneMemoryDefault(t *testing.T) {
	stdout, _, err := runCLI(context.Background(), "run", "wordcount", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "--memory") {
			if n := strings.Count(line, "default"); n != 1 || regexp.MustCompile(`\d{6,}`).MatchString(line) {
				t.Fatalf("--memory help: %q", line)
			}
			return
		}
	}
	t.Fatalf("no --memory in the help:\n%s", stdout)
}

// TestSummaryTable runs wordcount on the embedded cluster: every superstep
// after the first reads records, the table shows retries and not a raw
// attempt count, and the input's line count is the first superstep's
// records in.
func TestSummaryTable(t *testing.T) {
	in := writeWords(t, 2000)
	_, stderr, err := runCLI(context.Background(), "run", "wordcount", "--input", in, "--out", filepath.Join(t.TempDir(), "o"),
		"--workers", "2", "--slots", "2", "--progress", "plain")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rows [][]string
	header := false
	for _, line := range strings.Split(stderr, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "superstep" && strings.Contains(line, "retries") {
			header = true
			if strings.Contains(line, "attempts") {
				t.Fatalf("summary header still shows attempts: %q", line)
			}
			continue
		}
		if header && len(f) >= 10 && regexp.MustCompile(`^\d+$`).MatchString(f[0]) {
			rows = append(rows, f)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("want 4 superstep rows:\n%s", stderr)
	}
	// columns: superstep tasks steps retries in out shuffle(2) raw(2) spills time
	if rows[0][4] != "2000" {
		t.Errorf("superstep 1 read %s records, the input has 2000 lines", rows[0][4])
	}
	for _, r := range rows {
		if r[3] != "0" || r[4] == "0" {
			t.Errorf("superstep %s: retries %s, records in %s", r[0], r[3], r[4])
		}
	}
}

// TestClusterCommandsTellTheTruth drives jobs, status and workers against
// an embedded cluster, and Ctrl-C on submit.
func TestClusterCommandsTellTheTruth(t *testing.T) {
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory = 2, 32<<20
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	emb, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	addr := emb.Coordinator.Addr()
	in := writeWords(t, 500)
	_, stderr, err := runCLI(ctx, "submit", "wordcount", "--input", in, "--out", filepath.Join(t.TempDir(), "o"),
		"--coordinator", addr, "--progress", "plain")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !regexp.MustCompile(`job \S+ succeeded in \d+(\.\d+)?m?s\n`).MatchString(stderr) {
		t.Fatalf("submit's last line lacks a sane duration:\n%s", stderr)
	}
	stdout, _, err := runCLI(ctx, "jobs", "--coordinator", addr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "STARTED") || !strings.Contains(lines[0], "DURATION") {
		t.Fatalf("jobs:\n%s", stdout)
	}
	f := strings.Fields(lines[1])
	if f[2] != "succeeded" || f[3] != "4/4" || f[4] == "-" || strings.HasPrefix(f[5], "-") {
		t.Fatalf("jobs row %q: want succeeded 4/4 with a start time and a duration", lines[1])
	}
	id := f[0]
	stdout, _, err = runCLI(ctx, "status", id, "--json", "--coordinator", addr)
	if err != nil || !strings.Contains(stdout, `"state":  "JOB_STATE_SUCCEEDED"`) && !strings.Contains(stdout, `"state": "JOB_STATE_SUCCEEDED"`) {
		t.Fatalf("status --json (%v):\n%s", err, stdout)
	}

	// Ctrl-C on submit: the job keeps running, and the message says how to
	// cancel it.
	big := writeWords(t, 150000)
	sctx, interrupt := context.WithCancel(ctx)
	done := make(chan error, 1)
	var serr string
	go func() {
		var e error
		_, serr, e = runCLI(sctx, "submit", "wordcount", "--input", big, "--out", filepath.Join(t.TempDir(), "o2"),
			"--coordinator", addr, "--progress", "none")
		done <- e
	}()
	var second string
	waitUntil(t, 30*time.Second, "the second job is submitted", func() bool {
		resp, err := emb.Client.CC.ListJobs(ctx, &pb.ListJobsRequest{})
		if err == nil && len(resp.GetJobs()) == 2 {
			second = resp.GetJobs()[1].GetJobId()
			return true
		}
		return false
	})
	interrupt()
	err = <-done
	var ie interruptedError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "keeps running") || !strings.Contains(err.Error(), "superstep cancel "+second) {
		t.Fatalf("interrupted submit: %v\n%s", err, serr)
	}
	st, err := emb.Client.CC.GetJob(ctx, &pb.GetJobRequest{JobId: second})
	if err != nil || st.GetState() == pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("after Ctrl-C the job is %s (%v); want it to keep running", st.GetState(), err)
	}

	// A stopped worker is listed as lost.
	sctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	emb.Workers[0].Stop(sctx2)
	cancel()
	lost := emb.Workers[0].ID()
	waitUntil(t, 20*time.Second, "the stopped worker is listed as lost", func() bool {
		stdout, _, _ := runCLI(ctx, "workers", "--coordinator", addr)
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(line, lost+" ") && strings.Contains(line, " lost ") {
				return true
			}
		}
		return false
	})
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, within, what, cond)
}
