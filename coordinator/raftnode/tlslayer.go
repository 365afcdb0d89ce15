package raftnode

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// TLSConfig makes raft between coordinators speak TLS (Config.TLS): every
// accepted connection uses Server and every dialed one Client, below the
// cluster handshake. The configurations decide what a peer must present
// (package security: mutual TLS 1.3, the cluster CA, the coordinator
// role).
type TLSConfig struct {
	Server *tls.Config
	Client *tls.Config
}

// listen wraps a raft listener in TLS (nil: plaintext).
func (t *TLSConfig) listen(lis net.Listener) net.Listener {
	if t == nil {
		return lis
	}
	return tls.NewListener(lis, t.Server)
}

// dial wraps a dialed raft connection in TLS, verifying the peer's
// certificate against the host of addr, and completes the handshake
// within timeout (nil: plaintext).
func (t *TLSConfig) dial(c net.Conn, addr string, timeout time.Duration) (net.Conn, error) {
	if t == nil {
		return c, nil
	}
	cfg := t.Client.Clone()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// tlsStreamLayer is the transport of a single coordinator with a data
// directory and TLS: a TLS listener and TLS dials, without the cluster
// handshake (there are no peers to agree with).
type tlsStreamLayer struct {
	net.Listener
	adv net.Addr
	tls *TLSConfig
}

func newTLSStreamLayer(bind string, adv net.Addr, t *TLSConfig) (*tlsStreamLayer, error) {
	lis, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if adv == nil {
		adv = lis.Addr()
	}
	return &tlsStreamLayer{Listener: t.listen(lis), adv: adv, tls: t}, nil
}

// Addr implements net.Listener: the advertised address.
func (l *tlsStreamLayer) Addr() net.Addr { return l.adv }

// Dial implements raft.StreamLayer.
func (l *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	return l.tls.dial(c, string(addr), timeout)
}
