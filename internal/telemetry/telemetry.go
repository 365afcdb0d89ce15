// Package telemetry holds what the coordinator's and the workers' HTTP
// endpoints share: a Prometheus registry with the Go runtime and process
// collectors, and a small HTTP server with an owner that stops it.
package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors. Each coordinator and worker has its own (several run in one
// process in an embedded cluster), never the global default.
//
// The runtime and process collectors describe the process, so every
// registry of a process shares one of each, and a collection serves every
// scrape of the next half second: the embedded cluster's endpoints, scraped
// together, read /proc and the runtime once, not once per endpoint (the
// process collector's reads of /proc were most of a scrape's cost).
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(processCollectors()...)
	return r
}

// collectorTTL is how long one collection of the shared collectors serves.
const collectorTTL = 500 * time.Millisecond

var processCollectors = sync.OnceValue(func() []prometheus.Collector {
	return []prometheus.Collector{
		&cachedCollector{c: collectors.NewGoCollector(), ttl: collectorTTL},
		&cachedCollector{c: collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), ttl: collectorTTL},
	}
})

// cachedCollector replays its collector's last collection for ttl. The
// metrics a collector sends are immutable values, so they can be sent
// again, to any registry.
type cachedCollector struct {
	c   prometheus.Collector
	ttl time.Duration

	mu   sync.Mutex
	at   time.Time
	last []prometheus.Metric
}

func (c *cachedCollector) Describe(ch chan<- *prometheus.Desc) { c.c.Describe(ch) }

func (c *cachedCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.last == nil || time.Since(c.at) >= c.ttl {
		mc := make(chan prometheus.Metric, 64)
		go func() {
			c.c.Collect(mc)
			close(mc)
		}()
		fresh := make([]prometheus.Metric, 0, len(c.last)) // the old slice may still be being sent
		for m := range mc {
			fresh = append(fresh, m)
		}
		c.last, c.at = fresh, time.Now()
	}
	ms := c.last
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

// MetricsHandler serves a registry in the Prometheus text format,
// uncompressed: a page is tens of kilobytes, and gzipping it was half of
// what a scrape cost (see bench/README.md, "Observation overhead").
func MetricsHandler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r, ErrorHandling: promhttp.ContinueOnError,
		DisableCompression: true})
}

// Server is an HTTP server on its own goroutine.
type Server struct {
	lis    net.Listener
	scheme string // http or https
	srv    *http.Server
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Serve listens on addr (port 0: any) and serves h until Close: over TLS
// with tc when it is set (HTTPS), else in plaintext.
func Serve(addr string, h http.Handler, tc *tls.Config, log *slog.Logger) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w", addr, err)
	}
	scheme := "http"
	if tc != nil {
		lis, scheme = tls.NewListener(lis, tc), "https"
	}
	s := &Server{lis: lis, scheme: scheme, done: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}}
	if log != nil { // failed handshakes and the like, at debug level
		s.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
			log.Warn("http server stopped", "addr", lis.Addr().String(), "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// URL is the server's root URL: https://ADDR/ over TLS, else http://ADDR/.
func (s *Server) URL() string { return s.scheme + "://" + s.Addr() + "/" }

// Close stops the server, letting requests in flight finish for up to a
// second, and waits for its goroutine. Idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.closeErr = s.srv.Close()
		}
		<-s.done
	})
	return s.closeErr
}
