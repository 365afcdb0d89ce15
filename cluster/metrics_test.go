package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/testwait"
	"github.com/superstep/superstep/worker"
)

// scrape reads and parses a /metrics page.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the value of the family's metric with the given label (name,
// value), or with no labels; it fails when there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, label ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.GetMetric() {
		if len(label) == 2 {
			ok := false
			for _, l := range m.GetLabel() {
				ok = ok || (l.GetName() == label[0] && l.GetValue() == label[1])
			}
			if !ok {
				continue
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no metric %s%v", name, label)
	return 0
}

// startMetricsCluster starts an embedded cluster of two workers (slots and
// memory each, logs discarded) whose coordinator and workers serve /metrics
// on loopback. The caller closes it.
func startMetricsCluster(ctx context.Context, t *testing.T, slots int, memory int64) *cluster.Embedded {
	t.Helper()
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory, wc.HTTP = slots, memory, "127.0.0.1:0"
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: t.TempDir(), HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestMetricsAfterAJob runs one wordcount on an embedded cluster whose
// coordinator and workers serve /metrics, and checks the scraped values
// against the job's status.
func TestMetricsAfterAJob(t *testing.T) {
	in, _, _ := wordInput(t, 3, 2000)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const memory = 8 << 20 // each worker's budget, checked on its /metrics
	e := startMetricsCluster(ctx, t, 2, memory)
	defer e.Close()
	prog := compile(t, wordcount.Job, []string{"--input", in, "--out", filepath.Join(t.TempDir(), "out")}, 4)
	if _, err := e.Executor().Execute(ctx, prog); err != nil {
		t.Fatal(err)
	}
	st, err := e.Client.CC.GetJob(ctx, &pb.GetJobRequest{JobId: prog.Spec.JobID})
	if err != nil {
		t.Fatal(err)
	}
	var tasks, attempts int32
	var shuffle, records int64
	for _, s := range st.GetStages() {
		tasks += s.GetTasks()
		attempts += s.GetAttempts()
		shuffle += s.GetShuffleBytes()
		records += s.GetRecordsIn()
	}
	m := scrape(t, e.Coordinator.HTTPAddr())
	checks := []struct {
		name  string
		label []string
		want  float64
	}{
		{"superstep_jobs_submitted_total", nil, 1},
		{"superstep_jobs", []string{"state", "succeeded"}, 1},
		{"superstep_jobs", []string{"state", "running"}, 0},
		{"superstep_job_duration_seconds", nil, 1},                                  // one observation
		{"superstep_superstep_duration_seconds", nil, float64(len(st.GetStages()))}, // one per superstep
		{"superstep_task_attempts_total", []string{"result", "started"}, float64(attempts)},
		{"superstep_shuffle_written_bytes_total", nil, float64(shuffle)},
		{"superstep_records_total", []string{"direction", "in"}, float64(records)},
		{"superstep_workers", []string{"state", "alive"}, 2},
		{"superstep_raft_leader", nil, 1},
	}
	for _, c := range checks {
		if got := value(t, m, c.name, c.label...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.label, got, c.want)
		}
	}
	if got := value(t, m, "superstep_task_attempts_total", "result", "succeeded"); got < float64(tasks) {
		t.Errorf("%v attempts succeeded for %d tasks", got, tasks)
	}
	if value(t, m, "superstep_raft_term") < 1 {
		t.Error("raft term < 1")
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if m[name] == nil {
			t.Errorf("no %s (Go runtime and process collectors)", name)
		}
	}
	// The workers' own endpoints: together they wrote what was committed
	// (no attempt failed here), and each reports its budget.
	var written, succeeded float64
	for _, w := range e.Workers {
		wm := scrape(t, w.HTTPAddr())
		written += value(t, wm, "superstep_shuffle_written_bytes_total")
		succeeded += value(t, wm, "superstep_worker_task_attempts_total", "result", "succeeded")
		if got := value(t, wm, "superstep_worker_memory_budget_bytes"); got != float64(memory) {
			t.Errorf("worker memory budget %v, want %d", got, memory)
		}
		if got := value(t, wm, "superstep_worker_tasks_running"); got != 0 {
			t.Errorf("%v tasks running after the job", got)
		}
		value(t, wm, "superstep_shuffle_fetched_bytes_total")
	}
	if written != float64(shuffle) || succeeded != float64(attempts) {
		t.Errorf("workers wrote %v shuffle bytes in %v attempts; the job's status says %d in %d", written, succeeded, shuffle, attempts)
	}
	// What the workers served is what the others fetched; the coordinator
	// lists it per worker (as of the workers' heartbeats).
	var fetched, served float64
	for _, w := range e.Workers {
		wm := scrape(t, w.HTTPAddr())
		fetched += value(t, wm, "superstep_shuffle_fetched_bytes_total")
		served += value(t, wm, "superstep_shuffle_served_bytes_total")
	}
	if fetched == 0 || served != fetched {
		t.Errorf("workers fetched %v shuffle bytes from each other and served %v; want equal and > 0", fetched, served)
	}
	var listed int64
	testwait.For(t, 10*time.Second, "the workers' heartbeats to report the bytes they served", func() bool {
		ws, err := e.Client.CC.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		listed = 0
		for _, w := range ws.GetWorkers() {
			listed += w.GetBytesServed()
		}
		return float64(listed) == served
	})
	// Every metric the issue lists, with its type and label names, on the
	// coordinator (c) or on every worker (w).
	wms := map[string]map[string]*dto.MetricFamily{}
	for _, w := range e.Workers {
		wms[w.ID()] = scrape(t, w.HTTPAddr())
	}
	issueMetrics := []struct {
		name, where string
		typ         dto.MetricType
		labels      string
	}{
		{"superstep_jobs_submitted_total", "c", dto.MetricType_COUNTER, ""},
		{"superstep_jobs", "c", dto.MetricType_GAUGE, "state"},
		{"superstep_job_duration_seconds", "c", dto.MetricType_HISTOGRAM, ""},
		{"superstep_superstep_duration_seconds", "c", dto.MetricType_HISTOGRAM, ""},
		{"superstep_task_attempts_total", "c", dto.MetricType_COUNTER, "result"},
		{"superstep_workers", "c", dto.MetricType_GAUGE, "state"},
		{"superstep_raft_leader", "c", dto.MetricType_GAUGE, ""},
		{"superstep_raft_term", "c", dto.MetricType_GAUGE, ""},
		{"superstep_worker_tasks_running", "w", dto.MetricType_GAUGE, ""},
		{"superstep_shuffle_written_bytes_total", "c", dto.MetricType_COUNTER, ""},
		{"superstep_shuffle_written_bytes_total", "w", dto.MetricType_COUNTER, ""},
		{"superstep_shuffle_fetched_bytes_total", "w", dto.MetricType_COUNTER, ""},
		{"superstep_spill_bytes_total", "c", dto.MetricType_COUNTER, ""},
		{"superstep_spill_bytes_total", "w", dto.MetricType_COUNTER, ""},
		{"superstep_worker_memory_budget_bytes", "w", dto.MetricType_GAUGE, ""},
	}
	for _, l := range issueMetrics {
		fams := []map[string]*dto.MetricFamily{m}
		if l.where == "w" {
			fams = slices.Collect(maps.Values(wms))
		}
		for _, fs := range fams {
			f := fs[l.name]
			if f == nil {
				t.Errorf("no %s on the %s", l.name, map[string]string{"c": "coordinator", "w": "workers"}[l.where])
				continue
			}
			if f.GetType() != l.typ {
				t.Errorf("%s is a %v, want a %v", l.name, f.GetType(), l.typ)
			}
			for _, mm := range f.GetMetric() {
				var names []string
				for _, lp := range mm.GetLabel() {
					names = append(names, lp.GetName())
				}
				if strings.Join(names, ",") != l.labels {
					t.Errorf("%s has labels %q, want %q", l.name, names, l.labels)
				}
			}
		}
	}
	// Each worker's endpoint has the Go runtime and process collectors too,
	// and no label with an ID.
	for id, wm := range wms {
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
			if wm[name] == nil {
				t.Errorf("worker %s: no %s (Go runtime and process collectors)", id, name)
			}
		}
		for name, f := range wm {
			for _, mm := range f.GetMetric() {
				for _, l := range mm.GetLabel() {
					if v := l.GetValue(); v == prog.Spec.JobID || v == id || len(v) > 16 {
						t.Errorf("worker %s: %s has label %s=%q", id, name, l.GetName(), v)
					}
				}
			}
		}
	}
	// The Grafana dashboard charts only metrics that exist.
	dash, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "superstep-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	wm := scrape(t, e.Workers[0].HTTPAddr())
	for _, name := range regexp.MustCompile(`\b(superstep|process)_[a-z_]+`).FindAllString(string(dash), -1) {
		base := strings.TrimSuffix(name, "_bucket")
		if m[base] == nil && wm[base] == nil {
			t.Errorf("the Grafana dashboard uses %s, which no endpoint serves", name)
		}
	}
	// No label carries an ID.
	for name, f := range m {
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetValue() == prog.Spec.JobID || len(l.GetValue()) > 16 {
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestSpillBytesMetrics runs a word count of many distinct words with a
// memory budget far below its data, so that map tasks spill sorted runs
// early and reducers merge through intermediate files; the spill bytes in
// the job's status, its events and the coordinator's and the workers'
// /metrics must agree, and the output must still be the right count.
func TestSpillBytesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1 MB memory budget over a few MB of words")
	}
	dir := t.TempDir()
	want := map[string]int{}
	for f := range 2 {
		var b strings.Builder
		for l := range 20000 {
			for w := range 5 {
				word := fmt.Sprintf("spill%06d", (f*104729+l*7919+w*31)%120000)
				want[word]++
				b.WriteString(word + " ")
			}
			b.WriteString("\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := startMetricsCluster(ctx, t, 1, 1<<20)
	defer e.Close()
	out := filepath.Join(t.TempDir(), "out")
	prog := compile(t, wordcount.Job, []string{"--input", dir, "--out", out}, 2)
	res, err := e.Executor().Execute(ctx, prog)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(concat(t, out))), "\n") {
		w, n, ok := strings.Cut(line, "\t")
		c, err := strconv.Atoi(n)
		if !ok || err != nil {
			t.Fatalf("output line %q", line)
		}
		got[w] = c
	}
	if !maps.Equal(got, want) {
		t.Fatalf("the spilling word count is wrong: %d words, want %d", len(got), len(want))
	}
	st, err := e.Client.CC.GetJob(ctx, &pb.GetJobRequest{JobId: prog.Spec.JobID})
	if err != nil {
		t.Fatal(err)
	}
	var spillBytes, spills, attempts int64
	for i, s := range st.GetStages() {
		spillBytes += s.GetSpillBytes()
		spills += s.GetSpills()
		attempts += int64(s.GetAttempts())
		if r := res.Stages[i]; r.SpillBytes != s.GetSpillBytes() || int64(r.Spills) != s.GetSpills() {
			t.Errorf("superstep %d: the executor's result says %d spills of %d bytes, the status %d of %d", i+1,
				r.Spills, r.SpillBytes, s.GetSpills(), s.GetSpillBytes())
		}
		if s.GetSpills() > 0 && s.GetSpillBytes() <= 0 || s.GetSpills() == 0 && s.GetSpillBytes() != 0 {
			t.Errorf("superstep %d: %d spills of %d bytes", i+1, s.GetSpills(), s.GetSpillBytes())
		}
	}
	// The map superstep spills early runs: they are part of its shuffle
	// files, so they are at most the shuffle bytes.
	if m := st.GetStages()[0]; m.GetSpillBytes() <= 0 || m.GetSpillBytes() > m.GetShuffleBytes() {
		t.Errorf("map superstep: %d spill bytes of %d shuffle bytes, want 0 < spill <= shuffle", m.GetSpillBytes(), m.GetShuffleBytes())
	}
	for _, s := range st.GetStages() {
		t.Logf("superstep %d: %d spills, %d spill bytes, %d shuffle bytes", s.GetStage()+1, s.GetSpills(), s.GetSpillBytes(), s.GetShuffleBytes())
	}
	if spills == 0 || spillBytes == 0 {
		t.Fatalf("the job did not spill (%d spills, %d bytes) with a 1 MB budget", spills, spillBytes)
	}
	if int64(st.GetStages()[0].GetAttempts()) != int64(st.GetStages()[0].GetTasks()) {
		t.Fatalf("retried map attempts: the workers' counts would include the failed ones")
	}
	m := scrape(t, e.Coordinator.HTTPAddr())
	if got := value(t, m, "superstep_spill_bytes_total"); got != float64(spillBytes) {
		t.Errorf("coordinator superstep_spill_bytes_total = %v, the stage statistics say %d", got, spillBytes)
	}
	if got := value(t, m, "superstep_spills_total"); got != float64(spills) {
		t.Errorf("coordinator superstep_spills_total = %v, the stage statistics say %d", got, spills)
	}
	var workerBytes, succeeded float64
	for _, w := range e.Workers {
		wm := scrape(t, w.HTTPAddr())
		workerBytes += value(t, wm, "superstep_spill_bytes_total")
		succeeded += value(t, wm, "superstep_worker_task_attempts_total", "result", "succeeded")
		if f := wm["superstep_spill_bytes_total"]; f.GetType() != dto.MetricType_COUNTER {
			t.Errorf("worker superstep_spill_bytes_total is a %v, want a counter", f.GetType())
		}
	}
	if succeeded == float64(attempts) && workerBytes != float64(spillBytes) {
		t.Errorf("workers' superstep_spill_bytes_total sum to %v, the stage statistics say %d", workerBytes, spillBytes)
	}
	// The events carry the same figure: the STAGE_FINISHED totals.
	var evBytes int64
	if _, err := e.Client.WatchEvents(ctx, prog.Spec.JobID, func(ev *pb.JobEvent) {
		if ev.GetKind() == pb.JobEventKind_JOB_EVENT_KIND_STAGE_FINISHED {
			evBytes += ev.GetCounters().GetSpillBytes()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if evBytes != spillBytes {
		t.Errorf("STAGE_FINISHED events say %d spill bytes, the status %d", evBytes, spillBytes)
	}
}
