package coordinator

import (
	"sort"
	"sync"
	"time"
)

// FailureDetector decides which workers to declare dead from their
// heartbeats. It is not part of the replicated state (time is not
// deterministic): the leader feeds it the heartbeats it receives, with the
// time of receipt, and proposes a WorkerDead command for each worker that
// Expired returns. It reads no clock itself. A new leader calls Heartbeat
// for every live worker of the state when it takes over, so that each gets
// a full timeout to reach it. It is safe for concurrent use.
type FailureDetector struct {
	timeout time.Duration

	mu   sync.Mutex // guards the fields below
	last map[WorkerID]time.Time
	// asked is the time of the last Expired call.
	asked time.Time
}

// NewFailureDetector returns a detector that expires a worker whose last
// heartbeat is more than timeout old.
func NewFailureDetector(timeout time.Duration) *FailureDetector {
	return &FailureDetector{timeout: timeout, last: map[WorkerID]time.Time{}}
}

// Heartbeat records that worker w was heard from at now. An earlier time
// than the one recorded is ignored.
func (d *FailureDetector) Heartbeat(w WorkerID, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.last[w]; !ok || now.After(t) {
		d.last[w] = now
	}
}

// Forget stops tracking worker w (it was declared dead or deregistered).
func (d *FailureDetector) Forget(w WorkerID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.last, w)
}

// Expired returns the tracked workers not heard from for longer than the
// timeout at now, sorted by ID. It does not forget them: the caller calls
// Forget once the WorkerDead command is applied, so that a failed proposal
// is retried on the next call.
//
// The leader calls Expired several times per timeout. When the previous
// call was more than half a timeout before now, the leader itself did not
// run meanwhile (SIGSTOP, a VM pause, a long stall): the workers' silence
// is its own, so every tracked worker is treated as heard from at now and
// none expires. Without this a coordinator frozen for longer than the
// timeout declared the whole cluster dead when it woke and failed its
// running jobs with "no live worker" (found by bench/chaos).
func (d *FailureDetector) Expired(now time.Time) []WorkerID {
	d.mu.Lock()
	defer d.mu.Unlock()
	paused := !d.asked.IsZero() && now.Sub(d.asked) > d.timeout/2
	if now.After(d.asked) {
		d.asked = now
	}
	var out []WorkerID
	for w, t := range d.last {
		if paused && now.After(t) {
			d.last[w] = now
		}
		if now.Sub(d.last[w]) > d.timeout {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// LastHeartbeat returns when worker w was last heard from, if tracked.
func (d *FailureDetector) LastHeartbeat(w WorkerID) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.last[w]
	return t, ok
}
