// Package dashboard is the coordinator's web dashboard: the jobs, a job's
// plan, superstep timeline, per-superstep tables and Pregel charts, the
// workers and the coordinators, as HTML pages with real tables and a JSON
// API under /api/. The pages poll /api/version and refresh their content
// when the coordinator's state moved. Everything is rendered here (SVG
// included) from what a Source gives; the assets are embedded, nothing
// comes from a CDN.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/internal/display"
)

// Source is what the dashboard shows; the coordinator server implements
// it. Calls come from HTTP handlers, concurrently; the returned values are
// the caller's.
type Source interface {
	// Jobs returns every job's status, oldest first.
	Jobs() []*pb.JobStatus
	// Job returns one job's status.
	Job(id string) (*pb.JobStatus, bool)
	// JobEvents returns the job's events, oldest first.
	JobEvents(id string) []coordinator.Event
	// Workers returns the listed workers (lost ones for a while).
	Workers() []*pb.WorkerStatus
	// Coordinators describes this coordinator and its raft group.
	Coordinators(ctx context.Context) Coordinators
	// Version changes whenever the state does (the last applied raft index).
	Version() uint64
}

// Coordinators is the raft group as one coordinator sees it.
type Coordinators struct {
	Self, Leader  string
	Role          string
	Term, Applied uint64
	Members       []Member
	Error         string `json:",omitempty"`
}

// Member is one coordinator of the raft group.
type Member struct {
	ID, Raft, GRPC, Role string
	LastContactMs        int64 // ago; -1 never
}

//go:embed assets
var assets embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"state":    display.StateName,
	"bytes":    display.Bytes,
	"ms":       formatMs,
	"plus1":    func(i int32) int32 { return i + 1 },
	"join":     strings.Join,
	"clock":    clock,
	"duration": jobDuration,
	"i32":      func(i int) int32 { return int32(i) },
	"sub":      func(a, b int32) int32 { return max(0, a-b) },
	"wstate":   workerState,
	"wrap":     func(now int64, d any) page { return page{Now: now, Data: d} },
}).ParseFS(assets, "assets/*.html"))

// Handler serves the dashboard's pages, assets and API on mux.
func Handler(src Source, mux *http.ServeMux) {
	h := &handler{src: src}
	mux.Handle("GET /assets/", http.FileServerFS(assets))
	mux.HandleFunc("GET /{$}", h.jobs)
	mux.HandleFunc("GET /jobs/{id}", h.job)
	mux.HandleFunc("GET /workers", h.workers)
	mux.HandleFunc("GET /coordinators", h.coordinators)
	mux.HandleFunc("GET /api/version", h.apiVersion)
	mux.HandleFunc("GET /api/jobs", h.apiJobs)
	mux.HandleFunc("GET /api/jobs/{id}", h.apiJob)
	mux.HandleFunc("GET /api/workers", h.apiWorkers)
	mux.HandleFunc("GET /api/coordinators", h.apiCoordinators)
}

type handler struct{ src Source }

// page is what every page template gets.
type page struct {
	Title, Nav string
	Now        int64
	Data       any
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, name, title, nav string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	tmpl := "layout"
	if r.URL.Query().Get("fragment") == "1" {
		tmpl = name // the live part only, for the refresh
	}
	p := page{Title: title, Nav: nav, Now: time.Now().UnixMilli(), Data: data}
	if tmpl == "layout" {
		p.Data = struct {
			Body string
			Data any
		}{name, data}
	}
	if err := pages.ExecuteTemplate(w, tmpl, p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// jobFilter is the jobs page's form.
type jobFilter struct {
	State, Name                          string
	MinSeconds, MinRecords, MinShuffleMB float64
	MinSupersteps                        int // supersteps in the plan
}

func (f jobFilter) keep(j *pb.JobStatus, now time.Time) bool {
	var recs, shuf int64
	for _, s := range j.GetStages() {
		recs += s.GetRecordsIn()
		shuf += s.GetShuffleBytes()
	}
	d := jobDurationOf(j, now)
	return (f.State == "" || display.StateName(j.GetState()) == f.State) &&
		(f.Name == "" || strings.Contains(j.GetName(), f.Name) || strings.Contains(j.GetJobId(), f.Name)) &&
		d.Seconds() >= f.MinSeconds && float64(recs) >= f.MinRecords && float64(shuf) >= f.MinShuffleMB*(1<<20) &&
		len(j.GetStages()) >= f.MinSupersteps
}

type jobRow struct {
	Status            *pb.JobStatus
	Supersteps        string
	Records, Shuffle  int64
	Duration, Started string
}

func (h *handler) jobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := jobFilter{State: q.Get("state"), Name: q.Get("name")}
	f.MinSeconds, _ = strconv.ParseFloat(q.Get("min_seconds"), 64)
	f.MinRecords, _ = strconv.ParseFloat(q.Get("min_records"), 64)
	f.MinShuffleMB, _ = strconv.ParseFloat(q.Get("min_shuffle_mb"), 64)
	f.MinSupersteps, _ = strconv.Atoi(q.Get("min_supersteps"))
	now := time.Now()
	var rows []jobRow
	all := h.src.Jobs()
	for i := len(all) - 1; i >= 0; i-- { // newest first
		j := all[i]
		if !f.keep(j, now) {
			continue
		}
		row := jobRow{Status: j, Supersteps: display.Superstep(j), Duration: jobDuration(j), Started: clock(j.GetSubmittedUnixMs())}
		for _, s := range j.GetStages() {
			row.Records += s.GetRecordsIn()
			row.Shuffle += s.GetShuffleBytes()
		}
		rows = append(rows, row)
	}
	h.render(w, r, "jobs", "Jobs", "jobs", struct {
		Filter jobFilter
		Rows   []jobRow
		Total  int
		States []string
	}{f, rows, len(all), []string{"pending", "running", "succeeded", "failed", "cancelled"}})
}

// jobView is a job page's data.
type jobView struct {
	Status   *pb.JobStatus
	Timeline *Timeline
	SVG      template.HTML
	Pregel   []pregelView
	Attempts int
	Failure  string
	// Speculated are the speculative races of every superstep.
	Speculated []speculatedView
}

type speculatedView struct {
	Stage int32
	Task  *pb.SpeculatedTask
}

type pregelView struct {
	Stage int32
	Steps []Step
	Chart template.HTML
}

func (h *handler) view(id string) (*jobView, bool) {
	st, ok := h.src.Job(id)
	if !ok {
		return nil, false
	}
	evs := h.src.JobEvents(id)
	tl := BuildTimeline(evs, time.Now().UnixMilli())
	v := &jobView{Status: st, Timeline: tl, SVG: tl.SVG(), Attempts: len(tl.Bars)}
	steps := PregelSteps(evs)
	for _, s := range st.GetStages() {
		for _, sp := range s.GetSpeculated() {
			v.Speculated = append(v.Speculated, speculatedView{Stage: s.GetStage(), Task: sp})
		}
		if s.GetSupersteps() > 0 {
			v.Pregel = append(v.Pregel, pregelView{Stage: s.GetStage(), Steps: steps[int(s.GetStage())],
				Chart: ChartSVG(int(s.GetStage()), steps[int(s.GetStage())])})
		}
	}
	if f := st.GetFailure(); f != nil {
		v.Failure = f.GetCause()
	} else if st.GetError() != "" {
		v.Failure = st.GetError()
	}
	return v, true
}

func (h *handler) job(w http.ResponseWriter, r *http.Request) {
	v, ok := h.view(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such job", http.StatusNotFound)
		return
	}
	h.render(w, r, "job", "Job "+v.Status.GetJobId(), "jobs", v)
}

func (h *handler) workers(w http.ResponseWriter, r *http.Request) {
	ws := h.src.Workers()
	sort.SliceStable(ws, func(a, b int) bool { return ws[a].GetAlive() && !ws[b].GetAlive() })
	h.render(w, r, "workers", "Workers", "workers", ws)
}

func (h *handler) coordinators(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	h.render(w, r, "coordinators", "Coordinators", "coordinators", h.src.Coordinators(ctx))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func (h *handler) apiVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]uint64{"version": h.src.Version()})
}

// apiJobSummary is a job in /api/jobs.
type apiJobSummary struct {
	ID, Name, State         string
	Superstep               string
	SubmittedMs, EndedMs    int64
	DurationMs              int64
	RecordsIn, ShuffleBytes int64
}

func (h *handler) apiJobs(w http.ResponseWriter, _ *http.Request) {
	out := []apiJobSummary{}
	now := time.Now()
	for _, j := range h.src.Jobs() {
		s := apiJobSummary{ID: j.GetJobId(), Name: j.GetName(), State: display.StateName(j.GetState()), Superstep: display.Superstep(j),
			SubmittedMs: j.GetSubmittedUnixMs(), EndedMs: j.GetEndedUnixMs(), DurationMs: jobDurationOf(j, now).Milliseconds()}
		for _, st := range j.GetStages() {
			s.RecordsIn += st.GetRecordsIn()
			s.ShuffleBytes += st.GetShuffleBytes()
		}
		out = append(out, s)
	}
	writeJSON(w, out)
}

func (h *handler) apiJob(w http.ResponseWriter, r *http.Request) {
	v, ok := h.view(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such job", http.StatusNotFound)
		return
	}
	pregel := map[string][]Step{}
	for _, p := range v.Pregel {
		pregel[strconv.Itoa(int(p.Stage))] = p.Steps
	}
	writeJSON(w, struct {
		ID, Name, State string
		Stages          []*pb.StageStatus
		Timeline        *Timeline
		Pregel          map[string][]Step
	}{v.Status.GetJobId(), v.Status.GetName(), display.StateName(v.Status.GetState()), v.Status.GetStages(), v.Timeline, pregel})
}

func (h *handler) apiWorkers(w http.ResponseWriter, _ *http.Request) {
	type apiWorker struct {
		ID, Address, State                  string
		Slots, Running                      int32
		MemoryBytes, HeartbeatAgeMs, LostMs int64
		BytesServed                         int64
		Load                                float64 // host load per CPU, last heartbeat
	}
	out := []apiWorker{}
	for _, x := range h.src.Workers() {
		aw := apiWorker{ID: x.GetWorkerId(), Address: x.GetAddress(), State: workerState(x), Slots: x.GetSlots(),
			MemoryBytes: x.GetMemoryBytes(), HeartbeatAgeMs: x.GetHeartbeatAgeMs(), LostMs: x.GetLostUnixMs(),
			BytesServed: x.GetBytesServed(), Load: x.GetLoad()}
		if x.GetAlive() {
			aw.Running = x.GetSlots() - x.GetFreeSlots()
		}
		out = append(out, aw)
	}
	writeJSON(w, out)
}

func (h *handler) apiCoordinators(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	writeJSON(w, h.src.Coordinators(ctx))
}

// workerState names a worker's membership state: alive, lost (dead), or
// any other state the coordinator reports (WorkerStatus.state), by its
// protocol name in lower case.
func workerState(x *pb.WorkerStatus) string {
	switch st := x.GetState(); {
	case !x.GetAlive() || st == pb.WorkerState_WORKER_STATE_DEAD:
		return "lost"
	case st == pb.WorkerState_WORKER_STATE_UNSPECIFIED || st == pb.WorkerState_WORKER_STATE_ALIVE:
		return "alive"
	default:
		return strings.ToLower(strings.TrimPrefix(st.String(), "WORKER_STATE_"))
	}
}

func jobDuration(j *pb.JobStatus) string {
	d, ok := display.JobDuration(j, time.Now())
	if !ok {
		return "–"
	}
	return d.Round(time.Millisecond).String()
}

func jobDurationOf(j *pb.JobStatus, now time.Time) time.Duration {
	d, _ := display.JobDuration(j, now)
	return d
}

func clock(ms int64) string {
	if ms <= 0 {
		return "–"
	}
	return time.UnixMilli(ms).Format("15:04:05")
}

func formatMs(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }
