package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/coordinator/redirect"
	"github.com/superstep/superstep/internal/security"
)

// Client talks to the coordinators of a cluster: every call goes to the
// leader, follows redirects and rides out a leader change or a restart for
// the Conn's retry period (see package redirect).
type Client struct {
	addrs string
	tls   *security.TLS // nil: plaintext (also for fetching collected outputs)
	conn  *redirect.Conn
	CC    pb.CoordinatorClient
}

// ErrUnreachable means no coordinator answered at the addresses.
var ErrUnreachable = errors.New("coordinator unreachable")

// DialConfig configures DialWith.
type DialConfig struct {
	// RetryFor bounds how long a call keeps retrying while no coordinator
	// leads (redirect.Options.RetryFor); zero: redirect.DefaultRetryFor.
	RetryFor time.Duration
	// ProbeFor bounds how long Dial waits for a leader to answer; zero:
	// the smaller of RetryFor and 5 s.
	ProbeFor time.Duration
	// DialOptions are added to every connection.
	DialOptions []grpc.DialOption
	// TLS makes the client speak mutual TLS with the client role's
	// certificate, and Token is sent with every call (it needs TLS); see
	// WithTLS and WithToken.
	TLS   *security.TLS
	Token string
}

// Dial connects to the coordinators at addrs (comma-separated host:port)
// with the default retry period.
func Dial(ctx context.Context, addrs string, opts ...DialOption) (*Client, error) {
	var cfg DialConfig
	for _, o := range opts {
		o(&cfg)
	}
	return DialWith(ctx, addrs, cfg)
}

// DialWith connects to the coordinators at addrs and checks that a leader
// answers.
func DialWith(ctx context.Context, addrs string, cfg DialConfig) (*Client, error) {
	list, err := redirect.ParseAddrs(addrs)
	if err != nil {
		return nil, err
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = redirect.DefaultRetryFor
	}
	if cfg.ProbeFor <= 0 {
		cfg.ProbeFor = min(cfg.RetryFor, 5*time.Second)
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.ProbeFor)
	defer cancel()
	hs := newHandshakes(cfg.TLS.ClientCreds(security.RoleCoordinator), cancel) // a refusal is not a slow start
	opts := append(append([]grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20),
		grpc.MaxCallSendMsgSize(256<<20))}, cfg.credentials(hs)...), cfg.DialOptions...)
	conn, err := redirect.Dial(list, redirect.Options{RetryFor: cfg.RetryFor, DialOptions: opts})
	if err != nil {
		return nil, err
	}
	c := &Client{addrs: strings.Join(list, ","), tls: cfg.TLS, conn: conn, CC: pb.NewCoordinatorClient(conn)}
	if _, err := c.CC.ListWorkers(cctx, &pb.ListWorkersRequest{}); err != nil {
		conn.Close()
		if refused := authError(err, hs); refused != nil {
			return nil, fmt.Errorf("coordinator at %s: %w", c.addrs, refused)
		}
		hint := ""
		if cfg.TLS == nil {
			hint = "; a coordinator with TLS needs --tls-dir"
		}
		return nil, fmt.Errorf("%w: no coordinator at %s: is `superstep coordinator` running? (%v)%s", ErrUnreachable,
			c.addrs, status.Convert(err).Message(), hint)
	}
	return c, nil
}

// Close closes the connections. Idempotent.
func (c *Client) Close() error { return c.conn.Close() }
