// Package redirect is how a client finds the leading coordinator among
// several. A coordinator that does not lead answers every RPC with
// Error: a gRPC Unavailable status whose details name the leader (an
// errdetails.ErrorInfo with reason NOT_LEADER and the leader's ID and
// address), or no leader while an election runs. Conn, on the client side,
// is a grpc.ClientConnInterface over a list of coordinator addresses: it
// sends each call to the leader it knows, follows redirects, and retries
// through a leader change or a restart for a bounded time. Every
// coordinator RPC is idempotent under retry (job, task and attempt IDs),
// which is what makes the retries safe.
package redirect

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reason and Domain identify a redirect in a status's ErrorInfo.
const (
	Reason = "NOT_LEADER"
	Domain = "superstep"
)

// ErrBadAddrs is matched by the error of a malformed coordinator list.
var ErrBadAddrs = errors.New("bad coordinator addresses")

// Error is the status a coordinator that does not lead answers with.
// leaderAddr is the leader's gRPC address, empty when no leader is known.
func Error(leaderID, leaderAddr string) error {
	msg := "this coordinator is not the leader; no leader is elected yet"
	if leaderAddr != "" {
		msg = fmt.Sprintf("this coordinator is not the leader; the leader is %s at %s", leaderID, leaderAddr)
	}
	st := status.New(codes.Unavailable, msg)
	info := &errdetails.ErrorInfo{Reason: Reason, Domain: Domain, Metadata: map[string]string{}}
	if leaderAddr != "" {
		info.Metadata["leader_id"], info.Metadata["leader_addr"] = leaderID, leaderAddr
	}
	if d, err := st.WithDetails(info); err == nil {
		st = d
	}
	return st.Err()
}

// Leader reads a redirect: redirected says err came from a coordinator
// that does not lead, and addr is the leader it named (empty: none known).
// A named address that is not host:port is ignored: it came over the
// network.
func Leader(err error) (addr string, redirected bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return "", false
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetReason() != Reason || info.GetDomain() != Domain {
			continue
		}
		a := info.GetMetadata()["leader_addr"]
		if checkAddr(a) != nil {
			a = ""
		}
		return a, true
	}
	return "", false
}

// ParseAddrs parses a comma-separated list of coordinator addresses
// (host:port each), dropping repeats.
func ParseAddrs(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if err := checkAddr(a); err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrBadAddrs, s, err)
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

func checkAddr(a string) error {
	if len(a) > 255 {
		return errors.New("address too long")
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if host == "" || port == "" {
		return fmt.Errorf("%q is not host:port", a)
	}
	return nil
}
