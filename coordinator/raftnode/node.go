package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	// DataDir, when set, holds the raft log and stable store (raft-wal in
	// wal/ for a single voter, raft.db for a member of a cluster) and
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

	// Peers, when set, are the initial voters of a cluster (--peers); ID
	// must be one of them and its address must be the one this node
	// advertises. Every node of a cluster is started with the same list:
	// the cluster bootstraps from it once, when a node has no state, and
	// the list is recorded in the data directory, so that a node started
	// with a different one (or on another cluster's directory) refuses to
	// start. Peers need a DataDir. Empty: a single voter.
	Peers []Peer
	// GRPCAddr is the address clients and workers reach this node's
	// coordinator service at; peers learn it in the handshake, so that a
	// follower can redirect to the leader.
	GRPCAddr string
	// TLS, when set, makes raft between coordinators speak TLS.
	TLS *TLSConfig
	// OnLeadership, when set, is called on a goroutine of the node's own
	// each time this node gains or loses the leadership, in order; it must
	// not block for long.
	OnLeadership func(Leadership)
}

// boltFile names, in a cluster member's data directory, its raft log and
// stable store (see boltStore).
const boltFile = "raft.db"

// Leadership is a change of this node's raft role.
type Leadership struct {
	Leader bool   // this node leads from now on (or stopped leading)
	Term   uint64 // the raft term of the change
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
	case ValidateID(c.ID) != nil:
		return fmt.Errorf("raftnode: %w", ValidateID(c.ID))
	case len(c.Peers) > 0 && c.DataDir == "":
		return errors.New("raftnode: --peers need a data directory (--data-dir)")
	case c.DataDir != "" && c.BindAddr == "":
		return errors.New("raftnode: a data directory needs a bind address")
	case c.SnapshotRetain < 1:
		return fmt.Errorf("raftnode: snapshot retain %d", c.SnapshotRetain)
	case c.HeartbeatTimeout < 10*time.Millisecond:
		return fmt.Errorf("raftnode: heartbeat timeout %v is under 10ms", c.HeartbeatTimeout)
	case c.SnapshotThreshold < 1:
		return errors.New("raftnode: snapshot threshold 0")
	}
	if len(c.Peers) > 0 {
		if err := ValidatePeers(c.Peers); err != nil {
			return err
		}
		self, ok := PeerByID(c.Peers, c.ID)
		if !ok {
			return fmt.Errorf("%w: node ID %q is not in --peers %s", ErrBadPeers, c.ID, FormatPeers(c.Peers))
		}
		adv := c.AdvertiseAddr
		if adv == "" {
			adv = c.BindAddr
		}
		if adv != self.Addr {
			return fmt.Errorf("%w: --peers gives node %s the raft address %s, but it binds/advertises %s",
				ErrBadPeers, c.ID, self.Addr, adv)
		}
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
	LeaderAddr string // the leader's raft address
	LeaderGRPC string // the leader's gRPC address, when known
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
	cfg       Config
	raft      *raft.Raft
	fsm       *FSM
	transport raft.Transport
	closers   []io.Closer
	dir       *directory // peers reached; nil for a single voter
	notify    chan bool  // raft's leadership notifications
	fatal     chan error // at most one error that ends this node
	stop      chan struct{}
	wg        sync.WaitGroup // the leadership and mismatch goroutines

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

	rc.NotifyCh = nil // set below, once the node exists
	n := &Node{cfg: cfg, fsm: NewFSM(cfg.OnApply), notify: make(chan bool, 16), fatal: make(chan error, 1),
		stop: make(chan struct{})}
	rc.NotifyCh = n.notify
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
		// The identity is checked before anything is opened or created,
		// so that a refused directory is left exactly as it was.
		want := identity{Version: 1, NodeID: cfg.ID}
		if len(cfg.Peers) > 0 {
			want.ClusterID, want.Peers = ClusterID(cfg.Peers), sortPeers(cfg.Peers)
		}
		_, boltErr := os.Stat(filepath.Join(cfg.DataDir, boltFile))
		hasState := nonEmptyDir(walDir) || nonEmptyDir(filepath.Join(cfg.DataDir, "snapshots")) || boltErr == nil
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("raftnode: %w", err)
		}
		write, err := checkIdentity(cfg.DataDir, want, hasState)
		if err != nil {
			return nil, err
		}
		if write {
			if err := writeIdentity(cfg.DataDir, want); err != nil {
				return nil, err
			}
		}
		if len(cfg.Peers) > 0 {
			store, err := openBoltStore(filepath.Join(cfg.DataDir, boltFile))
			if err != nil {
				return nil, err
			}
			n.closers = append(n.closers, store)
			logs, stable = store, store
		} else {
			if err := os.MkdirAll(walDir, 0o755); err != nil {
				return nil, fmt.Errorf("raftnode: %w", err)
			}
			// raft-wal's Close leaves its metadata database (and its file
			// lock) open; we own it so that Close releases the lock and the
			// same process can reopen the directory.
			meta := &metadb.BoltMetaDB{}
			wal, err := raftwal.Open(walDir, raftwal.WithMetaStore(meta))
			if err != nil {
				meta.Close()
				return nil, fmt.Errorf("raftnode: open log: %w", err)
			}
			n.closers = append(n.closers, meta, wal)
			logs, stable = wal, wal
		}
		if snaps, err = raft.NewFileSnapshotStore(cfg.DataDir, cfg.SnapshotRetain, logOut); err != nil {
			n.closeStores()
			return nil, fmt.Errorf("raftnode: snapshot store: %w", err)
		}
		var adv *netAddr
		if cfg.AdvertiseAddr != "" {
			adv = &netAddr{cfg.AdvertiseAddr}
		}
		if len(cfg.Peers) == 0 && cfg.TLS != nil {
			var advAddr net.Addr
			if adv != nil {
				advAddr = adv
			}
			layer, err := newTLSStreamLayer(cfg.BindAddr, advAddr, cfg.TLS)
			if err != nil {
				n.closeStores()
				return nil, fmt.Errorf("raftnode: listen %s: %w", cfg.BindAddr, err)
			}
			tr := raft.NewNetworkTransport(layer, 3, 10*time.Second, logOut)
			n.transport = tr
			n.closers = append(n.closers, tr)
		} else if len(cfg.Peers) == 0 {
			tcp, err := newTCPTransport(cfg.BindAddr, adv, logOut)
			if err != nil {
				n.closeStores()
				return nil, fmt.Errorf("raftnode: listen %s: %w", cfg.BindAddr, err)
			}
			n.transport = tcp
			n.closers = append(n.closers, tcp)
		} else {
			n.dir = &directory{peers: map[string]peerInfo{}, onMismatch: n.mismatch}
			self := hello{cluster: clusterBytes(want.ClusterID), node: cfg.ID, grpc: cfg.GRPCAddr}
			var advAddr net.Addr
			if adv != nil {
				advAddr = adv
			}
			layer, err := newStreamLayer(cfg.BindAddr, advAddr, self, n.dir, cfg.TLS)
			if err != nil {
				n.closeStores()
				return nil, fmt.Errorf("raftnode: listen %s: %w", cfg.BindAddr, err)
			}
			tr := raft.NewNetworkTransport(layer, 3, 10*time.Second, logOut)
			n.transport = tr
			n.closers = append(n.closers, tr)
		}
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
		if len(cfg.Peers) > 0 {
			// Every node bootstraps the same configuration; raft accepts
			// that, and the handshake keeps nodes with another list out.
			boot.Servers = nil
			for _, p := range sortPeers(cfg.Peers) {
				boot.Servers = append(boot.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID),
					Address: raft.ServerAddress(p.Addr)})
			}
		}
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, n.transport, boot); err != nil {
			n.closeStores()
			return nil, fmt.Errorf("raftnode: bootstrap: %w", err)
		}
	}
	if n.raft, err = raft.NewRaft(rc, n.fsm, logs, stable, snaps, n.transport); err != nil {
		n.closeStores()
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	n.wg.Add(1)
	go n.leadershipLoop()
	return n, nil
}

func nonEmptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) > 0
}

// leadershipLoop hands raft's leadership notifications to OnLeadership.
func (n *Node) leadershipLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case leader := <-n.notify:
			if n.cfg.OnLeadership != nil {
				n.cfg.OnLeadership(Leadership{Leader: leader, Term: n.raft.CurrentTerm()})
			}
		}
	}
}

// mismatch is called when a handshake shows a peer of another cluster. A
// node that has reached no peer of its own cluster within two election
// timeouts of it is the odd one out: it fails (see Fatal). A node that has
// is left running, and the other one fails on its side.
func (n *Node) mismatch(node, remote string, theirs [16]byte) {
	err := fmt.Errorf("%w: node %s at %s belongs to cluster %x, but this node (%s) was started with --peers %s (cluster %s); "+
		"start every node with the same --peers", ErrPeersDisagree, node, remote, theirs, n.cfg.ID,
		FormatPeers(n.cfg.Peers), ClusterID(n.cfg.Peers))
	if node == n.cfg.ID {
		err = fmt.Errorf("%w: another node at %s also claims the ID %s; every node needs its own --id", ErrPeersDisagree,
			remote, node)
	}
	fmt.Fprintf(n.logOut(), "[WARN]  raftnode: %v\n", err)
	if n.dir.hasMatched() {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTimer(2 * n.cfg.HeartbeatTimeout)
		defer t.Stop()
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !n.dir.hasMatched() {
			select {
			case n.fatal <- err:
			default:
			}
		}
	}()
}

func (n *Node) logOut() io.Writer {
	if n.cfg.LogOutput == nil {
		return io.Discard
	}
	return n.cfg.LogOutput
}

// Fatal delivers the error that makes this node unusable: its peers belong
// to another cluster (ErrPeersDisagree). The owner should Close the node
// and exit with the error.
func (n *Node) Fatal() <-chan error { return n.fatal }

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
		close(n.stop)
		n.wg.Wait()
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
	_, grpcAddr := n.Leader()
	return &NotLeaderError{LeaderID: string(id), LeaderAddr: string(addr), LeaderGRPC: grpcAddr}
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

// Term is the current raft term. Fencing tokens come from it: a leader
// stamps what it decides with the term it leads in.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// VerifyLeader confirms, by a round of contact with a quorum, that this
// node still leads, and returns the term it leads in. A deposed leader
// that has not yet noticed (it was frozen, say) gets an error matching
// ErrNotLeader. Call it before an irreversible action decided as leader.
func (n *Node) VerifyLeader(ctx context.Context) (uint64, error) {
	term := n.raft.CurrentTerm()
	fut := n.raft.VerifyLeader()
	done := make(chan error, 1)
	// Ends when raft answers the future, at the latest when it shuts down.
	go func() { done <- fut.Error() }()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case err := <-done:
		if err != nil {
			return 0, errors.Join(n.notLeader(), err)
		}
	}
	if now := n.raft.CurrentTerm(); now != term {
		return 0, n.notLeader()
	}
	return term, nil
}

// Leader returns the ID and gRPC address of the leader, when known: this
// node's own GRPCAddr when it leads, a peer's as learnt in the handshake
// otherwise. Empty strings: no leader is known.
func (n *Node) Leader() (id, grpcAddr string) {
	_, lid := n.raft.LeaderWithID()
	if lid == "" {
		return "", ""
	}
	if string(lid) == n.cfg.ID {
		return n.cfg.ID, n.cfg.GRPCAddr
	}
	if n.dir == nil {
		return string(lid), ""
	}
	p, _ := n.dir.get(string(lid))
	return string(lid), p.grpc
}
