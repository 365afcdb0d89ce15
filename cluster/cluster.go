// Package cluster runs Superstep programs on a coordinator and workers over
// gRPC: Client submits and watches jobs, Executor implements bsp.Executor
// on top of it, and Embedded starts a whole cluster (coordinator and N
// workers on loopback) inside one process — the same code as a real
// cluster, which `superstep run` uses.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/coordinator/server"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/shuffle"
	"github.com/superstep/superstep/worker"
)

// Submit sends a compiled program (of a registered job) to the coordinator.
func (c *Client) Submit(ctx context.Context, prog *bsp.Program) (string, error) {
	spec, err := prog.Spec.Encode()
	if err != nil {
		return "", err
	}
	if prog.Spec.Job == "" {
		return "", errors.New("cluster: only registered jobs can run on a cluster (workers rebuild the plan from the job name)")
	}
	resp, err := c.CC.SubmitJob(ctx, &pb.SubmitJobRequest{JobId: prog.Spec.JobID, Name: prog.Spec.Job, Args: prog.Spec.Args,
		Spec: spec, Fingerprint: bsp.Fingerprint()})
	if err != nil {
		return "", fmt.Errorf("submitting job %s: %w", prog.Spec.Job, err)
	}
	return resp.GetJobId(), nil
}

// Wait watches a job until it ends, calling onStatus (if set) with every
// status, and returns the final status. A job that did not succeed is an
// error carrying the job's own error text.
func (c *Client) Wait(ctx context.Context, jobID string, onStatus func(*pb.JobStatus)) (*pb.JobStatus, error) {
	for {
		stream, err := c.CC.WatchJob(ctx, &pb.GetJobRequest{JobId: jobID})
		if err != nil {
			return nil, err
		}
		var last *pb.JobStatus
		for {
			st, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				if status.Code(err) == codes.NotFound || ctx.Err() != nil {
					return nil, fmt.Errorf("job %s: %s", jobID, status.Convert(err).Message())
				}
				break // stream broke: watch again
			}
			last = st
			if onStatus != nil {
				onStatus(st)
			}
		}
		if last != nil && isFinal(last.GetState()) {
			if last.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
				return last, &JobError{Status: last}
			}
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isFinal(s pb.JobState) bool {
	return s == pb.JobState_JOB_STATE_SUCCEEDED || s == pb.JobState_JOB_STATE_FAILED || s == pb.JobState_JOB_STATE_CANCELLED
}

// JobError is a job that failed or was cancelled. It unwraps to the
// coordinator's sentinels for the job's error kind (coordinator.ErrJobFailed,
// ErrPermanent, ErrNoWorker, ErrJobCancelled), so that callers match it with
// errors.Is; and, for a job failed by a permanent input error, to a
// *bsp.InputError naming the file and line (errors.As).
type JobError struct{ Status *pb.JobStatus }

func (e *JobError) Error() string { return describeJobEnd(e.Status) }

// Kind is the job's error kind. A status from an older coordinator, without
// one, is read from its state: cancelled or failed by the user's code.
func (e *JobError) Kind() coordinator.ErrorKind {
	if k := server.KindOf(e.Status.GetErrorKind()); k != "" {
		return k
	}
	if e.Status.GetState() == pb.JobState_JOB_STATE_CANCELLED {
		return coordinator.KindCancelled
	}
	return coordinator.KindUser
}

// Unwrap returns the sentinels of the job's error kind and, when the status
// names an input location, the InputError there.
func (e *JobError) Unwrap() []error {
	errs := e.Kind().Sentinels()
	if loc := e.Status.GetErrorLocation(); loc != nil && loc.GetPath() != "" {
		errs = append(errs, &bsp.InputError{Path: loc.GetPath(), Line: loc.GetLine(), Err: errors.New(e.Status.GetError())})
	}
	return errs
}

// Result turns a succeeded job's status into a bsp.Result, fetching the
// collected outputs from the workers that hold them.
func (c *Client) Result(ctx context.Context, st *pb.JobStatus) (*bsp.Result, error) {
	res := &bsp.Result{Collected: map[int][][]byte{}}
	for _, s := range st.GetStages() {
		res.Stages = append(res.Stages, bsp.StageStats{Stage: int(s.GetStage()), Tasks: int(s.GetTasks()),
			Attempts: int(s.GetAttempts()), RecordsIn: s.GetRecordsIn(), RecordsOut: s.GetRecordsOut(),
			ShuffleBytes: s.GetShuffleBytes(), ShuffleRaw: s.GetShuffleRawBytes(), Spills: int(s.GetSpills()), SpillBytes: s.GetSpillBytes(),
			Wall: time.Duration(s.GetElapsedMs()) * time.Millisecond, Supersteps: int(s.GetSupersteps()), Retries: int(s.GetRetries())})
	}
	res.Wall, _ = JobDuration(st)
	for _, co := range st.GetCollected() {
		var blocks [][]byte
		for _, o := range co.GetOutputs() {
			b, err := fetchAll(ctx, c.tls, o)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, b...)
		}
		res.Collected[int(co.GetNode())] = blocks
	}
	return res, nil
}

// fetchAll reads every block of the one-partition output o from its worker.
func fetchAll(ctx context.Context, t *security.TLS, o *pb.MapOutputLocation) ([][]byte, error) {
	ix, err := shuffle.UnmarshalIndex(o.GetIndex())
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(o.GetAddress(), worker.FetchDialOptionsTLS(t)...)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	wc := pb.NewWorkerClient(conn)
	var blocks [][]byte
	for run := range ix.Runs[0] {
		s, err := wc.FetchPartition(ctx, &pb.FetchRequest{JobId: o.GetAttempt().GetJobId(), Path: o.GetPath(), Run: int32(run)})
		if err != nil {
			return nil, err
		}
		var buf []byte
		for {
			chunk, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("fetching collected output from %s: %w", o.GetAddress(), err)
			}
			buf = append(buf, chunk.GetData()...)
		}
		for len(buf) > 0 {
			n, err := shuffle.BlockLen(buf)
			if err != nil || n > len(buf) {
				return nil, fmt.Errorf("fetching collected output from %s: truncated block", o.GetAddress())
			}
			blocks = append(blocks, buf[:n:n])
			buf = buf[n:]
		}
	}
	return blocks, nil
}

// Executor runs programs on a cluster through a Client.
type Executor struct {
	Client *Client
	// OnStatus, if set, sees every status of the running job.
	OnStatus func(*pb.JobStatus)
	// OnEvent, if set, sees every event of the running job (see
	// Client.WatchEvents); OnStatus is then not called.
	OnEvent func(*pb.JobEvent)
}

// Execute implements bsp.Executor. Cancelling ctx cancels the job.
func (e *Executor) Execute(ctx context.Context, prog *bsp.Program) (*bsp.Result, error) {
	id, err := e.Client.Submit(ctx, prog)
	if err != nil {
		return nil, err
	}
	var st *pb.JobStatus
	if e.OnEvent != nil {
		st, err = e.Client.WatchEvents(ctx, id, e.OnEvent)
	} else {
		st, err = e.Client.Wait(ctx, id, e.OnStatus)
	}
	if err != nil {
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = e.Client.CC.CancelJob(cctx, &pb.CancelJobRequest{JobId: id, Reason: "the submitter was interrupted"})
			cancel()
		}
		return nil, err
	}
	return e.Client.Result(ctx, st)
}

// Embedded is a coordinator and workers in this process, on loopback.
type Embedded struct {
	Coordinator *server.Server
	Workers     []*worker.Worker
	Client      *Client
	dir         string
}

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	Workers int
	Worker  worker.Config // template; Coordinator, DataDir and ID are set per worker
	WorkDir string        // empty: a temporary directory, removed by Close
	// HTTP, when set, is the coordinator's dashboard and /metrics address.
	HTTP string
	// TLSDir, when set, is a directory made by `superstep certs init`: the
	// coordinator, the workers and the client then speak mutual TLS with
	// their roles' certificates and the client sends DIR/token.
	TLSDir string
}

// StartEmbedded starts a coordinator and cfg.Workers workers.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	e := &Embedded{}
	dir := cfg.WorkDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "superstep-cluster-"); err != nil {
			return nil, err
		}
		e.dir = dir
	}
	sc := server.DefaultConfig()
	sc.Log = cfg.Worker.Log
	sc.HTTP = cfg.HTTP
	var cl *security.TLS
	var tok string
	if cfg.TLSDir != "" {
		var err error
		if sc.TLS, cl, tok, cfg.Worker.TLS, sc.Tokens, err = loadEmbeddedTLS(cfg.TLSDir); err != nil {
			e.Close()
			return nil, err
		}
	}
	coord, err := server.Start(ctx, sc)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.Coordinator = coord
	for i := range max(cfg.Workers, 1) {
		wc := cfg.Worker
		wc.Coordinator = coord.Addr()
		wc.DataDir = filepath.Join(dir, fmt.Sprintf("worker-%d", i))
		wc.ID = fmt.Sprintf("embedded-%d", i)
		w, err := worker.Start(ctx, wc)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.Workers = append(e.Workers, w)
	}
	if e.Client, err = Dial(ctx, coord.Addr(), WithTLS(cl), WithToken(tok)); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Executor returns a bsp.Executor on the embedded cluster.
func (e *Embedded) Executor() *Executor { return &Executor{Client: e.Client} }

// Close stops the workers and the coordinator and removes the temporary
// directory. Idempotent.
func (e *Embedded) Close() error {
	if e.Client != nil {
		e.Client.Close()
		e.Client = nil
	}
	for _, w := range e.Workers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		w.Stop(ctx)
		cancel()
	}
	e.Workers = nil
	var err error
	if e.Coordinator != nil {
		err = e.Coordinator.Close()
		e.Coordinator = nil
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
		e.dir = ""
	}
	return err
}
