package raftnode

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// ErrBadPeers is matched by every error about a --peers list: its syntax,
// duplicate IDs or addresses, or a node that is not in it.
var ErrBadPeers = errors.New("raftnode: bad peers")

// Peer is one voter of a cluster's initial configuration: its raft server
// ID and the raft address the others reach it at.
type Peer struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// maxPeers bounds a peers list; raft groups of more than a handful of
// voters are slower, not safer.
const maxPeers = 9

// ParsePeers parses "id=host:port,id=host:port,...". The result is sorted
// by ID and checked as ValidatePeers checks it.
func ParsePeers(s string) ([]Peer, error) {
	var ps []Peer
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		id, addr, ok := strings.Cut(f, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("%w: entry %d %q is not id=host:port", ErrBadPeers, i+1, f)
		}
		ps = append(ps, Peer{ID: id, Addr: addr})
	}
	if err := ValidatePeers(ps); err != nil {
		return nil, err
	}
	return sortPeers(ps), nil
}

// ValidatePeers checks a peers list: at most maxPeers entries, IDs that are
// valid node IDs, addresses that are host:port with a non-zero port, and
// no ID or address twice.
func ValidatePeers(ps []Peer) error {
	if len(ps) == 0 {
		return fmt.Errorf("%w: empty list", ErrBadPeers)
	}
	if len(ps) > maxPeers {
		return fmt.Errorf("%w: %d peers, at most %d", ErrBadPeers, len(ps), maxPeers)
	}
	ids, addrs := map[string]bool{}, map[string]string{}
	for _, p := range ps {
		if err := ValidateID(p.ID); err != nil {
			return fmt.Errorf("%w: %w", ErrBadPeers, err)
		}
		host, port, err := net.SplitHostPort(p.Addr)
		if err != nil || host == "" || port == "" || port == "0" {
			return fmt.Errorf("%w: peer %s: address %q is not host:port with a fixed port", ErrBadPeers, p.ID, p.Addr)
		}
		if ids[p.ID] {
			return fmt.Errorf("%w: node ID %q appears twice", ErrBadPeers, p.ID)
		}
		if other, ok := addrs[p.Addr]; ok {
			return fmt.Errorf("%w: peers %s and %s have the same address %s", ErrBadPeers, other, p.ID, p.Addr)
		}
		ids[p.ID], addrs[p.Addr] = true, p.ID
	}
	return nil
}

// ValidateID checks a node ID: 1 to 64 letters, digits, '.', '_' or '-'.
func ValidateID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("node ID %q: must be 1 to 64 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("node ID %q: only letters, digits, '.', '_' and '-' are allowed", id)
		}
	}
	return nil
}

func sortPeers(ps []Peer) []Peer {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	return ps
}

// FormatPeers is the --peers form of ps.
func FormatPeers(ps []Peer) string {
	var b strings.Builder
	for i, p := range sortPeers(ps) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.ID + "=" + p.Addr)
	}
	return b.String()
}

// ClusterID names a cluster by its initial peers: nodes started with the
// same list (in any order) agree on it, and any difference changes it.
func ClusterID(ps []Peer) string {
	h := sha256.Sum256([]byte(FormatPeers(ps)))
	return hex.EncodeToString(h[:16])
}

// PeerByID returns the peer with the given ID.
func PeerByID(ps []Peer, id string) (Peer, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}
