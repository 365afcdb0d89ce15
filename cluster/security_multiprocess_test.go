package cluster_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/internal/security"
)

// cliFails runs the binary, which must exit non-zero at once with a
// one-line error containing want.
func cliFails(t *testing.T, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil || ctx.Err() != nil || !strings.Contains(stderr.String(), want) {
		t.Errorf("superstep %v: %v, stderr %q; want a failure naming %q", args, err, stderr.String(), want)
	}
}

// copyFiles copies files from one TLS directory to another under new names.
func copyFiles(t *testing.T, from, to string, names map[string]string) {
	t.Helper()
	os.MkdirAll(to, 0o700)
	for src, dst := range names {
		b, err := os.ReadFile(filepath.Join(from, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// servedSerial is the serial of the certificate a TLS server at addr
// presents to a new connection from the client certificate in dir.
func servedSerial(t *testing.T, dir, addr string) string {
	t.Helper()
	cl, err := security.LoadTLS(dir, security.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	cfg := cl.ClientConfig(security.Roles...)
	cfg.NextProtos = []string{"h2"}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func fileSerial(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s is not PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

// TestTLSCluster starts a coordinator and two workers as processes with
// the files of `superstep certs init`: a correct client's job completes
// with the bytes of an in-process run; clients with no certificate, a
// certificate of another CA, an expired one, a worker's, or a wrong token
// are refused with the reason; a worker of another CA never registers;
// certificates replaced on disk are used by new connections; and
// listening beyond loopback without TLS refuses to start.
func TestTLSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; runs without -short")
	}
	dir := t.TempDir()
	certs := filepath.Join(dir, "tls")
	runCLI(t, "certs", "init", "--dir", certs)
	coord := start(t, "coordinator listening on", "coordinator", "--listen", "127.0.0.1:0", "--tls-dir", certs)
	for i := range 2 {
		start(t, "worker ", "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0", "--tls-dir", certs,
			"--data-dir", filepath.Join(dir, fmt.Sprintf("w%d", i)), "--slots", "2", "--memory", "16MB")
	}
	in := filepath.Join(dir, "in.txt")
	var text strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&text, "w%d w%d common\n", i%97, i%13)
	}
	os.WriteFile(in, []byte(text.String()), 0o644)
	want, got := filepath.Join(dir, "local"), filepath.Join(dir, "cluster")
	runCLI(t, "run", "wordcount", "--workers", "0", "--partitions", "4", "--input", in, "--out", want)
	runCLI(t, "submit", "wordcount", "--coordinator", coord.addr, "--tls-dir", certs, "--partitions", "4",
		"--input", in, "--out", got, "--progress", "none")
	if a, b := concat(t, got), concat(t, want); !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("TLS cluster output (%d bytes) differs from the in-process run (%d bytes)", len(a), len(b))
	}

	// Bad clients.
	other := filepath.Join(dir, "other")
	runCLI(t, "certs", "init", "--dir", other)
	expired := filepath.Join(dir, "expired")
	copyFiles(t, certs, expired, map[string]string{"ca.pem": "ca.pem", "ca-key.pem": "ca-key.pem", "token": "token"})
	if err := security.Issue(expired, security.RoleClient, "client", security.CertOptions{
		NotBefore: time.Now().Add(-72 * time.Hour), Valid: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	asWorker := filepath.Join(dir, "as-worker")
	copyFiles(t, certs, asWorker, map[string]string{"ca.pem": "ca.pem", "token": "token", "worker.pem": "client.pem", "worker-key.pem": "client-key.pem"})
	noCert := filepath.Join(dir, "no-cert")
	copyFiles(t, certs, noCert, map[string]string{"ca.pem": "ca.pem", "token": "token"})
	badToken := filepath.Join(dir, "bad-token")
	os.WriteFile(badToken, []byte("sst_0000\n"), 0o600)
	for _, c := range []struct {
		name, want string
		flags      []string
	}{
		{"no TLS", "needs --tls-dir", nil},
		{"no certificate", "client.pem", []string{"--tls-dir", noCert}},
		{"another CA", "certificate signed by unknown authority", []string{"--tls-dir", other}},
		{"expired", "certificate expired", []string{"--tls-dir", expired}},
		{"worker certificate", "a worker certificate cannot call", []string{"--tls-dir", asWorker}},
		{"wrong token", "unknown or missing bearer token", []string{"--tls-dir", certs, "--token-file", badToken}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cliFails(t, c.want, append([]string{"jobs", "--coordinator", coord.addr}, c.flags...)...)
			if c.flags != nil { // (plaintext waits for the coordinator to start: once is enough)
				cliFails(t, c.want, append([]string{"submit", "wordcount", "--coordinator", coord.addr, "--input", in,
					"--out", filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "-"))}, c.flags...)...)
			}
		})
	}
	// The server, not only the CLI, refuses a client that has no
	// certificate: a raw TLS connection trusting the CA gets no answer.
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(filepath.Join(certs, "ca.pem"))
	pool.AppendCertsFromPEM(ca)
	if nc, err := tls.Dial("tcp", coord.addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2"}}); err == nil {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Error("the coordinator talked to a client without a certificate")
		}
		nc.Close()
	}

	// A rogue worker with another CA's certificate never registers.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rogue := exec.CommandContext(ctx, binary(t), "worker", "--coordinator", coord.addr, "--listen", "127.0.0.1:0",
		"--tls-dir", other, "--data-dir", filepath.Join(dir, "rogue"))
	var rerr bytes.Buffer
	rogue.Stderr = &rerr
	if err := rogue.Run(); err == nil || ctx.Err() != nil {
		t.Fatalf("a worker of another CA: %v (%s)", err, rerr.String())
	}
	tl, err := security.LoadTLS(certs, security.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := security.ReadToken(filepath.Join(certs, "token"))
	client, err := cluster.Dial(context.Background(), coord.addr, cluster.WithTLS(tl), cluster.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ws, err := client.CC.ListWorkers(context.Background(), &pb.ListWorkersRequest{})
	if err != nil || len(ws.GetWorkers()) != 2 {
		t.Fatalf("workers after the rogue tried: %v %v", ws.GetWorkers(), err)
	}

	// Reload: a new coordinator certificate (same CA) is served to the
	// next connection, and jobs keep running.
	before := servedSerial(t, certs, coord.addr)
	runCLI(t, "certs", "issue", "--dir", certs, "--role", "coordinator")
	after := servedSerial(t, certs, coord.addr)
	if before == after || after != fileSerial(t, filepath.Join(certs, "coordinator.pem")) {
		t.Fatalf("served certificate %s before, %s after replacing coordinator.pem (now %s)", before, after,
			fileSerial(t, filepath.Join(certs, "coordinator.pem")))
	}
	got2 := filepath.Join(dir, "cluster-2")
	runCLI(t, "submit", "wordcount", "--coordinator", coord.addr, "--tls-dir", certs, "--partitions", "4",
		"--input", in, "--out", got2, "--progress", "none")
	if !bytes.Equal(concat(t, got2), concat(t, want)) {
		t.Fatal("the job after the reload differs")
	}

	// Secure by default: beyond loopback without TLS nothing starts.
	cliFails(t, "superstep certs init", "coordinator", "--listen", "0.0.0.0:0")
	cliFails(t, "superstep certs init", "worker", "--listen", "0.0.0.0:0", "--advertise", "127.0.0.1:1", "--coordinator", coord.addr, "--data-dir", filepath.Join(dir, "w9"))
}
