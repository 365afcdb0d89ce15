package raftnode

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// ErrPeersDisagree is matched by the error of a node whose --peers differ
// from those of the peers it reached: their cluster IDs differ, so the two
// were not started as members of one cluster.
var ErrPeersDisagree = errors.New("raftnode: peers lists disagree")

// The raft connections of a cluster open with a handshake in each
// direction, before raft's own protocol:
//
//	magic "SSR1" | cluster ID (16 bytes) | node ID | gRPC address
//
// (the two strings each one length byte, then the bytes). The acceptor
// answers with its own hello, and both sides drop the connection when the
// cluster IDs differ. This keeps nodes started
// with different --peers from ever exchanging raft messages, and tells
// every node the gRPC address of the peers it talks to: the leader dials
// every follower, so each follower learns the leader's address and the
// leader learns all of theirs.
const handshakeMagic = "SSR1"

// handshakeTimeout bounds a handshake; a peer that does not finish it in
// time is dropped.
const handshakeTimeout = 3 * time.Second

type hello struct {
	cluster [16]byte
	node    string
	grpc    string
}

func (h hello) encode() []byte {
	b := append([]byte(handshakeMagic), h.cluster[:]...)
	b = append(b, byte(len(h.node)))
	b = append(b, h.node...)
	b = append(b, byte(len(h.grpc)))
	return append(b, h.grpc...)
}

func readHello(r io.Reader) (hello, error) {
	var h hello
	head := make([]byte, len(handshakeMagic)+16)
	if _, err := io.ReadFull(r, head); err != nil {
		return h, err
	}
	if string(head[:len(handshakeMagic)]) != handshakeMagic {
		return h, errors.New("not a superstep raft peer")
	}
	copy(h.cluster[:], head[len(handshakeMagic):])
	str := func() (string, error) {
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return "", err
		}
		b := make([]byte, n[0])
		_, err := io.ReadFull(r, b)
		return string(b), err
	}
	var err error
	if h.node, err = str(); err != nil {
		return h, err
	}
	if err := ValidateID(h.node); err != nil {
		return h, err
	}
	h.grpc, err = str()
	return h, err
}

// peerInfo is what this node learnt of a peer from handshakes and traffic.
type peerInfo struct {
	grpc        string
	lastContact *atomic.Int64 // unix nanoseconds of the last byte read from it
}

// directory records the peers this node reached and the mismatches seen.
type directory struct {
	onMismatch func(node, remote string, theirs [16]byte)

	mu    sync.Mutex // guards the fields below
	peers map[string]peerInfo
	// matched is set by the first handshake with a peer of this cluster.
	matched bool
}

func (d *directory) learn(h hello) *atomic.Int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.matched = true
	p, ok := d.peers[h.node]
	if !ok {
		p.lastContact = new(atomic.Int64)
	}
	if h.grpc != "" {
		p.grpc = h.grpc
	}
	d.peers[h.node] = p
	p.lastContact.Store(time.Now().UnixNano())
	return p.lastContact
}

func (d *directory) get(node string) (peerInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.peers[node]
	return p, ok
}

func (d *directory) hasMatched() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.matched
}

// streamLayer is a raft.StreamLayer over TCP whose connections start with
// the handshake. Accepted connections are handshaken on their own
// goroutines (owned by the layer, waited for by Close) so that a slow
// peer cannot hold up the others.
type streamLayer struct {
	lis   net.Listener
	adv   net.Addr
	self  hello
	dir   *directory
	conns chan net.Conn
	tls   *TLSConfig // nil: plaintext (see tlslayer.go)

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

func newStreamLayer(bind string, adv net.Addr, self hello, dir *directory, t *TLSConfig) (*streamLayer, error) {
	lis, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	lis = t.listen(lis)
	if adv == nil {
		adv = lis.Addr()
	}
	l := &streamLayer{lis: lis, adv: adv, self: self, dir: dir, conns: make(chan net.Conn), closed: make(chan struct{}), tls: t}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

func (l *streamLayer) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.lis.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			hc, err := l.serverHandshake(c)
			if err != nil {
				c.Close()
				return
			}
			select {
			case l.conns <- hc:
			case <-l.closed:
				hc.Close()
			}
		}()
	}
}

func (l *streamLayer) serverHandshake(c net.Conn) (net.Conn, error) {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	h, err := readHello(c)
	if err != nil {
		return nil, err
	}
	// The answer goes out even to a mismatched peer, so that the dialer
	// learns of the mismatch too; then the connection is dropped.
	if _, err := c.Write(l.self.encode()); err != nil {
		return nil, err
	}
	if h.cluster != l.self.cluster {
		l.dir.onMismatch(h.node, c.RemoteAddr().String(), h.cluster)
		return nil, ErrPeersDisagree
	}
	if h.node == l.self.node {
		// Another process claims this node's ID.
		l.dir.onMismatch(h.node, c.RemoteAddr().String(), h.cluster)
		return nil, ErrPeersDisagree
	}
	_ = c.SetDeadline(time.Time{})
	return &contactConn{Conn: c, last: l.dir.learn(h)}, nil
}

// Accept implements net.Listener: the next handshaken connection.
func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener. Idempotent.
func (l *streamLayer) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.closed)
		err = l.lis.Close()
		l.wg.Wait()
	})
	return err
}

// Addr implements net.Listener: the advertised address.
func (l *streamLayer) Addr() net.Addr { return l.adv }

// Dial implements raft.StreamLayer.
func (l *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if c, err = l.tls.dial(c, string(addr), min(timeout, handshakeTimeout)); err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(min(timeout, handshakeTimeout)))
	if _, err := c.Write(l.self.encode()); err != nil {
		c.Close()
		return nil, err
	}
	h, err := readHello(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("raftnode: handshake with %s: %w", addr, err)
	}
	if h.cluster != l.self.cluster {
		c.Close()
		l.dir.onMismatch(h.node, string(addr), h.cluster)
		return nil, ErrPeersDisagree
	}
	_ = c.SetDeadline(time.Time{})
	return &contactConn{Conn: c, last: l.dir.learn(h)}, nil
}

// contactConn records when a peer last sent something.
type contactConn struct {
	net.Conn
	last *atomic.Int64
}

func (c *contactConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func clusterBytes(id string) [16]byte {
	var b [16]byte
	_, _ = hex.Decode(b[:], []byte(id))
	return b
}
