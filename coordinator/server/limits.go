package server

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/internal/security"
)

// Limits bound what clients and workers can make a coordinator hold.
// Zero fields take DefaultLimits' values; negative ones mean no limit.
type Limits struct {
	MaxJobs     int     // jobs not yet ended
	MaxWorkers  int     // live workers
	SubmitRate  float64 // SubmitJob calls per second per client
	SubmitBurst int     // SubmitJob calls a client may make at once
}

// DefaultLimits are generous for a real cluster and still bound a flood.
func DefaultLimits() Limits {
	return Limits{MaxJobs: 1000, MaxWorkers: 1000, SubmitRate: 10, SubmitBurst: 50}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxJobs == 0 {
		l.MaxJobs = d.MaxJobs
	}
	if l.MaxWorkers == 0 {
		l.MaxWorkers = d.MaxWorkers
	}
	if l.SubmitRate == 0 {
		l.SubmitRate = d.SubmitRate
	}
	if l.SubmitBurst == 0 {
		l.SubmitBurst = d.SubmitBurst
	}
	return l
}

// clientKey names the client a call comes from: its token's holder, else
// its certificate's identity, else its IP address.
func clientKey(ctx context.Context) string {
	if p := security.PrincipalOf(ctx); p != nil {
		return "token:" + p.Name
	}
	if c := security.PeerOf(ctx); c != nil {
		return "cert:" + security.Identity(c)
	}
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		host, _, err := net.SplitHostPort(pr.Addr.String())
		if err != nil {
			host = pr.Addr.String()
		}
		return "ip:" + host
	}
	return "unknown"
}

// rateLimiter is a token bucket per client.
type rateLimiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex // guards buckets
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the clients remembered; the fullest buckets (clients
// idle long enough to be back at the burst) are forgotten first.
const maxBuckets = 10000

// allow takes one token of key's bucket at now.
func (r *rateLimiter) allow(key string, now time.Time) bool {
	if r.rate < 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buckets == nil {
		r.buckets = map[string]*bucket{}
	}
	b := r.buckets[key]
	if b == nil {
		if len(r.buckets) >= maxBuckets {
			for k, o := range r.buckets {
				if o.tokens+now.Sub(o.last).Seconds()*r.rate >= r.burst {
					delete(r.buckets, k)
				}
			}
		}
		b = &bucket{tokens: r.burst, last: now}
		r.buckets[key] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// checkSubmit refuses a submit over the client's rate or the job cap.
func (s *Server) checkSubmit(ctx context.Context, id coordinator.JobID) error {
	if !s.submits.allow(clientKey(ctx), time.Now()) {
		return status.Errorf(codes.ResourceExhausted, "coordinator: too many submits from this client (at most %g a second, %d at once); try again shortly",
			s.submits.rate, int(s.submits.burst))
	}
	max := s.limits.MaxJobs
	if max < 0 {
		return nil
	}
	active, exists := 0, false
	s.node.Read(func(st *coordinator.State) {
		exists = st.Job(id) != nil
		for _, j := range st.Jobs {
			if !j.Phase.Ended() {
				active++
			}
		}
	})
	if !exists && active >= max {
		return status.Errorf(codes.ResourceExhausted, "coordinator: %d jobs are running or waiting, the limit (--max-jobs); wait for some to end", active)
	}
	return nil
}

// checkRegister refuses a new worker over the worker cap.
func (s *Server) checkRegister(id coordinator.WorkerID) error {
	max := s.limits.MaxWorkers
	if max < 0 {
		return nil
	}
	live, exists := 0, false
	s.node.Read(func(st *coordinator.State) {
		if w := st.Worker(id); w != nil {
			exists = true
		}
		for _, w := range st.Workers {
			if !w.Dead {
				live++
			}
		}
	})
	if !exists && live >= max {
		return status.Errorf(codes.ResourceExhausted, "coordinator: %d live workers, the limit (--max-workers)", live)
	}
	return nil
}
