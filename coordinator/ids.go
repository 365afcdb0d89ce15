package coordinator

import "fmt"

// JobID names one submitted job. It is chosen by the submitter, so that a
// retried submit is recognised as the same job.
type JobID string

// WorkerID names one worker process. A worker picks a fresh ID each time it
// starts; an ID that was declared dead is never alive again.
type WorkerID string

// TaskID names one task: one partition of one stage of a job.
type TaskID struct {
	Job   JobID `json:"job"`
	Stage int   `json:"stage"`
	Task  int   `json:"task"`
}

func (t TaskID) String() string {
	return fmt.Sprintf("job %s stage %d task %d", t.Job, t.Stage, t.Task)
}

// AttemptID names one attempt of a task. Attempt numbers count from 0 and
// are given out in order by AssignTask.
type AttemptID struct {
	TaskID
	Attempt int `json:"attempt"`
}

func (a AttemptID) String() string {
	return fmt.Sprintf("%s attempt %d", a.TaskID, a.Attempt)
}
