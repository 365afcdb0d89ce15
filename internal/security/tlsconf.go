package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrCertExpired means a process's own certificate is outside its
// validity period: renew it with `superstep certs issue`.
var ErrCertExpired = errors.New("certificate expired or not yet valid")

// ErrPeerRole means a peer's certificate is valid but its role may not do
// what it asked (a worker certificate used as a client, a client
// certificate registering as a worker).
var ErrPeerRole = errors.New("certificate role not allowed")

// TLS is a process's TLS material: the certificate and key of its own role
// (or name) and the cluster CA, from a directory (--tls-dir). Every
// handshake checks whether the files changed and rereads them if so, so
// that certificates are replaced without a restart; a file caught half
// replaced keeps the last good material. Only TLS 1.3 is spoken, and both
// ends must present a certificate signed by the cluster CA that carries a
// role (URI SAN superstep://role/ROLE).
//
// A nil *TLS means plaintext: its methods return insecure credentials.
type TLS struct {
	files Files
	name  string
	role  Role

	mu     sync.Mutex // guards the fields below
	stamps [3]fileStamp
	cert   *tls.Certificate
	pool   *x509.CertPool
}

// LoadTLS loads the files of role from dir: DIR/ROLE.pem, DIR/ROLE-key.pem
// and DIR/ca.pem.
func LoadTLS(dir string, role Role) (*TLS, error) { return LoadTLSNamed(dir, role, string(role)) }

// LoadTLSNamed loads DIR/NAME.pem and its key (a certificate of role made
// by certs issue --name NAME) and DIR/ca.pem.
func LoadTLSNamed(dir string, role Role, name string) (*TLS, error) {
	t := &TLS{files: Files{dir}, name: name, role: role}
	if _, _, err := t.current(); err != nil {
		return nil, err
	}
	return t, nil
}

// Role is the role of this process's certificate.
func (t *TLS) Role() Role { return t.role }

// Dir is the TLS directory.
func (t *TLS) Dir() string { return t.files.Dir }

func (t *TLS) current() (*tls.Certificate, *x509.CertPool, error) {
	paths := [3]string{t.files.Cert(t.name), t.files.Key(t.name), t.files.CA()}
	var st [3]fileStamp
	for i, p := range paths {
		st[i] = stampOf(p)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cert != nil && st == t.stamps {
		return t.cert, t.pool, nil
	}
	cert, pool, err := loadMaterial(paths[0], paths[1], paths[2])
	if err != nil {
		if t.cert != nil {
			return t.cert, t.pool, nil // a file is being replaced: keep the last good material
		}
		return nil, nil, fmt.Errorf("%w (run `superstep certs init --dir %s`)", err, t.files.Dir)
	}
	t.cert, t.pool, t.stamps = cert, pool, st
	return cert, pool, nil
}

func loadMaterial(certFile, keyFile, caFile string) (*tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %s: %w", certFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, nil, err
		}
	}
	if now := time.Now(); now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore) {
		return nil, nil, fmt.Errorf("tls: %s: %w (valid from %s to %s)", certFile, ErrCertExpired,
			cert.Leaf.NotBefore.UTC().Format(time.RFC3339), cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, nil, fmt.Errorf("tls: %s holds no certificate", caFile)
	}
	return &cert, pool, nil
}

// verifyPeer checks a peer's chain against the current CA, for usage, and
// that it carries one of the roles.
func (t *TLS) verifyPeer(certs []*x509.Certificate, usage x509.ExtKeyUsage, host string, roles []Role) error {
	if len(certs) == 0 {
		return errors.New("tls: the peer presented no certificate")
	}
	_, pool, err := t.current()
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: host,
		KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("tls: the peer's certificate is not valid for this cluster: %w", err)
	}
	r, ok := RoleOf(certs[0])
	if !ok || !slices.Contains(roles, r) {
		return fmt.Errorf("%w: a %q certificate cannot connect here (want %v)", ErrPeerRole, r, roles)
	}
	return nil
}

// ServerConfig is the configuration of a listener that accepts peers
// holding one of roles.
func (t *TLS) ServerConfig(roles ...Role) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAnyClientCert, // verified below, against the current CA
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, _, err := t.current()
			return c, err
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return t.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, "", roles)
		},
	}
}

// ClientConfig is the configuration of a connection to a server holding
// one of roles; the server's certificate must name the host dialed.
func (t *TLS) ClientConfig(roles ...Role) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // verified below, against the current CA and with the host name
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, _, err := t.current()
			return c, err
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return t.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, cs.ServerName, roles)
		},
	}
}

// ServerCreds are gRPC server credentials accepting peers of any role;
// the interceptors (Authorizer) decide per method. Nil: plaintext.
func (t *TLS) ServerCreds() credentials.TransportCredentials {
	if t == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(t.ServerConfig(Roles...))
}

// ClientCreds are gRPC client credentials for a server of one of roles.
// Nil: plaintext.
func (t *TLS) ClientCreds(roles ...Role) credentials.TransportCredentials {
	if t == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(t.ClientConfig(roles...))
}
