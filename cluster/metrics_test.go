package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
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

// TestMetricsAfterAJob runs one wordcount on an embedded cluster whose
// coordinator and workers serve /metrics, and checks the scraped values
// against the job's status.
func TestMetricsAfterAJob(t *testing.T) {
	in, _, _ := wordInput(t, 3, 2000)
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory, wc.HTTP = 2, 8<<20, "127.0.0.1:0"
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: t.TempDir(), HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
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
		if got := value(t, wm, "superstep_worker_memory_budget_bytes"); got != float64(wc.Memory) {
			t.Errorf("worker memory budget %v, want %d", got, wc.Memory)
		}
		if got := value(t, wm, "superstep_worker_tasks_running"); got != 0 {
			t.Errorf("%v tasks running after the job", got)
		}
		value(t, wm, "superstep_shuffle_fetched_bytes_total")
	}
	if written != float64(shuffle) || succeeded != float64(attempts) {
		t.Errorf("workers wrote %v shuffle bytes in %v attempts; the job's status says %d in %d", written, succeeded, shuffle, attempts)
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
