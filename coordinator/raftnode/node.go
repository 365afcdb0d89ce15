package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"github.com/superstep/superstep/coordinator"
)

// Config configures a Node.
type Config struct {
	// ID is the raft server ID of this node; it must be stable across
	// restarts of a node with a data directory.
	ID string
	// DataDir, when set, holds the raft-wal log and stable store (wal/) and
	// the snapshots (snapshots/); the node listens for raft peers on
	// BindAddr. When empty, the node keeps everything in memory and uses an
	// in-memory transport (the embedded mode).
	DataDir string
	// BindAddr is the TCP address raft listens on with a DataDir.
	BindAddr string
	// AdvertiseAddr is the address peers reach this node at; empty means
	// the listener's address.
	AdvertiseAddr string
	// SnapshotRetain is how many snapshots to keep on disk.
	SnapshotRetain int
	// HeartbeatTimeout is raft's heartbeat and election timeout; a single
	// voter elects itself after about this long.
	HeartbeatTimeout time.Duration
	// SnapshotThreshold is how many log entries trigger a snapshot.
	SnapshotThreshold uint64
	// LogOutput receives raft's log; nil discards it.
	LogOutput io.Writer
	// OnApply, when set, observes every applied command (see NewFSM).
	OnApply func(Applied)
}

// DefaultConfig returns the defaults of an embedded (in-memory) node.
func DefaultConfig() Config {
	return Config{
		ID:                "coordinator-0",
		BindAddr:          "127.0.0.1:7946",
		SnapshotRetain:    2,
		HeartbeatTimeout:  time.Second,
		SnapshotThreshold: 8192,
	}
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("raftnode: empty node ID")
	case c.DataDir != "" && c.BindAddr == "":
		return errors.New("raftnode: a data directory needs a bind address")
	case c.SnapshotRetain < 1:
		return fmt.Errorf("raftnode: snapshot retain %d", c.SnapshotRetain)
	case c.HeartbeatTimeout < 10*time.Millisecond:
		return fmt.Errorf("raftnode: heartbeat timeout %v is under 10ms", c.HeartbeatTimeout)
	case c.SnapshotThreshold < 1:
		return errors.New("raftnode: snapshot threshold 0")
	}
	return nil
}

// ErrNotLeader is matched by the error Propose returns on a node that is
// not the leader; errors.As to *NotLeaderError gives the leader's address.
var ErrNotLeader = errors.New("raftnode: not the leader")

// ErrClosed is returned by calls on a closed node.
var ErrClosed = errors.New("raftnode: node closed")

// NotLeaderError says which node leads, when known, so that the caller can
// redirect the request.
type NotLeaderError struct {
	LeaderID   string // empty when no leader is known
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderAddr == "" {
		return "raftnode: not the leader (no leader known)"
	}
	return fmt.Sprintf("raftnode: not the leader; leader is %s at %s", e.LeaderID, e.LeaderAddr)
}

// Unwrap returns ErrNotLeader.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// Node is one raft server replicating the coordinator state. Its methods
// are safe for concurrent use.
type Node struct {
	raft      *raft.Raft
	fsm       *FSM
	transport raft.Transport
	closers   []io.Closer

	closeOnce sync.Once
	closeErr  error
}

// NewNode starts a raft server. When its stores hold no state it
// bootstraps a configuration with itself as the only voter; otherwise it
// recovers from its latest snapshot and log.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logOut := cfg.LogOutput
	if logOut == nil {
		logOut = io.Discard
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.HeartbeatTimeout
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	rc.CommitTimeout = min(rc.CommitTimeout, cfg.HeartbeatTimeout/2)
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.LogOutput = logOut
	rc.LogLevel = "WARN"

	n := &Node{fsm: NewFSM(cfg.OnApply)}
	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
		err    error
	)
	if cfg.DataDir == "" {
		mem := raft.NewInmemStore()
		logs, stable, snaps = mem, mem, raft.NewInmemSnapshotStore()
		_, n.transport = raft.NewInmemTransport(raft.ServerAddress(cfg.ID))
	} else {
		walDir := filepath.Join(cfg.DataDir, "wal")
		if err := os.MkdirAll(walDir, 0o755); err != nil {
			return nil, fmt.Errorf("raftnode: %w", err)
		}
		// raft-wal's Close leaves its metadata database (and its file lock)
		// open; we own it so that Close releases the lock and the same
		// process can reopen the directory.
		meta := &metadb.BoltMetaDB{}
		wal, err := raftwal.Open(walDir, raftwal.WithMetaStore(meta))
		if err != nil {
			meta.Close()
			return nil, fmt.Errorf("raftnode: open log: %w", err)
		}
		n.closers = append(n.closers, meta, wal)
		logs, stable = wal, wal
		if snaps, err = raft.NewFileSnapshotStore(cfg.DataDir, cfg.SnapshotRetain, logOut); err != nil {
			n.closeStores()
			return nil, fmt.Errorf("raftnode: snapshot store: %w", err)
		}
		var adv *netAddr
		if cfg.AdvertiseAddr != "" {
			adv = &netAddr{cfg.AdvertiseAddr}
		}
		tcp, err := newTCPTransport(cfg.BindAddr, adv, logOut)
		if err != nil {
			n.closeStores()
			return nil, fmt.Errorf("raftnode: listen %s: %w", cfg.BindAddr, err)
		}
		n.transport = tcp
		n.closers = append(n.closers, tcp)
	}
	existing, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		n.closeStores()
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	if !existing {
		boot := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: rc.LocalID, Address: n.transport.LocalAddr(),
		}}}
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, n.transport, boot); err != nil {
			n.closeStores()
			return nil, fmt.Errorf("raftnode: bootstrap: %w", err)
		}
	}
	if n.raft, err = raft.NewRaft(rc, n.fsm, logs, stable, snaps, n.transport); err != nil {
		n.closeStores()
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	return n, nil
}

func (n *Node) closeStores() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i].Close())
	}
	n.closers = nil
	return errors.Join(errs...)
}

// Close shuts raft down and closes the stores. It is idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		err := n.raft.Shutdown().Error()
		n.closeErr = errors.Join(err, n.closeStores())
	})
	return n.closeErr
}

// Addr is the address raft peers reach this node at.
func (n *Node) Addr() string { return string(n.transport.LocalAddr()) }

// IsLeader reports whether this node is the leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderCh delivers true when this node becomes leader and false when it
// stops being leader (raft's notification channel; it is not closed).
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// WaitLeader blocks until some node is the leader, or ctx ends.
func (n *Node) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if addr, _ := n.raft.LeaderWithID(); addr != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Propose replicates a command and applies it; it returns the command's
// Result once this node applied it. On a node that is not the leader it
// returns an error matching ErrNotLeader (a *NotLeaderError with the
// leader's address). Other errors (lost leadership, ctx ended) leave it
// unknown whether the command was applied; commands are idempotent, so the
// caller may propose it again.
func (n *Node) Propose(ctx context.Context, cmd coordinator.Command) (coordinator.Result, error) {
	b, err := coordinator.EncodeCommand(cmd)
	if err != nil {
		return coordinator.Result{}, err
	}
	if n.raft.State() != raft.Leader {
		return coordinator.Result{}, n.notLeader()
	}
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return coordinator.Result{}, context.DeadlineExceeded
		}
	}
	fut := n.raft.Apply(b, timeout)
	done := make(chan error, 1)
	// The goroutine ends when raft answers the future, which it always
	// does (at the latest when it shuts down).
	go func() { done <- fut.Error() }()
	select {
	case <-ctx.Done():
		return coordinator.Result{}, ctx.Err()
	case err := <-done:
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
			return coordinator.Result{}, errors.Join(n.notLeader(), err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return coordinator.Result{}, ErrClosed
		case err != nil:
			return coordinator.Result{}, fmt.Errorf("raftnode: apply: %w", err)
		}
		res, _ := fut.Response().(coordinator.Result)
		return res, nil
	}
}

func (n *Node) notLeader() error {
	addr, id := n.raft.LeaderWithID()
	return &NotLeaderError{LeaderID: string(id), LeaderAddr: string(addr)}
}

// Read calls fn with the node's current state under a read lock (see
// FSM.Read): fn must copy out what it needs and do no I/O.
func (n *Node) Read(fn func(*coordinator.State)) { n.fsm.Read(fn) }

// State returns a deep copy of the node's current state.
func (n *Node) State() *coordinator.State { return n.fsm.State() }

// Snapshot asks raft to take a snapshot now and waits for it.
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Barrier waits until every command committed before it is applied to this
// node's state, or ctx ends; a new leader calls it before reading the state.
func (n *Node) Barrier(ctx context.Context) error {
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	return n.raft.Barrier(timeout).Error()
}
