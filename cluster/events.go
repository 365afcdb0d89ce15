package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/internal/display"
)

// WatchEvents follows a job's event stream (WatchJobEvents) until the job
// ends, calling onEvent (if set) with every event once, in order: when the
// stream breaks it reconnects and resumes after the last event received.
// It returns the job's final status; a job that did not succeed is a
// *JobError.
func (c *Client) WatchEvents(ctx context.Context, jobID string, onEvent func(*pb.JobEvent)) (*pb.JobStatus, error) {
	req := &pb.WatchJobRequest{JobId: jobID}
	for {
		final, err := c.watchOnce(ctx, req, onEvent)
		if final != nil {
			if final.GetState() != pb.JobState_JOB_STATE_SUCCEEDED {
				return final, &JobError{Status: final}
			}
			return final, nil
		}
		if status.Code(err) == codes.NotFound || ctx.Err() != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("job %s: %s", jobID, status.Convert(err).Message())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errStreamEnded is a watch stream that ended before the job did.
var errStreamEnded = errors.New("event stream ended early")

// watchOnce reads one stream, advancing req's resume key; it returns the
// job's final status once the stream delivered it.
func (c *Client) watchOnce(ctx context.Context, req *pb.WatchJobRequest, onEvent func(*pb.JobEvent)) (*pb.JobStatus, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.CC.WatchJobEvents(ctx, req)
	if err != nil {
		return nil, err
	}
	for {
		e, err := stream.Recv()
		if err == io.EOF {
			return nil, errStreamEnded
		}
		if err != nil {
			return nil, err
		}
		req.AfterRaftIndex, req.AfterIndexSeq = e.GetRaftIndex(), e.GetIndexSeq()
		if onEvent != nil {
			onEvent(e)
		}
		if st := e.GetStatus(); st != nil && isFinal(st.GetState()) {
			return st, nil
		}
	}
}

// JobDuration is how long a job ran: from its submission to its end, or to
// now while it runs. ok is false when the coordinator did not report the
// times (a duration is then not shown rather than made up).
func JobDuration(st *pb.JobStatus) (d time.Duration, ok bool) {
	return display.JobDuration(st, time.Now())
}

// describeJobEnd is one line saying how a job that did not succeed ended,
// where (supersteps counted from 1, as every display does), then its cause.
func describeJobEnd(st *pb.JobStatus) string {
	head := fmt.Sprintf("job %s (%s)", st.GetName(), st.GetJobId())
	switch st.GetState() {
	case pb.JobState_JOB_STATE_CANCELLED:
		return head + " was cancelled\ncause: " + st.GetError()
	case pb.JobState_JOB_STATE_FAILED:
	default:
		return head + " did not succeed (" + st.GetState().String() + ")"
	}
	f := st.GetFailure()
	if f == nil || f.GetStage() < 0 || int(f.GetStage()) >= len(st.GetStages()) {
		return head + " failed\ncause: " + st.GetError()
	}
	s := st.GetStages()[f.GetStage()]
	return fmt.Sprintf("%s failed in superstep %d/%d (%s), partition %d of %d, after %d failed attempts\ncause: %s", head,
		f.GetStage()+1, len(st.GetStages()), strings.Join(s.GetOps(), "→"), f.GetTask(), s.GetTasks(), f.GetAttempts(), f.GetCause())
}
