package security

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// handshake runs a TLS handshake between a server of srvRole allowing
// peers and a client holding cli, over a loopback connection, and returns
// the server certificate the client saw, the server's error and the
// client's error.
func handshake(t *testing.T, srv *TLS, allow []Role, cli *TLS, want ...Role) (*x509.Certificate, error, error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv.ServerConfig(allow...))
		c.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte("x")) // the client reads it: TLS 1.3 reports client-cert failures on read
		}
		srvErr <- err
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc := tls.Client(c, cli.ClientConfig(want...))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	cerr := cc.Handshake()
	var seen *x509.Certificate
	if cerr == nil {
		seen = cc.ConnectionState().PeerCertificates[0]
		_, cerr = cc.Read(make([]byte, 1))
	}
	return seen, <-srvErr, cerr
}

func TestInitFilesAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if err := Init(dir, CertOptions{Hosts: []string{"node1", "192.0.2.3"}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ca", "coordinator", "worker", "client"} {
		for _, f := range []string{n + ".pem", n + "-key.pem"} {
			fi, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if want := os.FileMode(0o600); filepath.Ext(f) == ".pem" && len(f) > 8 && f[len(f)-8:] == "-key.pem" && fi.Mode().Perm() != want {
				t.Errorf("%s has mode %v, want %v", f, fi.Mode().Perm(), want)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token: %v %v", fi, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "worker.pem"))
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := RoleOf(c); !ok || r != RoleWorker {
		t.Fatalf("worker.pem carries role %q", r)
	}
	if c.PublicKeyAlgorithm != x509.ECDSA || c.VerifyHostname("node1") != nil || c.VerifyHostname("192.0.2.3") != nil ||
		c.VerifyHostname("127.0.0.1") != nil || c.VerifyHostname("::1") != nil || c.VerifyHostname("other") == nil {
		t.Fatalf("worker.pem: algorithm %v, DNS %v, IPs %v", c.PublicKeyAlgorithm, c.DNSNames, c.IPAddresses)
	}
	if err := Init(dir, CertOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("a second init over the CA: %v", err)
	}
	// The admin token is accepted by the tokens file; another is not.
	tok, err := ReadToken(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := NewTokenStore(filepath.Join(dir, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ts.Lookup(tok); err != nil || p.Role != TokenAdmin {
		t.Fatalf("admin token: %v %v", p, err)
	}
	if _, err := ts.Lookup(tok + "0"); !errors.Is(err, ErrBadToken) {
		t.Fatalf("a wrong token: %v", err)
	}
	sub, _ := NewToken()
	if err := AddToken(filepath.Join(dir, "tokens"), sub, TokenSubmit, "alice"); err != nil {
		t.Fatal(err)
	}
	if p, err := ts.Lookup(sub); err != nil || p != (Principal{Name: "alice", Role: TokenSubmit}) {
		t.Fatalf("a token added while running: %v %v", p, err)
	}
}

func TestHandshakeRoles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	other := filepath.Join(t.TempDir(), "other")
	if err := Init(dir, CertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Init(other, CertOptions{}); err != nil {
		t.Fatal(err)
	}
	// An expired client certificate from the right CA.
	if err := Issue(dir, RoleClient, "expired", CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), Valid: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	load := func(d string, r Role, name string) *TLS {
		t.Helper()
		x, err := LoadTLSNamed(d, r, name)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	coord := load(dir, RoleCoordinator, "coordinator")
	worker := load(dir, RoleWorker, "worker")
	client := load(dir, RoleClient, "client")
	for _, c := range []struct {
		name  string
		cli   *TLS
		allow []Role
		ok    bool
	}{
		{"client to coordinator", client, []Role{RoleClient}, true},
		{"worker to worker-only server", worker, []Role{RoleWorker}, true},
		{"client cert where workers only", client, []Role{RoleWorker}, false},
		{"other CA", load(other, RoleClient, "client"), Roles, false},
		{"expired", forceLoad(t, dir, "expired"), Roles, false},
	} {
		_, se, ce := handshake(t, coord, c.allow, c.cli, RoleCoordinator)
		if (se == nil && ce == nil) != c.ok {
			t.Errorf("%s: server %v, client %v; want ok=%v", c.name, se, ce, c.ok)
		}
	}
	// The client refuses a server of the wrong role.
	if _, _, ce := handshake(t, worker, Roles, client, RoleCoordinator); ce == nil {
		t.Error("a client accepted a worker certificate as its coordinator")
	}
	// No client certificate at all.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, coord.ServerConfig(Roles...))
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			tc.Handshake()
			tc.Close()
		}
	}()
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool.AppendCertsFromPEM(ca)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	nc, err := tls.DialWithDialer(dialer, "tcp", lis.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13})
	if err == nil {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		nc.Close()
	}
	if err == nil {
		t.Error("a client without a certificate got through")
	}
	// TLS 1.2 is refused.
	nc, err = tls.DialWithDialer(dialer, "tcp", lis.Addr().String(), &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12})
	if err == nil {
		nc.Close()
		t.Error("TLS 1.2 handshake succeeded")
	}
}

// TestReload: a certificate replaced on disk is served by the next
// handshake, without a restart.
func TestReload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if err := Init(dir, CertOptions{}); err != nil {
		t.Fatal(err)
	}
	coord, _ := LoadTLS(dir, RoleCoordinator)
	client, _ := LoadTLS(dir, RoleClient)
	before, _, _ := handshake(t, coord, Roles, client, RoleCoordinator)
	if err := Issue(dir, RoleCoordinator, "coordinator", CertOptions{}); err != nil {
		t.Fatal(err)
	}
	after, se, ce := handshake(t, coord, Roles, client, RoleCoordinator)
	if se != nil || ce != nil {
		t.Fatal(se, ce)
	}
	if before == nil || after == nil || before.SerialNumber.Cmp(after.SerialNumber) == 0 {
		t.Fatal("the replaced certificate was not picked up by a new connection")
	}
}

// forceLoad loads a certificate as LoadTLS does but without its validity
// check, as a client that does not check its own would.
func forceLoad(t *testing.T, dir, name string) *TLS {
	t.Helper()
	if _, err := LoadTLSNamed(dir, RoleClient, name); !errors.Is(err, ErrCertExpired) {
		t.Fatalf("loading expired %s: %v", name, err)
	}
	f := Files{dir}
	cert, err := tls.LoadX509KeyPair(f.Cert(name), f.Key(name))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(f.CA())
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &TLS{files: f, name: name, role: RoleClient, cert: &cert, pool: pool,
		stamps: [3]fileStamp{stampOf(f.Cert(name)), stampOf(f.Key(name)), stampOf(f.CA())}}
}

// IssueTo writes a worker's certificate for its pod IP, its key and the CA
// certificate into a directory of their own, without the CA key, and a
// coordinator that dials the worker by that IP accepts the certificate.
func TestIssueToOwnDir(t *testing.T) {
	caDir, out := t.TempDir(), filepath.Join(t.TempDir(), "tls")
	if err := Init(caDir, CertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := IssueTo(caDir, out, RoleWorker, "worker", CertOptions{Hosts: []string{"192.0.2.3"}}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := fmt.Sprint(names); got != "[ca.pem worker-key.pem worker.pem]" {
		t.Fatalf("the out directory holds %s, want ca.pem, worker.pem, worker-key.pem only", got)
	}
	ca1, _ := os.ReadFile(filepath.Join(caDir, "ca.pem"))
	ca2, _ := os.ReadFile(filepath.Join(out, "ca.pem"))
	if len(ca1) == 0 || string(ca1) != string(ca2) {
		t.Fatal("ca.pem in the out directory is not the CA's certificate")
	}
	w, err := LoadTLS(out, RoleWorker)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadTLS(caDir, RoleCoordinator)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, _ := w.current()
	if err := c.verifyPeer([]*x509.Certificate{cert.Leaf}, x509.ExtKeyUsageServerAuth, "192.0.2.3", []Role{RoleWorker}); err != nil {
		t.Fatalf("a coordinator dialing 192.0.2.3 refuses the issued certificate: %v", err)
	}
	if err := c.verifyPeer([]*x509.Certificate{cert.Leaf}, x509.ExtKeyUsageServerAuth, "192.0.2.4", []Role{RoleWorker}); err == nil {
		t.Fatal("the certificate is accepted for another pod's IP")
	}
}
