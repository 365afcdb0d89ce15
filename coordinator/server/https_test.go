package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/internal/security"
)

// TestHTTPBehindTLS: with the cluster's certificates the dashboard and
// /metrics are served over HTTPS with the coordinator's certificate and
// answer only a peer holding a certificate of the cluster CA; plain HTTP
// and a TLS client without a certificate get nothing. Without TLS, a
// non-loopback --http is refused before anything listens, as gRPC is.
func TestHTTPBehindTLS(t *testing.T) {
	dir := t.TempDir()
	if err := security.Init(dir, security.CertOptions{}); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := security.Init(other, security.CertOptions{}); err != nil {
		t.Fatal(err)
	}
	ct, err := security.LoadTLS(dir, security.RoleCoordinator)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.TLS, cfg.HTTP, cfg.Log = ct, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u := s.HTTPURL(); u != "https://"+s.HTTPAddr()+"/" {
		t.Fatalf("HTTPURL %q", u)
	}
	get := func(url string, tc *tls.Config) (string, error) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return string(b), errors.New(resp.Status)
		}
		return string(b), err
	}
	metrics := "https://" + s.HTTPAddr() + "/metrics"
	for _, role := range []security.Role{security.RoleClient, security.RoleWorker} {
		cl, err := security.LoadTLS(dir, role)
		if err != nil {
			t.Fatal(err)
		}
		body, err := get(metrics, cl.ClientConfig(security.RoleCoordinator))
		if err != nil || !strings.Contains(body, "superstep_workers") {
			t.Fatalf("HTTPS with a %s certificate: %v, %.200q", role, err, body)
		}
	}
	if body, err := get("http://"+s.HTTPAddr()+"/metrics", nil); err == nil || strings.Contains(body, "superstep_workers") {
		t.Fatalf("plain HTTP was answered: %v, %.200q", err, body)
	}
	ca, err := security.LoadTLS(dir, security.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	noCert := ca.ClientConfig(security.RoleCoordinator)
	noCert.GetClientCertificate = nil
	if body, err := get(metrics, noCert); err == nil {
		t.Fatalf("HTTPS without a client certificate was answered: %.200q", body)
	}
	stranger, err := security.LoadTLS(other, security.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	strange := stranger.ClientConfig(security.RoleCoordinator)
	strange.VerifyConnection = nil // trust the server; present another CA's certificate
	if body, err := get(metrics, strange); err == nil {
		t.Fatalf("HTTPS with another CA's certificate was answered: %.200q", body)
	}

	plain := DefaultConfig()
	plain.HTTP, plain.Log = "0.0.0.0:0", cfg.Log
	if s, err := Start(ctx, plain); !errors.Is(err, security.ErrInsecureListen) || !strings.Contains(err.Error(), "--http") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("a non-loopback --http without TLS: %v, want ErrInsecureListen naming --http", err)
	}
}
