package dashboard

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
)

// fakeSource serves fixed jobs and workers.
type fakeSource struct {
	jobs    []*pb.JobStatus
	workers []*pb.WorkerStatus
}

func (f fakeSource) Jobs() []*pb.JobStatus { return f.jobs }
func (f fakeSource) Job(id string) (*pb.JobStatus, bool) {
	for _, j := range f.jobs {
		if j.GetJobId() == id {
			return j, true
		}
	}
	return nil, false
}
func (f fakeSource) JobEvents(string) []coordinator.Event      { return nil }
func (f fakeSource) Workers() []*pb.WorkerStatus               { return f.workers }
func (f fakeSource) Coordinators(context.Context) Coordinators { return Coordinators{} }
func (f fakeSource) Version() uint64                           { return 1 }
func stage(recs, shuffle int64) *pb.StageStatus {
	return &pb.StageStatus{RecordsIn: recs, ShuffleBytes: shuffle}
}
func get(t *testing.T, srv *httptest.Server, path string) string { return fetch(t, srv.URL+path) }
func ids(page string) []string {
	return column(page, `<tr class="job [a-z]+"><th scope="row"><a href="/jobs/([^"]+)"`)
}
func column(page, re string) (out []string) {
	for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

// TestJobsFilters: every column the issue names is filterable (state,
// duration, supersteps, records, shuffle bytes), and the name filter
// matches names and IDs. The expected rows are worked out by hand from the
// fixture.
func TestJobsFilters(t *testing.T) {
	const s = 1000 // ms
	src := fakeSource{jobs: []*pb.JobStatus{
		{JobId: "j1", Name: "wordcount", State: pb.JobState_JOB_STATE_SUCCEEDED, SubmittedUnixMs: 10 * s, StartedUnixMs: 10 * s, EndedUnixMs: 12 * s,
			Stages: []*pb.StageStatus{stage(2000, 3<<20), stage(500, 1<<20), stage(400, 0), stage(400, 0)}},
		{JobId: "j2", Name: "pagerank", State: pb.JobState_JOB_STATE_FAILED, SubmittedUnixMs: 20 * s, StartedUnixMs: 20 * s, EndedUnixMs: 50 * s,
			Stages: []*pb.StageStatus{stage(100, 512<<10), stage(100, 0)}},
		{JobId: "j3", Name: "terasort", State: pb.JobState_JOB_STATE_SUCCEEDED, SubmittedUnixMs: 60 * s, StartedUnixMs: 60 * s, EndedUnixMs: 61 * s,
			Stages: []*pb.StageStatus{stage(10, 0), stage(10, 0), stage(10, 0)}},
	}}
	mux := http.NewServeMux()
	Handler(src, mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := []struct {
		query string
		want  []string // newest first
	}{
		{"", []string{"j3", "j2", "j1"}},
		{"state=succeeded", []string{"j3", "j1"}},
		{"state=failed", []string{"j2"}},
		{"name=rank", []string{"j2"}},
		{"name=j3", []string{"j3"}},
		{"min_seconds=2", []string{"j2", "j1"}},
		{"min_seconds=10", []string{"j2"}},
		{"min_supersteps=3", []string{"j3", "j1"}},
		{"min_supersteps=4", []string{"j1"}},
		{"min_records=201", []string{"j1"}},      // j2 read 200
		{"min_records=31", []string{"j2", "j1"}}, // j3 read 30
		{"min_shuffle_mb=0.5", []string{"j2", "j1"}},
		{"min_shuffle_mb=1", []string{"j1"}},
		{"state=succeeded&min_supersteps=3&min_seconds=1.5", []string{"j1"}},
	}
	for _, c := range cases {
		if got := ids(get(t, srv, "/?fragment=1&"+c.query)); !slices.Equal(got, c.want) {
			t.Errorf("/?%s: jobs %q, want %q", c.query, got, c.want)
		}
	}
}

// TestWorkersPage: the workers page shows each worker's slots, running
// tasks, memory, bytes served, host load and state, a lost worker as lost, and a
// state the coordinator adds later by its name.
func TestWorkersPage(t *testing.T) {
	src := fakeSource{workers: []*pb.WorkerStatus{
		{WorkerId: "w-a", Alive: true, State: pb.WorkerState_WORKER_STATE_ALIVE, Slots: 4, FreeSlots: 1, MemoryBytes: 64 << 20, BytesServed: 3 << 20, Load: 0.625, HeartbeatAgeMs: 120},
		{WorkerId: "w-b", Alive: false, State: pb.WorkerState_WORKER_STATE_DEAD, Slots: 2, MemoryBytes: 32 << 20, LostUnixMs: 1},
		{WorkerId: "w-c", Alive: true, State: pb.WorkerState(99), Slots: 2, FreeSlots: 2},
	}}
	mux := http.NewServeMux()
	Handler(src, mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	page := get(t, srv, "/workers?fragment=1")
	rows := column(page, `(<tr class="worker [^"]+"><th scope="row">[^<]+</th>(?:<td[^>]*>[^<]*</td>)+)</tr>`)
	if len(rows) != 3 {
		t.Fatalf("%d worker rows:\n%s", len(rows), page)
	}
	cells := func(row string) []string { return column(row, `<td[^>]*>([^<]*)</td>`) }
	// Address, state, slots, running, memory, served, load, last heartbeat.
	if got, want := cells(rows[0]), []string{"", "alive", "4", "3", "64.0 MiB", "3.0 MiB", "0.62", "120ms ago"}; !slices.Equal(got, want) {
		t.Errorf("alive worker: %q, want %q", got, want)
	}
	// Alive workers are listed first.
	if got := cells(rows[2]); got[1] != "lost" || got[3] != "–" || got[6] != "–" || !regexp.MustCompile(`^lost at `).MatchString(got[7]) {
		t.Errorf("lost worker: %q", got)
	}
	if got := cells(rows[1]); got[1] != "99" {
		t.Errorf("a worker in an unknown state: %q (want its state's name)", got)
	}
}
