package raftnode

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/internal/testwait"
)

// freeAddrs returns n loopback addresses whose ports were free a moment
// ago (a raft peers list needs fixed ports before the nodes start).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

type testCluster struct {
	t     *testing.T
	peers []Peer
	dirs  map[string]string
	nodes map[string]*Node
}

func newTestCluster(t *testing.T, n int) *testCluster {
	c := &testCluster{t: t, dirs: map[string]string{}, nodes: map[string]*Node{}}
	for i, a := range freeAddrs(t, n) {
		id := fmt.Sprintf("c%d", i+1)
		c.peers = append(c.peers, Peer{ID: id, Addr: a})
		c.dirs[id] = t.TempDir()
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.Close()
		}
	})
	return c
}

func (c *testCluster) config(id string) Config {
	cfg := DefaultConfig()
	cfg.ID, cfg.Peers, cfg.DataDir = id, c.peers, c.dirs[id]
	cfg.HeartbeatTimeout = 300 * time.Millisecond
	p, _ := PeerByID(c.peers, id)
	cfg.BindAddr = p.Addr
	cfg.GRPCAddr = "grpc-of-" + id
	return cfg
}

func (c *testCluster) start(id string) *Node {
	c.t.Helper()
	n, err := NewNode(c.config(id))
	if err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	c.nodes[id] = n
	return n
}

func (c *testCluster) stop(id string) {
	c.t.Helper()
	if err := c.nodes[id].Close(); err != nil {
		c.t.Fatalf("close %s: %v", id, err)
	}
	delete(c.nodes, id)
}

// leader waits until exactly one running node leads and every running
// node knows its gRPC address.
func (c *testCluster) leader() (string, *Node) {
	c.t.Helper()
	var lid string
	testwait.For(c.t, 20*time.Second, "the nodes agree on one leader", func() bool {
		lid = ""
		leaders := 0
		for id, n := range c.nodes {
			if n.IsLeader() {
				lid = id
				leaders++
			}
		}
		if leaders != 1 {
			return false
		}
		for _, n := range c.nodes {
			if id, g := n.Leader(); id != lid || g != "grpc-of-"+lid {
				return false
			}
		}
		return true
	})
	return lid, c.nodes[lid]
}

// proposeAny proposes through whichever node leads, again after a
// leadership change (commands are idempotent).
func (c *testCluster) proposeAny(cmds ...coordinator.Command) {
	c.t.Helper()
	for _, cmd := range cmds {
		for try := 0; ; try++ {
			_, n := c.leader()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err := n.Propose(ctx, cmd)
			cancel()
			if err == nil && res.Err == nil {
				break
			}
			if !errors.Is(err, ErrNotLeader) || try > 20 {
				c.t.Fatalf("propose %s: %v %v", cmd.Kind(), err, res.Err)
			}
		}
	}
}

func TestClusterFailoverAndRejoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three raft nodes on loopback")
	}
	c := newTestCluster(t, 3)
	for _, p := range c.peers {
		c.start(p.ID)
	}
	cmds := commands()
	c.proposeAny(cmds[:3]...)
	lid, leader := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	term, err := leader.VerifyLeader(ctx)
	if err != nil || term == 0 || term != leader.Term() {
		t.Fatalf("VerifyLeader on the leader: term %d, %v", term, err)
	}
	for id, n := range c.nodes {
		if id == lid {
			continue
		}
		if _, err := n.VerifyLeader(ctx); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("VerifyLeader on follower %s: %v", id, err)
		}
		var nl *NotLeaderError
		if _, err := n.Propose(ctx, cmds[0]); !errors.As(err, &nl) || nl.LeaderID != lid || nl.LeaderGRPC != "grpc-of-"+lid {
			t.Fatalf("propose on follower %s: %v", id, err)
		}
	}
	ms, err := leader.Members(ctx)
	if err != nil || len(ms) != 3 {
		t.Fatalf("members: %v %v", ms, err)
	}
	for i, m := range ms {
		wantRole := RoleFollower
		if m.ID == lid {
			wantRole = RoleLeader
		}
		if m.ID != c.peers[i].ID || m.Raft != c.peers[i].Addr || m.GRPC != "grpc-of-"+m.ID || m.Role != wantRole ||
			time.Since(m.LastContact) > 5*time.Second {
			t.Fatalf("member %d: %+v", i, m)
		}
	}

	// The leader goes; the two others elect one of them, in a later term,
	// and it holds what was committed.
	c.stop(lid)
	lid2, leader2 := c.leader()
	if lid2 == lid || leader2.Term() <= term {
		t.Fatalf("new leader %s in term %d (old %s, %d)", lid2, leader2.Term(), lid, term)
	}
	c.proposeAny(cmds[3:]...)
	_, leader2 = c.leader()
	want := snapshotOf(t, leader2.State())

	// The old leader comes back with its data dir and catches up.
	back := c.start(lid)
	c.leader()
	testwait.For(t, 20*time.Second, "the restarted node catches up", func() bool {
		return string(snapshotOf(t, back.State())) == string(want)
	})
	var stage int
	back.Read(func(s *coordinator.State) { stage = s.Job("j1").CurrentStage() })
	if stage != 1 {
		t.Fatalf("restarted node at stage %d", stage)
	}
}

func TestPeersDisagreeRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft nodes on loopback")
	}
	c := newTestCluster(t, 3)
	c.start("c1")
	c.start("c2")
	c.leader()
	// c3 is given a list that names a fourth node: its cluster ID differs
	// from the one c1 and c2 were started with.
	cfg := c.config("c3")
	cfg.Peers = append(append([]Peer{}, c.peers...), Peer{ID: "c4", Addr: freeAddrs(t, 1)[0]})
	odd, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer odd.Close()
	select {
	case err := <-odd.Fatal():
		if !errors.Is(err, ErrPeersDisagree) {
			t.Fatalf("fatal: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the node with the other peers list was not refused")
	}
	// The two that agree are not disturbed, and the odd one never joined.
	for _, id := range []string{"c1", "c2"} {
		select {
		case err := <-c.nodes[id].Fatal():
			t.Fatalf("%s failed: %v", id, err)
		default:
		}
	}
	if odd.IsLeader() {
		t.Fatal("the odd node leads")
	}
}

// dirDigest hashes every file under dir, to show that nothing changed.
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestDataDirBelongsElsewhere(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start("c1")
	c.stop("c1")
	dir := c.dirs["c1"]
	before := dirDigest(t, dir)

	other := newTestCluster(t, 3)
	cases := map[string]func() Config{
		"another cluster's dir": func() Config {
			cfg := other.config("c1")
			cfg.DataDir = dir
			return cfg
		},
		"another node's dir": func() Config {
			cfg := c.config("c2")
			cfg.DataDir = dir
			return cfg
		},
		"a cluster dir without peers": func() Config {
			cfg := DefaultConfig()
			cfg.ID, cfg.DataDir, cfg.BindAddr = "c1", dir, "127.0.0.1:0"
			return cfg
		},
	}
	for name, cfg := range cases {
		if n, err := NewNode(cfg()); !errors.Is(err, ErrWrongDataDir) {
			if n != nil {
				n.Close()
			}
			t.Fatalf("%s: %v", name, err)
		}
		if after := dirDigest(t, dir); after != before {
			t.Fatalf("%s: the data dir changed", name)
		}
	}

	// A single coordinator's dir cannot be taken into a cluster.
	single := DefaultConfig()
	single.DataDir, single.BindAddr, single.HeartbeatTimeout = t.TempDir(), "127.0.0.1:0", 50*time.Millisecond
	sn, err := NewNode(single)
	if err != nil {
		t.Fatal(err)
	}
	sn.Close()
	before = dirDigest(t, single.DataDir)
	cfg := c.config("c1")
	cfg.DataDir = single.DataDir
	if n, err := NewNode(cfg); !errors.Is(err, ErrWrongDataDir) || dirDigest(t, single.DataDir) != before {
		if n != nil {
			n.Close()
		}
		t.Fatalf("single coordinator's dir with --peers: %v", err)
	}
}

func TestPeersValidation(t *testing.T) {
	bad := []string{
		"",
		"c1",
		"c1=127.0.0.1:7170,c1=127.0.0.1:7171",  // same ID twice
		"c1=127.0.0.1:7170,c2=127.0.0.1:7170",  // same address twice
		"c1=127.0.0.1:0",                       // no fixed port
		"c1=localhost",                         // no port
		"c/1=127.0.0.1:7170",                   // bad ID
		"=127.0.0.1:7170",                      // empty ID
		"c1=127.0.0.1:7170,,c2=127.0.0.1:7171", // empty entry
		strings.Repeat("c=127.0.0.1:1,", 10) + "x=1", // too many and duplicates
	}
	for _, s := range bad {
		if _, err := ParsePeers(s); !errors.Is(err, ErrBadPeers) {
			t.Errorf("ParsePeers(%q): %v", s, err)
		}
	}
	ps, err := ParsePeers(" c2=127.0.0.1:7171, c1=127.0.0.1:7170 ")
	if err != nil || FormatPeers(ps) != "c1=127.0.0.1:7170,c2=127.0.0.1:7171" {
		t.Fatalf("%v %v", ps, err)
	}
	if ClusterID(ps) != ClusterID([]Peer{ps[1], ps[0]}) {
		t.Fatal("the cluster ID depends on the order of the list")
	}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Peers, cfg.BindAddr = t.TempDir(), ps, "127.0.0.1:7170"
	cfg.ID = "c3"
	if err := cfg.Validate(); !errors.Is(err, ErrBadPeers) {
		t.Fatalf("ID not in peers: %v", err)
	}
	cfg.ID = "c1"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.BindAddr = "127.0.0.1:9999"
	if err := cfg.Validate(); !errors.Is(err, ErrBadPeers) {
		t.Fatalf("bind differs from the peers entry: %v", err)
	}
	cfg.AdvertiseAddr = "127.0.0.1:7170"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("advertised address matches: %v", err)
	}
	cfg.DataDir = ""
	if err := cfg.Validate(); err == nil {
		t.Fatal("peers without a data dir accepted")
	}
	// A refused config touches nothing.
	if _, err := NewNode(Config{ID: "c3", Peers: ps}); err == nil {
		t.Fatal("accepted")
	}
}
