package telemetry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// counting is a collector that counts its collections.
type counting struct {
	n    atomic.Int64
	desc *prometheus.Desc
}

func (c *counting) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *counting) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.n.Add(1)))
}

// TestCachedCollector: within the TTL a collection is replayed, to every
// registry that holds the collector; after it the collector runs again.
func TestCachedCollector(t *testing.T) {
	inner := &counting{desc: prometheus.NewDesc("test_collections", "collections so far", nil, nil)}
	cc := &cachedCollector{c: inner, ttl: time.Hour}
	r1, r2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	r1.MustRegister(cc)
	r2.MustRegister(cc)
	value := func(r *prometheus.Registry) float64 {
		t.Helper()
		fams, err := r.Gather()
		if err != nil || len(fams) != 1 {
			t.Fatalf("gather: %v, %d families", err, len(fams))
		}
		return fams[0].GetMetric()[0].GetGauge().GetValue()
	}
	if a, b := value(r1), value(r2); a != 1 || b != 1 || inner.n.Load() != 1 {
		t.Fatalf("two scrapes within the TTL: values %v and %v after %d collections, want 1, 1 and 1", a, b, inner.n.Load())
	}
	cc.mu.Lock()
	cc.at = time.Now().Add(-2 * time.Hour) // the TTL passes
	cc.mu.Unlock()
	if v := value(r2); v != 2 || inner.n.Load() != 2 {
		t.Fatalf("after the TTL: value %v after %d collections, want 2 and 2", v, inner.n.Load())
	}
}

// TestRegistriesShareProcessCollectors: every registry has the runtime and
// process metrics.
func TestRegistriesShareProcessCollectors(t *testing.T) {
	for i := range 2 {
		fams, err := NewRegistry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, f := range fams {
			have[f.GetName()] = true
		}
		for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
			if !have[name] {
				t.Errorf("registry %d: no %s", i, name)
			}
		}
	}
}

// TestMetricsHandlerUncompressed: a scraper that accepts gzip gets the
// text format as is.
func TestMetricsHandlerUncompressed(t *testing.T) {
	srv := httptest.NewServer(MetricsHandler(NewRegistry()))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if enc := resp.Header.Get("Content-Encoding"); enc != "" || !strings.Contains(string(b), "process_cpu_seconds_total ") {
		t.Fatalf("Content-Encoding %q; body starts %q", enc, b[:min(len(b), 80)])
	}
}
