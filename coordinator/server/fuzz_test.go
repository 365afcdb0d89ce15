package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/internal/security"
)

// FuzzHandlers feeds random and malformed messages to every unary request
// handler of the Coordinator service (the first byte picks the handler,
// the rest is decoded as its request proto). The coordinator must keep
// answering, and its state must stay valid: it snapshots and restores,
// every job and worker ID passed the edge's validation, and no worker runs
// more attempts than it has slots.
func FuzzHandlers(f *testing.F) {
	cfg := DefaultConfig()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Limits = Limits{SubmitRate: -1, MaxJobs: -1, MaxWorkers: -1}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	s, err := Start(ctx, cfg)
	cancel()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	seed := func(kind byte, m proto.Message) {
		b, _ := proto.Marshal(m)
		f.Add(append([]byte{kind}, b...))
	}
	spec := []byte(`{"version":1,"job_id":"j1","job":"wc","partitions":1,"stages":[{"id":0,"tasks":1,"input":{"kind":"source","node":0,"splits":[{"files":[{"path":"/x","start":0,"end":1}]}]},"output":{"kind":"collect","node":1}}]}`)
	seed(0, &pb.SubmitJobRequest{JobId: "j1", Name: "wc", Fingerprint: "fp", Spec: spec})
	seed(0, &pb.SubmitJobRequest{JobId: "..", Name: "wc", Fingerprint: "fp", Spec: spec})
	seed(0, &pb.SubmitJobRequest{Name: "wc", Fingerprint: "fp", Spec: []byte(`{"version":1,"partitions":-1}`)})
	seed(1, &pb.GetJobRequest{JobId: "j1"})
	seed(2, &pb.ListJobsRequest{})
	seed(3, &pb.CancelJobRequest{JobId: "j1"})
	seed(4, &pb.RegisterWorkerRequest{WorkerId: "w1", Address: "127.0.0.1:1", Fingerprint: "fp", Slots: 2, MemoryBytes: 1 << 20})
	seed(4, &pb.RegisterWorkerRequest{WorkerId: "../w", Address: "x", Fingerprint: "fp", Slots: -1})
	seed(5, &pb.HeartbeatRequest{WorkerId: "w1", Running: 3})
	seed(6, &pb.ListWorkersRequest{})
	f.Add([]byte{0, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		body := b[1:]
		decode := func(m proto.Message) proto.Message {
			_ = proto.Unmarshal(body, m) // malformed bytes leave a partial message: it is called anyway
			return m
		}
		switch b[0] % 7 {
		case 0:
			s.SubmitJob(ctx, decode(&pb.SubmitJobRequest{}).(*pb.SubmitJobRequest))
		case 1:
			s.GetJob(ctx, decode(&pb.GetJobRequest{}).(*pb.GetJobRequest))
		case 2:
			s.ListJobs(ctx, decode(&pb.ListJobsRequest{}).(*pb.ListJobsRequest))
		case 3:
			s.CancelJob(ctx, decode(&pb.CancelJobRequest{}).(*pb.CancelJobRequest))
		case 4:
			s.RegisterWorker(ctx, decode(&pb.RegisterWorkerRequest{}).(*pb.RegisterWorkerRequest))
		case 5:
			s.Heartbeat(ctx, decode(&pb.HeartbeatRequest{}).(*pb.HeartbeatRequest))
		case 6:
			s.ListWorkers(ctx, decode(&pb.ListWorkersRequest{}).(*pb.ListWorkersRequest))
		}
		if _, err := s.ListWorkers(ctx, &pb.ListWorkersRequest{}); err != nil {
			t.Fatalf("the coordinator stopped answering: %v", err)
		}
		var snap []byte
		var serr error
		s.node.Read(func(st *coordinator.State) {
			for _, j := range st.Jobs {
				if err := security.ValidName("job", string(j.ID)); err != nil {
					t.Errorf("state holds job %q: %v", j.ID, err)
				}
			}
			for _, w := range st.Workers {
				if err := security.ValidName("worker", string(w.ID)); err != nil {
					t.Errorf("state holds worker %q: %v", w.ID, err)
				}
				if w.Running < 0 || w.Running > w.Slots {
					t.Errorf("worker %s runs %d in %d slots", w.ID, w.Running, w.Slots)
				}
			}
			snap, serr = st.Snapshot()
		})
		if serr != nil {
			t.Fatalf("snapshot: %v", serr)
		}
		if _, err := coordinator.RestoreState(snap); err != nil {
			t.Fatalf("the state does not restore: %v", err)
		}
	})
}
