package server

import (
	"crypto/tls"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/coordinator/dashboard"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/internal/telemetry"
)

// metrics are the coordinator's Prometheus metrics. Counters and
// histograms follow the job events (so every coordinator of a cluster
// counts the same log); gauges read the state when scraped. Labels carry no
// job, task or worker IDs.
type metrics struct {
	reg       *prometheus.Registry
	submitted prometheus.Counter
	jobDur    prometheus.Histogram
	stepDur   prometheus.Histogram
	attempts  *prometheus.CounterVec
	written   prometheus.Counter
	spills    prometheus.Counter
	spilled   prometheus.Counter
	records   *prometheus.CounterVec

	mu         sync.Mutex // guards the fields below
	submitTime map[coordinator.JobID]int64
	stageStart map[coordinator.JobID]map[int]int64 // a superstep's start
	pregel     map[coordinator.JobID]map[int]bool  // stages with vertex supersteps
}

// durationBuckets span a few milliseconds to hours.
var durationBuckets = prometheus.ExponentialBuckets(0.005, 4, 12)

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: telemetry.NewRegistry(),
		submitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_jobs_submitted_total",
			Help: "Jobs submitted."}),
		jobDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "superstep_job_duration_seconds",
			Help: "Time from a job's submission to its end, over ended jobs.", Buckets: durationBuckets}),
		stepDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "superstep_superstep_duration_seconds",
			Help: "Time from a superstep's first attempt to its barrier.", Buckets: durationBuckets}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "superstep_task_attempts_total",
			Help: "Task attempts started (result=started) and ended, by result (succeeded, failed, lost)."}, []string{"result"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_shuffle_written_bytes_total",
			Help: "Shuffle bytes (compressed) written by committed attempts."}),
		spills: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_spills_total",
			Help: "Spill files and early sorted runs written past a task's memory budget, by committed attempts."}),
		spilled: prometheus.NewCounter(prometheus.CounterOpts{Name: "superstep_spill_bytes_total",
			Help: "Bytes (on disk) of the spill files and early sorted runs of committed attempts."}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "superstep_records_total",
			Help: "Records read (direction=in) and written (direction=out) by committed attempts."}, []string{"direction"}),
		submitTime: map[coordinator.JobID]int64{}, stageStart: map[coordinator.JobID]map[int]int64{},
		pregel: map[coordinator.JobID]map[int]bool{},
	}
	for _, r := range []string{"started", "succeeded", "failed", "lost"} {
		m.attempts.WithLabelValues(r)
	}
	m.records.WithLabelValues("in")
	m.records.WithLabelValues("out")
	m.reg.MustRegister(m.submitted, m.jobDur, m.stepDur, m.attempts, m.written, m.spills, m.spilled, m.records, &stateCollector{s: s})
	return m
}

// observe follows the events of one applied command.
func (m *metrics) observe(evs []coordinator.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range evs {
		switch e.Kind {
		case coordinator.EventStateChanged:
			if _, ok := m.submitTime[e.Job]; !ok {
				m.submitTime[e.Job] = e.UnixMs
				m.submitted.Inc()
			}
			if e.Phase.Ended() {
				m.jobDur.Observe(float64(e.UnixMs-m.submitTime[e.Job]) / 1000)
				delete(m.stageStart, e.Job)
				delete(m.pregel, e.Job)
			}
		case coordinator.EventStageStarted, coordinator.EventSuperstepStarted:
			if e.Kind == coordinator.EventSuperstepStarted && e.Superstep == 0 {
				continue // the stage's start
			}
			if m.stageStart[e.Job] == nil {
				m.stageStart[e.Job] = map[int]int64{}
			}
			m.stageStart[e.Job][e.Stage] = e.UnixMs
		case coordinator.EventStageFinished, coordinator.EventSuperstepFinished:
			// A dataflow stage is one superstep; a Pregel stage's are its
			// vertex supersteps (its STAGE_FINISHED follows the last one).
			if e.Kind == coordinator.EventStageFinished && m.pregel[e.Job][e.Stage] {
				continue
			}
			if st, ok := m.stageStart[e.Job][e.Stage]; ok {
				m.stepDur.Observe(float64(e.UnixMs-st) / 1000)
			}
		case coordinator.EventAttemptStarted, coordinator.EventAttemptRetried, coordinator.EventAttemptSpeculated:
			m.attempts.WithLabelValues("started").Inc()
		case coordinator.EventAttemptSucceeded:
			m.attempts.WithLabelValues("succeeded").Inc()
		case coordinator.EventAttemptFailed:
			if e.Lost {
				m.attempts.WithLabelValues("lost").Inc()
			} else {
				m.attempts.WithLabelValues("failed").Inc()
			}
		case coordinator.EventTaskCommitted:
			m.written.Add(float64(e.Counters.ShuffleBytes))
			m.spills.Add(float64(e.Counters.Spills))
			m.spilled.Add(float64(e.Counters.SpillBytes))
			m.records.WithLabelValues("in").Add(float64(e.Counters.RecordsIn))
			m.records.WithLabelValues("out").Add(float64(e.Counters.RecordsOut))
		}
		if e.Kind == coordinator.EventSuperstepStarted {
			if m.pregel[e.Job] == nil {
				m.pregel[e.Job] = map[int]bool{}
			}
			m.pregel[e.Job][e.Stage] = true
		}
	}
}

// stateCollector reports the gauges read from the state and raft at
// scrape time.
type stateCollector struct{ s *Server }

var (
	jobsDesc    = prometheus.NewDesc("superstep_jobs", "Jobs by state.", []string{"state"}, nil)
	workersDesc = prometheus.NewDesc("superstep_workers", "Registered workers by state (alive: live and schedulable; excluded: live but excluded from scheduling after repeated failures; lost: declared dead, counted while they are listed).", []string{"state"}, nil)
	slotsDesc   = prometheus.NewDesc("superstep_slots", "Task slots of the live workers, by use (busy, free).", []string{"use"}, nil)
	leaderDesc  = prometheus.NewDesc("superstep_raft_leader", "1 when this coordinator is the raft leader, else 0.", nil, nil)
	termDesc    = prometheus.NewDesc("superstep_raft_term", "The raft term this coordinator is in.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, workersDesc, slotsDesc, leaderDesc, termDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	jobs := map[string]int{"pending": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
	var alive, excluded, lost, busy, free int
	var dead []coordinator.WorkerID
	c.s.node.Read(func(st *coordinator.State) {
		for _, j := range st.Jobs {
			jobs[stateLabel(j.Phase)]++
		}
		fs := st.FreeSlots()
		nowMs := time.Now().UnixMilli()
		for _, w := range st.Workers {
			if w.Dead {
				dead = append(dead, w.ID)
				continue
			}
			if w.Excluded(nowMs) {
				excluded++
			} else {
				alive++
			}
			free += fs[w.ID]
			busy += w.Slots - fs[w.ID]
		}
	})
	now := time.Now().UnixMilli()
	for _, w := range dead {
		// Counted while listed (LostWorkerRetention), as in ListWorkers.
		if at := c.s.events.lostAt(w); at == 0 || c.s.cfg.LostWorkerRetention <= 0 ||
			now-at <= c.s.cfg.LostWorkerRetention.Milliseconds() {
			lost++
		}
	}
	for state, n := range jobs {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(alive), "alive")
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(excluded), "excluded")
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(lost), "lost")
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(busy), "busy")
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(free), "free")
	leader := 0.0
	if c.s.node.IsLeader() {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, leader)
	ch <- prometheus.MustNewConstMetric(termDesc, prometheus.GaugeValue, float64(c.s.node.Term()))
}

func stateLabel(p coordinator.JobPhase) string {
	switch p {
	case coordinator.JobRunning, coordinator.JobCommitting:
		return "running"
	case coordinator.JobSucceeded, coordinator.JobFailed, coordinator.JobCancelled:
		return string(p)
	}
	return "pending"
}

// Handler serves the coordinator's HTTP endpoints: the dashboard (/,
// /jobs/ID, /workers, /coordinators, /api/) and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", telemetry.MetricsHandler(s.metrics.reg))
	dashboard.Handler(dashSource{s}, mux)
	return mux
}

// httpTLS is the TLS configuration of the dashboard and /metrics with the
// cluster's certificates t (nil: plaintext, on loopback or with
// --insecure). They show every job's arguments, paths and errors, so the
// peer must hold a certificate of the cluster CA, of any role: a
// Prometheus scraper uses a client certificate (superstep certs issue
// --role client), as does curl or a browser that imports one.
func httpTLS(t *security.TLS) *tls.Config {
	if t == nil {
		return nil
	}
	return t.ServerConfig(security.Roles...)
}

// HTTPURL is the root URL of the coordinator's HTTP endpoint (https:// with
// TLS), empty without one.
func (s *Server) HTTPURL() string {
	if s.http == nil {
		return ""
	}
	return s.http.URL()
}

// HTTPAddr is the address of the coordinator's HTTP endpoint, empty
// without one (Config.HTTP).
func (s *Server) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.Addr()
}
