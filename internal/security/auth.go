package security

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Rule is who may call one gRPC method: peers whose certificate carries
// one of Peers, and, when Token is set, whose bearer token is of one of
// those roles.
type Rule struct {
	Peers []Role
	Token []TokenRole // empty: no token needed
}

// Authorizer enforces Rules on a gRPC server through interceptors. A
// method without a rule needs a client or coordinator certificate and an
// admin token: what is not named is closed.
type Authorizer struct {
	Rules  map[string]Rule // by full method name, "/superstep.v1.Coordinator/SubmitJob"
	Tokens *TokenStore     // nil: every token rule fails
}

var defaultRule = Rule{Peers: []Role{RoleClient, RoleCoordinator}, Token: []TokenRole{TokenAdmin}}

// healthRule lets any certificate of the cluster ask the standard gRPC
// health service (superstep health, probes), which discloses nothing.
var healthRule = Rule{Peers: Roles}

type principalKey struct{}
type peerKey struct{}

// PeerOf is the verified certificate of the caller (nil without TLS).
func PeerOf(ctx context.Context) *x509.Certificate {
	c, _ := ctx.Value(peerKey{}).(*x509.Certificate)
	return c
}

// PrincipalOf is the holder of the caller's token (nil when the method
// needs none or the server runs without TLS).
func PrincipalOf(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// authorize checks ctx's peer and token for method and returns ctx with
// both attached.
func (a *Authorizer) authorize(ctx context.Context, method string) (context.Context, error) {
	rule, ok := a.Rules[method]
	switch {
	case ok:
	case strings.HasPrefix(method, "/grpc.health.v1.Health/"):
		rule = healthRule
	default:
		rule = defaultRule
	}
	pr, _ := peer.FromContext(ctx)
	var leaf *x509.Certificate
	if pr != nil {
		if ti, ok := pr.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			leaf = ti.State.PeerCertificates[0] // verified in the handshake (TLS.ServerConfig)
		}
	}
	if leaf == nil {
		return nil, status.Error(codes.Unauthenticated, "no client certificate: connect with --tls-dir")
	}
	role, _ := RoleOf(leaf)
	if !slices.Contains(rule.Peers, role) {
		return nil, status.Errorf(codes.PermissionDenied, "%v: a %s certificate cannot call %s", ErrPeerRole, role, method)
	}
	ctx = context.WithValue(ctx, peerKey{}, leaf)
	if len(rule.Token) == 0 {
		return ctx, nil
	}
	tok := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			tok, _ = strings.CutPrefix(v[0], "Bearer ")
		}
	}
	if tok == "" {
		return nil, status.Errorf(codes.Unauthenticated, "%v: pass --token-file or put the token in --tls-dir", ErrBadToken)
	}
	if a.Tokens == nil {
		return nil, status.Errorf(codes.Unauthenticated, "%v: this coordinator has no tokens file", ErrBadToken)
	}
	p, err := a.Tokens.Lookup(tok)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "%v", err)
	}
	if !slices.Contains(rule.Token, p.Role) {
		return nil, status.Errorf(codes.PermissionDenied, "the %s token of %s cannot call %s", p.Role, p.Name, method)
	}
	return context.WithValue(ctx, principalKey{}, &p), nil
}

// ServerOptions are the options of a gRPC server that speaks TLS with t
// and authorizes every call with a. Nil t: plaintext and no checks (a
// loopback or --insecure server).
func (a *Authorizer) ServerOptions(t *TLS) []grpc.ServerOption {
	if t == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.Creds(t.ServerCreds()),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ctx, err := a.authorize(ctx, info.FullMethod)
			if err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			ctx, err := a.authorize(ss.Context(), info.FullMethod)
			if err != nil {
				return err
			}
			return h(srv, &authedStream{ServerStream: ss, ctx: ctx})
		}),
	}
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authedStream) Context() context.Context { return s.ctx }

// Bearer is gRPC per-call credentials sending a token.
type Bearer string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b Bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: a
// token never travels in plaintext.
func (Bearer) RequireTransportSecurity() bool { return true }

// ErrInsecureListen means a process was asked to listen beyond loopback
// without TLS.
var ErrInsecureListen = errors.New("refusing to listen without TLS on a non-loopback address")

// CheckListen refuses a non-loopback listen address without TLS unless
// insecure is set. what names the process ("coordinator", "worker").
func CheckListen(what, addr string, tlsOn, insecure bool) error {
	if tlsOn || insecure || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%s: %w (%s): run `superstep certs init --dir DIR` and pass --tls-dir DIR, or pass --insecure", what, ErrInsecureListen, addr)
}
