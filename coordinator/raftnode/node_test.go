package raftnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/superstep/superstep/coordinator"
)

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.HeartbeatTimeout = 50 * time.Millisecond
	cfg.ID = "n1"
	return cfg
}

func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatalf("no leader: %v", err)
	}
	for !n.IsLeader() {
		if ctx.Err() != nil {
			t.Fatal("single voter did not become leader")
		}
		select {
		case <-n.LeaderCh():
		case <-ctx.Done():
		}
	}
	return n
}

func spec() []byte {
	b, _ := json.Marshal(coordinator.Spec{Version: 1, Partitions: 2, Stages: []coordinator.StageSpec{
		{ID: 0, Input: coordinator.SourceInput(0, 2), Tasks: 2,
			Output: coordinator.OutputSpec{Kind: coordinator.OutputShuffle, Node: 3, Partitions: 2}},
		{ID: 1, Input: coordinator.InputSpec{Kind: coordinator.InputShuffle, Node: 3, Sides: 1}, Tasks: 2,
			Output: coordinator.OutputSpec{Kind: coordinator.OutputCollect, Node: 4}},
	}})
	return b
}

// commands is a short history: a worker, a job, stage 0 run and committed.
func commands() []coordinator.Command {
	cmds := []coordinator.Command{
		coordinator.RegisterWorker{Worker: "w1", Addr: "127.0.0.1:1", Fingerprint: "fp", Slots: 4},
		coordinator.SubmitJob{Job: "j1", Name: "wordcount", Spec: spec(), Fingerprint: "fp"},
	}
	for task := range 2 {
		a := coordinator.AttemptID{TaskID: coordinator.TaskID{Job: "j1", Stage: 0, Task: task}}
		cmds = append(cmds,
			coordinator.AssignTask{AttemptID: a, Worker: "w1"},
			coordinator.TaskSucceeded{AttemptID: a, Worker: "w1", Report: coordinator.TaskReport{
				MapOutput: &coordinator.MapOutputFile{Path: "/tmp/x", Sizes: []int64{1, 2}}}})
	}
	return cmds
}

func propose(t *testing.T, n *Node, cmds ...coordinator.Command) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range cmds {
		res, err := n.Propose(ctx, c)
		if err != nil || res.Err != nil {
			t.Fatalf("propose %s: %v %v", c.Kind(), err, res.Err)
		}
	}
}

func snapshotOf(t *testing.T, s *coordinator.State) []byte {
	t.Helper()
	b, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInmemNodeProposeAndRestore(t *testing.T) {
	applied := make(chan Applied, 100)
	cfg := testConfig(t)
	cfg.OnApply = func(a Applied) { applied <- a }
	n := startNode(t, cfg)
	propose(t, n, commands()...)
	// A rejected command comes back in the result, not as an error.
	res, err := n.Propose(context.Background(), coordinator.CancelJob{Job: "nope"})
	if err != nil || !errors.Is(res.Err, coordinator.ErrUnknownJob) {
		t.Fatalf("cancel of unknown job: %v, %v", err, res.Err)
	}
	for i, want := range append(commands(), coordinator.CancelJob{Job: "nope"}) {
		a := <-applied
		if a.Command.Kind() != want.Kind() {
			t.Fatalf("applied %d: %s, want %s", i, a.Command.Kind(), want.Kind())
		}
	}
	var stage int
	n.Read(func(s *coordinator.State) { stage = s.Job("j1").CurrentStage() })
	if stage != 1 {
		t.Fatalf("current stage %d", stage)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	// The FSM's snapshot restores into an equal state.
	want := snapshotOf(t, n.State())
	snap, err := n.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	f := NewFSM(nil)
	if err := f.Restore(sink); err != nil {
		t.Fatal(err)
	}
	if got := snapshotOf(t, f.State()); !bytes.Equal(got, want) {
		t.Fatalf("restored state differs:\n%s\n%s", got, want)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := n.Propose(context.Background(), commands()[0]); err == nil {
		t.Fatal("propose on a closed node succeeded")
	}
}

func TestDiskNodeRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.DataDir = t.TempDir()
	cfg.BindAddr = "127.0.0.1:0"
	n := startNode(t, cfg)
	cmds := commands()
	propose(t, n, cmds[:3]...)
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	propose(t, n, cmds[3:]...)
	want := snapshotOf(t, n.State())
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n2 := startNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n2.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snapshotOf(t, n2.State()); !bytes.Equal(got, want) {
		t.Fatalf("state after restart differs:\n%s\n%s", got, want)
	}
	// Proposing the same history again changes nothing (idempotence).
	propose(t, n2, cmds...)
	if got := snapshotOf(t, n2.State()); !bytes.Equal(got, want) {
		t.Fatalf("replayed history changed the state")
	}
}

func TestNotLeaderError(t *testing.T) {
	err := error(&NotLeaderError{LeaderID: "n2", LeaderAddr: "10.0.0.2:7946"})
	var nl *NotLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) || nl.LeaderAddr != "10.0.0.2:7946" {
		t.Fatalf("%v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.ID = ""
	if bad.Validate() == nil {
		t.Fatal("empty ID accepted")
	}
	bad = DefaultConfig()
	bad.HeartbeatTimeout = time.Millisecond
	if bad.Validate() == nil {
		t.Fatal("1ms heartbeat accepted")
	}
}

// memSink is a raft.SnapshotSink in memory that reads back what was
// written.
type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }
