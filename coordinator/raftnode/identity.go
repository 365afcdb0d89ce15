package raftnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// ErrWrongDataDir is matched by the error of a node whose data directory
// belongs to another node or another cluster, or whose --peers disagree
// with the cluster the directory was made for. Nothing in the directory
// is changed.
var ErrWrongDataDir = errors.New("raftnode: data directory belongs elsewhere")

// identityFile names, in a data directory, the node and cluster the
// directory belongs to. It is written once, before raft first writes, and
// never rewritten.
const identityFile = "cluster.json"

// identity is the content of identityFile.
type identity struct {
	Version int    `json:"version"`
	NodeID  string `json:"node_id"`
	// ClusterID and Peers are empty for a single coordinator started
	// without --peers.
	ClusterID string `json:"cluster_id,omitempty"`
	Peers     []Peer `json:"peers,omitempty"`
}

func (id identity) describe() string {
	if id.ClusterID == "" {
		return fmt.Sprintf("node %s of a single coordinator (no --peers)", id.NodeID)
	}
	return fmt.Sprintf("node %s of cluster %s (--peers %s)", id.NodeID, id.ClusterID, FormatPeers(id.Peers))
}

func readIdentity(dir string) (identity, bool, error) {
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return identity{}, false, nil
	}
	if err != nil {
		return identity{}, false, fmt.Errorf("raftnode: %w", err)
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil || id.Version != 1 || ValidateID(id.NodeID) != nil {
		return identity{}, false, fmt.Errorf("%w: %s is not a cluster identity file (%v)", ErrWrongDataDir, path, err)
	}
	if id.ClusterID != "" && (ValidatePeers(id.Peers) != nil || ClusterID(id.Peers) != id.ClusterID) {
		return identity{}, false, fmt.Errorf("%w: %s: peers and cluster ID do not match", ErrWrongDataDir, path)
	}
	return id, true, nil
}

// checkIdentity compares the identity a data directory records with the
// one this node was started with. hasState says whether raft already
// wrote there (a directory from before identity files were written).
func checkIdentity(dir string, want identity, hasState bool) (write bool, err error) {
	got, ok, err := readIdentity(dir)
	if err != nil {
		return false, err
	}
	path := filepath.Join(dir, identityFile)
	switch {
	case !ok && hasState && want.ClusterID != "":
		return false, fmt.Errorf("%w: %s holds raft state but no %s, so it is not a member of cluster %s; "+
			"give a fresh data directory to join with --peers", ErrWrongDataDir, dir, identityFile, want.ClusterID)
	case !ok:
		return true, nil
	case got.NodeID != want.NodeID:
		return false, fmt.Errorf("%w: %s belongs to %s, not to node %s", ErrWrongDataDir, path, got.describe(), want.NodeID)
	case got.ClusterID != want.ClusterID:
		if got.ClusterID != "" && want.ClusterID != "" {
			return false, fmt.Errorf("%w: %s belongs to %s; this node was started with --peers %s (cluster %s): "+
				"the peers lists disagree", ErrWrongDataDir, path, got.describe(), FormatPeers(want.Peers), want.ClusterID)
		}
		return false, fmt.Errorf("%w: %s belongs to %s, but this node was started as %s", ErrWrongDataDir, path,
			got.describe(), want.describe())
	case !slices.Equal(got.Peers, want.Peers):
		return false, fmt.Errorf("%w: %s: recorded peers differ", ErrWrongDataDir, path)
	}
	return false, nil
}

// writeIdentity creates the identity file; it never replaces one.
func writeIdentity(dir string, id identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, identityFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("raftnode: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("raftnode: write %s: %w", identityFile, err)
	}
	// Link, not rename: it fails if another process created the file in
	// the meantime, so an existing identity is never replaced.
	final := filepath.Join(dir, identityFile)
	err = os.Link(tmp.Name(), final)
	os.Remove(tmp.Name())
	if err != nil {
		return fmt.Errorf("raftnode: create %s: %w", final, err)
	}
	return nil
}
