package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/superstep/superstep/internal/security"
)

// DialOption configures Dial.
type DialOption func(*DialConfig)

// WithTLS makes the client speak mutual TLS with t (the client role's
// certificate, see security.LoadTLS); nil keeps plaintext.
func WithTLS(t *security.TLS) DialOption { return func(c *DialConfig) { c.TLS = t } }

// WithToken sends a bearer token with every call (it needs TLS).
func WithToken(tok string) DialOption { return func(c *DialConfig) { c.Token = tok } }

// credentials are the transport (hs, wrapping the TLS or plaintext
// credentials) and per-call (the token) credentials of the connections.
func (c DialConfig) credentials(hs *handshakes) []grpc.DialOption {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(hs)}
	if c.Token != "" && c.TLS != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(security.Bearer(c.Token)))
	}
	return opts
}

// ErrRefused means the coordinator answered but refused this client (a
// certificate of the wrong role, a bad token), or that its certificate is
// not one of this cluster's.
var ErrRefused = errors.New("coordinator refused the client")

// authError tells a refusal from an unreachable coordinator, naming the
// reason: the client's own verification of the server's certificate
// (recorded by handshakes), or the server's answer.
func authError(err error, hs *handshakes) error {
	if herr := hs.last(); herr != nil {
		return fmt.Errorf("%w: TLS handshake: %w", ErrRefused, herr)
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("%w: %s", ErrRefused, st.Message())
	}
	return nil
}

// handshakes wraps transport credentials to keep the last client
// handshake error, which gRPC reports only as text, and to call onFail
// (which ends the probe of DialWith) when one fails.
type handshakes struct {
	credentials.TransportCredentials
	err    *atomic.Pointer[error]
	onFail func()
}

func newHandshakes(c credentials.TransportCredentials, onFail func()) *handshakes {
	return &handshakes{TransportCredentials: c, err: new(atomic.Pointer[error]), onFail: onFail}
}

func (h *handshakes) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, ai, err := h.TransportCredentials.ClientHandshake(ctx, authority, conn)
	if err != nil {
		h.err.Store(&err)
		h.onFail()
	}
	return c, ai, err
}

func (h *handshakes) Clone() credentials.TransportCredentials {
	return &handshakes{TransportCredentials: h.TransportCredentials.Clone(), err: h.err, onFail: h.onFail}
}

func (h *handshakes) last() error {
	if h == nil {
		return nil
	}
	if p := h.err.Load(); p != nil {
		return *p
	}
	return nil
}

// loadEmbeddedTLS loads every role's files of a certs init directory for
// an embedded cluster.
func loadEmbeddedTLS(dir string) (coord, client *security.TLS, token string, wk *security.TLS, tokens *security.TokenStore, err error) {
	f := security.Files{Dir: dir}
	if coord, err = security.LoadTLS(dir, security.RoleCoordinator); err != nil {
		return
	}
	if client, err = security.LoadTLS(dir, security.RoleClient); err != nil {
		return
	}
	if wk, err = security.LoadTLS(dir, security.RoleWorker); err != nil {
		return
	}
	if tokens, err = security.NewTokenStore(f.Tokens()); err != nil {
		return
	}
	token, err = security.ReadToken(f.Token())
	return
}
