package webload

import (
	"fmt"
	"slices"
	"time"
)

// Latency is the distribution of per-query wall times.
type Latency struct {
	Queries       int
	P50, P99, Max time.Duration
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (l Latency) String() string {
	return fmt.Sprintf("%d queries: p50 %.3f ms, p99 %.3f ms, max %.3f ms", l.Queries, Ms(l.P50), Ms(l.P99), Ms(l.Max))
}

// Measure runs every query once as a warm-up (page faults of the mapped
// index, caches), then once more timing each call of search on its own. It
// stops at the first error.
func Measure(queries []string, search func(q string) error) (Latency, error) {
	for _, q := range queries {
		if err := search(q); err != nil {
			return Latency{}, fmt.Errorf("query %q: %w", q, err)
		}
	}
	ds := make([]time.Duration, 0, len(queries))
	for _, q := range queries {
		t0 := time.Now()
		err := search(q)
		ds = append(ds, time.Since(t0))
		if err != nil {
			return Latency{}, fmt.Errorf("query %q: %w", q, err)
		}
	}
	return Summarize(ds), nil
}

// Summarize is the p50, p99 and maximum of ds (nearest rank).
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Latency{Queries: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}
