// Package display holds how job statuses, sizes and durations are shown to
// people, so that the command line and the dashboard say the same thing.
package display

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
)

// StateName is a job state's lower-case name: running, succeeded, ...
func StateName(s pb.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

// Superstep is "k/n": the superstep a job works on, the last one for a
// succeeded job, the failing one for a failed job (counted from 1).
func Superstep(j *pb.JobStatus) string {
	n := len(j.GetStages())
	cur := int(j.GetCurrentStage()) + 1
	switch {
	case j.GetState() == pb.JobState_JOB_STATE_SUCCEEDED:
		cur = n
	case j.GetFailure() != nil && j.GetFailure().GetStage() >= 0:
		cur = int(j.GetFailure().GetStage()) + 1
	}
	return fmt.Sprintf("%d/%d", min(cur, n), n)
}

// JobDuration is how long a job ran: from its submission to its end, or to
// now while it runs. ok is false when the status lacks the times (a
// duration is then not shown rather than made up).
func JobDuration(st *pb.JobStatus, now time.Time) (d time.Duration, ok bool) {
	from, to := st.GetSubmittedUnixMs(), st.GetEndedUnixMs()
	if from <= 0 {
		return 0, false
	}
	if to <= 0 {
		switch st.GetState() {
		case pb.JobState_JOB_STATE_SUCCEEDED, pb.JobState_JOB_STATE_FAILED, pb.JobState_JOB_STATE_CANCELLED:
			return 0, false
		}
		to = now.UnixMilli()
	}
	if to < from {
		return 0, false
	}
	return time.Duration(to-from) * time.Millisecond, true
}

// Bytes formats a byte count with binary units: 512 B, 1.5 KiB, 3.2 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
