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
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// MetricsHandler serves a registry in the Prometheus text format.
func MetricsHandler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r, ErrorHandling: promhttp.ContinueOnError})
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
