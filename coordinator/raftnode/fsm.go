// Package raftnode replicates the coordinator's State through
// hashicorp/raft: an FSM that applies encoded coordinator commands, and a
// Node that runs raft over in-memory stores (the embedded `superstep run`)
// or a raft-wal log and file snapshots under a data directory (`superstep
// coordinator`). A node bootstraps itself as a single voter when it has no
// state; nothing here assumes it stays the only one.
package raftnode

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/superstep/superstep/coordinator"
)

// Applied describes one command applied to the state, for observers.
type Applied struct {
	Index   uint64 // raft log index
	Command coordinator.Command
	Result  coordinator.Result
	// At is when the leader appended the entry to the log (raft's
	// AppendedAt): the same on every replica.
	At time.Time
	// Restored is set, with no Command, after the state was replaced by a
	// snapshot.
	Restored bool
	// Read reads the state as this command (or restore) left it; valid
	// only during the observer's call (see FSM.Read).
	Read func(func(*coordinator.State))
}

// FSM implements raft.FSM over a coordinator.State. Raft calls Apply,
// Snapshot and Restore from its FSM goroutine; Read and State may be called
// from any goroutine.
type FSM struct {
	observe func(Applied)

	mu    sync.RWMutex // guards state
	state *coordinator.State
}

// NewFSM returns an FSM over an empty state. observe, when not nil, is
// called on raft's FSM goroutine after each applied command, without locks
// held; it must not block (hand the event to a buffered channel or wake a
// loop) and must not call Propose and wait for it.
func NewFSM(observe func(Applied)) *FSM {
	return &FSM{observe: observe, state: coordinator.NewState()}
}

// Apply implements raft.FSM: it decodes and applies one command and returns
// its coordinator.Result. A malformed entry is rejected (Result.Err) without
// changing the state, the same way on every replica.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return coordinator.Result{}
	}
	cmd, err := coordinator.DecodeCommand(l.Data)
	if err != nil {
		return coordinator.Result{Err: err}
	}
	f.mu.Lock()
	res := f.state.Apply(cmd)
	f.mu.Unlock()
	if f.observe != nil {
		f.observe(Applied{Index: l.Index, Command: cmd, Result: res, At: l.AppendedAt, Read: f.Read})
	}
	return res
}

// Snapshot implements raft.FSM. The state is serialized in memory at once;
// raft writes the bytes out later, from another goroutine.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	b, err := f.state.Snapshot()
	f.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

// Restore implements raft.FSM: it replaces the state by the one rc holds.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("raftnode: read snapshot: %w", err)
	}
	s, err := coordinator.RestoreState(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	if f.observe != nil {
		f.observe(Applied{Restored: true, Read: f.Read})
	}
	return nil
}

// Read calls fn with the current state under a read lock: fn must not keep
// the state or anything it points to, must not modify it, and must do no
// I/O or blocking (copy out what it needs).
func (f *FSM) Read(fn func(*coordinator.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// State returns a deep copy of the current state, which the caller owns.
func (f *FSM) State() *coordinator.State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.Clone()
}

// snapshot is an encoded state waiting to be persisted.
type snapshot []byte

// Persist implements raft.FSMSnapshot.
func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s snapshot) Release() {}
