package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Role is what a certificate lets its holder do in the cluster. It is
// written into the certificate as the URI SAN superstep://role/<role>.
type Role string

// The roles of a cluster's certificates.
const (
	RoleCoordinator Role = "coordinator" // raft peers; the coordinator service
	RoleWorker      Role = "worker"      // registers, takes tasks, serves shuffle files
	RoleClient      Role = "client"      // submits and watches jobs (with a token)
)

// Roles lists every role, in the order certs init writes them.
var Roles = []Role{RoleCoordinator, RoleWorker, RoleClient}

// ParseRole parses a --role value.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (coordinator, worker or client)", s)
}

// roleURIPrefix is the URI SAN that carries a certificate's role.
const roleURIPrefix = "superstep://role/"

// Files names the files of a TLS directory (certs init --dir, --tls-dir).
type Files struct{ Dir string }

// CA is the CA certificate; CAKey its key.
func (f Files) CA() string    { return filepath.Join(f.Dir, "ca.pem") }
func (f Files) CAKey() string { return filepath.Join(f.Dir, "ca-key.pem") }

// Cert and Key are the certificate and key of a role (or of a name given
// to certs issue).
func (f Files) Cert(name string) string { return filepath.Join(f.Dir, name+".pem") }
func (f Files) Key(name string) string  { return filepath.Join(f.Dir, name+"-key.pem") }

// Token is the admin token certs init writes; Tokens the hashed tokens a
// coordinator accepts.
func (f Files) Token() string  { return filepath.Join(f.Dir, "token") }
func (f Files) Tokens() string { return filepath.Join(f.Dir, "tokens") }

// CertOptions configures the certificates certs init and issue write.
type CertOptions struct {
	Hosts []string      // DNS names and IPs put in the SANs, with loopback
	Valid time.Duration // validity; 0: a year
	// NotBefore, when set, is the start of the validity (tests make
	// expired certificates with it); zero: now, less a minute of skew.
	NotBefore time.Time
}

func (o CertOptions) window() (time.Time, time.Time) {
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	v := o.Valid
	if v <= 0 {
		v = 365 * 24 * time.Hour
	}
	return nb, nb.Add(v)
}

// ErrExists means certs init found files it would overwrite.
var ErrExists = errors.New("certificate files already exist")

// Init writes a new CA and a certificate for every role into dir (ca.pem,
// ca-key.pem, coordinator.pem, worker.pem, client.pem, each with its
// -key.pem), an admin token in dir/token and its hash in dir/tokens. Keys
// and the token are written mode 0600. It refuses to overwrite an existing
// CA.
func Init(dir string, o CertOptions) error {
	f := Files{dir}
	if _, err := os.Stat(f.CA()); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, f.CA())
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	nb, na := o.window()
	ca := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "superstep cluster CA", Organization: []string{"superstep"}},
		NotBefore: nb, NotAfter: na.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := writeKey(f.CAKey(), key); err != nil {
		return err
	}
	if err := writePEM(f.CA(), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	for _, r := range Roles {
		if err := Issue(dir, r, string(r), o); err != nil {
			return err
		}
	}
	tok, err := NewToken()
	if err != nil {
		return err
	}
	if err := os.WriteFile(f.Token(), []byte(tok+"\n"), 0o600); err != nil {
		return err
	}
	return AddToken(f.Tokens(), tok, TokenAdmin, "admin")
}

// Issue writes one more certificate of role, signed by the CA in dir, as
// dir/name.pem and dir/name-key.pem (mode 0600). The certificate's common
// name is name; workers are bound to it (see Identity).
func Issue(dir string, role Role, name string, o CertOptions) error {
	return IssueTo(dir, dir, role, name, o)
}

// IssueTo is Issue with the CA read from caDir and the certificate and
// key written to outDir, with a copy of the CA certificate (ca.pem) when
// outDir has none: a directory of its own for one process, such as a
// Kubernetes init container's issuing a worker's certificate for its pod
// IP into a volume the worker mounts, without the CA key.
func IssueTo(caDir, outDir string, role Role, name string, o CertOptions) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if err := ValidName("certificate", name); err != nil {
		return err
	}
	ca, f := Files{caDir}, Files{outDir}
	caCert, caKey, err := loadCA(ca)
	if err != nil {
		return err
	}
	if caDir != outDir {
		if err := os.MkdirAll(outDir, 0o700); err != nil {
			return err
		}
		if _, err := os.Stat(f.CA()); errors.Is(err, fs.ErrNotExist) {
			b, err := os.ReadFile(ca.CA())
			if err != nil {
				return err
			}
			if err := os.WriteFile(f.CA(), b, 0o644); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	nb, na := o.window()
	if na.After(caCert.NotAfter) {
		na = caCert.NotAfter
	}
	u, _ := url.Parse(roleURIPrefix + string(role))
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name, Organization: []string{"superstep"},
		OrganizationalUnit: []string{string(role)}}, NotBefore: nb, NotAfter: na, URIs: []*url.URL{u},
		KeyUsage: x509.KeyUsageDigitalSignature}
	switch role {
	case RoleClient:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default: // coordinators and workers both serve and dial
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, o.Hosts...)
	seen := map[string]bool{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeKey(f.Key(name), key); err != nil {
		return err
	}
	return writePEM(f.Cert(name), "CERTIFICATE", der, 0o644)
}

func loadCA(f Files) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(f.CA())
	if err != nil {
		return nil, nil, fmt.Errorf("no cluster CA (run `superstep certs init`): %w", err)
	}
	kb, err := os.ReadFile(f.CAKey())
	if err != nil {
		return nil, nil, fmt.Errorf("the CA key is needed to issue certificates: %w", err)
	}
	cblk, _ := pem.Decode(cb)
	kblk, _ := pem.Decode(kb)
	if cblk == nil || kblk == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", f.CA(), f.CAKey())
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.CA(), err)
	}
	key, err := x509.ParseECPrivateKey(kblk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.CAKey(), err)
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

// writePEM writes the file whole (a temporary file renamed into place), so
// that a process reloading it never reads half of it.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// RoleOf returns the role a certificate carries in its URI SAN.
func RoleOf(c *x509.Certificate) (Role, bool) {
	for _, u := range c.URIs {
		if s := u.String(); strings.HasPrefix(s, roleURIPrefix) {
			if r, err := ParseRole(strings.TrimPrefix(s, roleURIPrefix)); err == nil {
				return r, true
			}
		}
	}
	return "", false
}

// Identity names the holder of a certificate: its role and common name.
// Every process given the same certificate (one worker.pem for a test
// cluster) has the same identity; certs issue --name gives each its own.
func Identity(c *x509.Certificate) string {
	r, _ := RoleOf(c)
	return string(r) + "/" + c.Subject.CommonName
}

// Fingerprint is the SHA-256 of a certificate, in hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}
