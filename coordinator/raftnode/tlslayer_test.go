package raftnode

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/internal/security"
)

// TestClusterOverTLS: three nodes whose raft connections speak mutual TLS
// with coordinator certificates elect a leader and replicate; a peer
// speaking plaintext to a raft port gets no handshake answer, and one
// holding a worker certificate is refused.
func TestClusterOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three raft nodes on loopback")
	}
	dir := filepath.Join(t.TempDir(), "tls")
	if err := security.Init(dir, security.CertOptions{}); err != nil {
		t.Fatal(err)
	}
	co, err := security.LoadTLS(dir, security.RoleCoordinator)
	if err != nil {
		t.Fatal(err)
	}
	tc := &TLSConfig{Server: co.ServerConfig(security.RoleCoordinator), Client: co.ClientConfig(security.RoleCoordinator)}
	c := newTestCluster(t, 3)
	for _, p := range c.peers {
		cfg := c.config(p.ID)
		cfg.TLS = tc
		n, err := NewNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[p.ID] = n
	}
	c.leader()
	c.proposeAny(coordinator.RegisterWorker{Worker: "w1", Addr: "a", Fingerprint: "fp", Slots: 1})

	// Plaintext: the cluster hello gets no answer (the TLS server reads it
	// as a bad record and closes).
	raw, err := net.DialTimeout("tcp", c.peers[0].Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	raw.Write((hello{node: "intruder"}).encode())
	if _, err := readHello(raw); err == nil {
		t.Fatal("a plaintext peer got a raft hello back")
	}
	// A worker certificate of the same CA is refused as a raft peer.
	wk, err := security.LoadTLS(dir, security.RoleWorker)
	if err != nil {
		t.Fatal(err)
	}
	bad := &TLSConfig{Client: wk.ClientConfig(security.RoleCoordinator)}
	conn, err := net.DialTimeout("tcp", c.peers[0].Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tcn, err := bad.dial(conn, c.peers[0].Addr, 5*time.Second); err == nil {
		tcn.SetDeadline(time.Now().Add(5 * time.Second))
		tcn.Write((hello{node: "intruder"}).encode())
		if _, err := readHello(tcn); err == nil {
			t.Fatal("a worker certificate got a raft hello back")
		}
		tcn.Close()
	}
}
