package worker

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	pb "github.com/superstep/superstep/api/superstep/v1"

	"github.com/superstep/superstep/internal/telemetry"
)

// metrics are a worker's Prometheus metrics (served on Config.HTTP).
// Labels carry no job, task or worker IDs.
type metrics struct {
	reg      *prometheus.Registry
	attempts *prometheus.CounterVec // by result: succeeded, failed, lost
	written  prometheus.Counter     // shuffle bytes written by attempts that succeeded
	fetched  prometheus.Counter     // shuffle bytes fetched from other workers
	served   prometheus.Counter     // shuffle bytes served to other workers
	spills   prometheus.Counter     // spill files and early sorted runs written past the memory budget
	spilled  prometheus.Counter     // their bytes
	// fetchStalls counts the fetches that received nothing within the
	// fetch timeout (Config.FetchTimeout) and reported their input lost.
	fetchStalls prometheus.Counter
}

func newMetrics(w *Worker) *metrics {
	m := &metrics{reg: telemetry.NewRegistry(),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "superstep_worker_task_attempts_total",
			Help: "Task attempts this worker ran, by result (succeeded, failed, lost)."}, []string{"result"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_shuffle_written_bytes_total",
			Help: "Shuffle bytes (compressed, on disk) written by this worker's successful attempts."}),
		fetched: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_shuffle_fetched_bytes_total",
			Help: "Shuffle bytes fetched from other workers."}),
		served: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_shuffle_served_bytes_total",
			Help: "Shuffle bytes served to other workers."}),
		spills: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_spills_total",
			Help: "Spill files and sorted runs written early because a task's buffer reached its memory budget, by successful attempts."}),
		spilled: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_spill_bytes_total",
			Help: "Bytes (on disk) of the spill files and early sorted runs of this worker's successful attempts."}),
		fetchStalls: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_shuffle_fetch_stalls_total",
			Help: "Shuffle fetches that received nothing within the fetch timeout; each reported its map output lost."}),
	}
	for _, r := range []string{"succeeded", "failed", "lost"} {
		m.attempts.WithLabelValues(r)
	}
	m.reg.MustRegister(m.attempts, m.written, m.fetched, m.served, m.spills, m.spilled, m.fetchStalls,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "superstep_worker_tasks_running",
			Help: "Task attempts running on this worker now."}, func() float64 {
			w.mu.Lock()
			defer w.mu.Unlock()
			return float64(len(w.running))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "superstep_worker_slots",
			Help: "Tasks this worker runs at once."}, func() float64 { return float64(w.cfg.Slots) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "superstep_worker_memory_budget_bytes",
			Help: "Memory budget for task buffers, in bytes."}, func() float64 { return float64(w.cfg.Memory) }))
	return m
}

// Handler serves the worker's /metrics.
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", telemetry.MetricsHandler(w.metrics.reg))
	return mux
}

// HTTPURL is the root URL of the worker's metrics endpoint (https:// with
// TLS), empty without one.
func (w *Worker) HTTPURL() string {
	if w.http == nil {
		return ""
	}
	return w.http.URL()
}

// HTTPAddr is the address of the worker's metrics endpoint, empty without
// one (Config.HTTP).
func (w *Worker) HTTPAddr() string {
	if w.http == nil {
		return ""
	}
	return w.http.Addr()
}

// ended counts an attempt's result.
func (m *metrics) ended(res *pb.TaskResult) {
	switch {
	case res.GetOk():
		m.attempts.WithLabelValues("succeeded").Inc()
		m.written.Add(float64(res.GetCounters().GetShuffleBytes()))
		m.spills.Add(float64(res.GetCounters().GetSpills()))
		m.spilled.Add(float64(res.GetCounters().GetSpillBytes()))
	case res.GetLost():
		m.attempts.WithLabelValues("lost").Inc()
	default:
		m.attempts.WithLabelValues("failed").Inc()
	}
}
