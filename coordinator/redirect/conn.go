package redirect

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// Options configure a Conn.
type Options struct {
	// RetryFor bounds how long one call keeps retrying while no leader
	// answers (a leader change, a restart). Zero: DefaultRetryFor.
	RetryFor time.Duration
	// DialOptions are added to every connection (credentials, sizes).
	// Without transport credentials the connections are insecure.
	DialOptions []grpc.DialOption
}

// DefaultRetryFor is long enough for an election and a coordinator
// restart.
const DefaultRetryFor = time.Minute

// maxConns bounds the connections a Conn opens (the configured addresses
// plus leaders it was redirected to), so that redirects from the network
// cannot make it dial without end.
const maxConns = 16

// Conn is a grpc.ClientConnInterface over the coordinators at a list of
// addresses (see the package comment). It is safe for concurrent use.
type Conn struct {
	opts  Options
	addrs []string

	mu     sync.Mutex // guards the fields below
	conns  map[string]*grpc.ClientConn
	leader string        // the address calls go to first; "" unknown
	slow   int           // calls to leader in a row that timed out
	next   int           // the address to try next while no leader is known
	change chan struct{} // closed and replaced when leader changes
	closed bool
}

// Dial returns a Conn over addrs. It does not wait for any of them.
func Dial(addrs []string, opts Options) (*Conn, error) {
	if len(addrs) == 0 {
		return nil, errors.New("redirect: no coordinator addresses")
	}
	for _, a := range addrs {
		if err := checkAddr(a); err != nil {
			return nil, err
		}
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = DefaultRetryFor
	}
	return &Conn{opts: opts, addrs: addrs, conns: map[string]*grpc.ClientConn{}, change: make(chan struct{})}, nil
}

// Addrs is the configured list.
func (c *Conn) Addrs() []string { return c.addrs }

// LeaderChanged is closed when the address calls go to changes (a
// redirect, or a failure of the one in use): a long-lived stream opened
// before should be opened again.
func (c *Conn) LeaderChanged() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.change
}

// Close closes every connection. Idempotent.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for a, cc := range c.conns {
		errs = append(errs, cc.Close())
		delete(c.conns, a)
	}
	return errors.Join(errs...)
}

var errClosed = status.Error(codes.Canceled, "redirect: connection closed")

// pick returns the address to call and its connection.
func (c *Conn) pick() (string, *grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return "", nil, errClosed
	}
	addr := c.leader
	if addr == "" {
		addr = c.addrs[c.next%len(c.addrs)]
	}
	cc, err := c.connLocked(addr)
	return addr, cc, err
}

func (c *Conn) connLocked(addr string) (*grpc.ClientConn, error) {
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	if len(c.conns) >= maxConns {
		// Drop a connection to an address that is not configured; the
		// configured ones stay.
		for a, cc := range c.conns {
			if !slices.Contains(c.addrs, a) && a != c.leader {
				cc.Close()
				delete(c.conns, a)
				break
			}
		}
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// No gRPC service config is used: skip its DNS TXT lookup, which
		// on a network without an upstream resolver (an internal Swarm
		// overlay) blocks every dial for the resolver's timeout.
		grpc.WithDisableServiceConfig(),
		// A leader that stops answering (frozen, partitioned) is noticed
		// within a few seconds even on an idle stream.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 2 * time.Second, Timeout: 2 * time.Second,
			PermitWithoutStream: true}),
	}, c.opts.DialOptions...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	c.conns[addr] = cc
	return cc, nil
}

// answered records that addr answered as the leader.
func (c *Conn) answered(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLeaderLocked(addr)
}

// failed records a failed call to addr and says whether to retry at once
// (a redirect named another leader) or after a pause.
func (c *Conn) failed(addr string, err error) (retry, now bool) {
	leader, redirected := Leader(err)
	code := status.Code(err)
	if !redirected && code != codes.Unavailable && code != codes.DeadlineExceeded {
		return false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if redirected && leader != "" && leader != addr {
		c.setLeaderLocked(leader)
		return true, true
	}
	// addr does not lead, or does not answer: try the others in turn. A
	// call that timed out may only have met a busy leader: one is
	// forgiven, so that long-lived streams to it are not dropped for it.
	if c.leader == addr {
		if code == codes.DeadlineExceeded && !redirected {
			if c.slow++; c.slow < 2 {
				return false, false
			}
		}
		c.setLeaderLocked("")
	}
	if c.addrs[c.next%len(c.addrs)] == addr {
		c.next++
	}
	return code == codes.Unavailable, false
}

func (c *Conn) setLeaderLocked(addr string) {
	c.slow = 0
	if c.leader == addr {
		return
	}
	c.leader = addr
	close(c.change)
	c.change = make(chan struct{})
}

// retry runs call until it succeeds, fails with an error that a retry
// does not help, ctx ends, or RetryFor passes. A success shows the address
// leads when confirms is set (a call answered; a stream opened locally
// shows nothing yet).
func (c *Conn) retry(ctx context.Context, confirms bool, call func(addr string, cc *grpc.ClientConn) error) error {
	deadline := time.Now().Add(c.opts.RetryFor)
	pause := 20 * time.Millisecond
	for hops := 0; ; {
		addr, cc, err := c.pick()
		if err != nil {
			return err
		}
		err = call(addr, cc)
		if err == nil {
			if confirms {
				c.answered(addr)
			}
			return nil
		}
		retry, now := c.failed(addr, err)
		if !retry || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		if now && hops < 2*len(c.addrs) {
			hops++
			continue
		}
		hops = 0
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// Invoke implements grpc.ClientConnInterface.
func (c *Conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.retry(ctx, true, func(_ string, cc *grpc.ClientConn) error {
		return cc.Invoke(ctx, method, args, reply, opts...)
	})
}

// NewStream implements grpc.ClientConnInterface. Opening the stream is
// retried like a call; what the stream returns later is the caller's to
// handle (a redirect or a lost leader shows as an error of RecvMsg, which
// also points the Conn at the next leader, so that opening the stream
// again reaches it).
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	var out grpc.ClientStream
	err := c.retry(ctx, false, func(addr string, cc *grpc.ClientConn) error {
		s, err := cc.NewStream(ctx, desc, method, opts...)
		if err == nil {
			out = &stream{ClientStream: s, conn: c, addr: addr}
		}
		return err
	})
	return out, err
}

// stream watches what a stream returns to keep its Conn's leader current.
type stream struct {
	grpc.ClientStream
	conn *Conn
	addr string
	got  bool
}

func (s *stream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		if !s.got {
			s.got = true
			s.conn.answered(s.addr)
		}
	default:
		s.conn.failed(s.addr, err)
	}
	return err
}
