package raftnode

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Role is a member's raft role as this node sees it.
type Role string

const (
	RoleLeader   Role = "leader"
	RoleFollower Role = "follower"
	RoleNonvoter Role = "nonvoter"
)

// Member is one server of the raft configuration.
type Member struct {
	ID   string
	Raft string // raft address
	GRPC string // coordinator service address; empty when not learnt yet
	Role Role
	// LastContact is when this node last heard from the member: now for
	// itself; for a peer the last byte read from it (on the leader, every
	// follower's answers; on a follower, the leader's messages). Zero when
	// never.
	LastContact time.Time
}

// Members lists the configuration's servers, sorted by ID. On the leader
// the view is complete; on a follower only the leader's contact time is
// current.
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	fut := n.raft.GetConfiguration()
	done := make(chan error, 1)
	go func() { done <- fut.Error() }()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("raftnode: configuration: %w", err)
		}
	}
	_, leader := n.raft.LeaderWithID()
	var out []Member
	for _, s := range fut.Configuration().Servers {
		m := Member{ID: string(s.ID), Raft: string(s.Address), Role: RoleFollower}
		switch {
		case s.ID == leader:
			m.Role = RoleLeader
		case s.Suffrage != raft.Voter:
			m.Role = RoleNonvoter
		}
		switch {
		case m.ID == n.cfg.ID:
			m.GRPC, m.LastContact = n.cfg.GRPCAddr, time.Now()
		case n.dir != nil:
			if p, ok := n.dir.get(m.ID); ok {
				m.GRPC = p.grpc
				if ns := p.lastContact.Load(); ns > 0 {
					m.LastContact = time.Unix(0, ns)
				}
			}
		}
		if s.ID == leader && m.ID != n.cfg.ID {
			if lc := n.raft.LastContact(); lc.After(m.LastContact) {
				m.LastContact = lc
			}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
