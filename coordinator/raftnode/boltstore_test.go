package raftnode

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestBoltStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := openBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1 + i/4, Type: raft.LogCommand, Data: []byte{byte(i), 0, 1},
			Extensions: []byte("x"), AppendedAt: time.Unix(0, int64(i)*1e9)})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	// A new leader overrides the tail (the case raft-wal could not reopen
	// after), then the head is compacted.
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLog(&raft.Log{Index: 8, Term: 9, Type: raft.LogNoop}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 9); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("c2")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = openBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 3 || last != 8 {
		t.Fatalf("first %d last %d", first, last)
	}
	var l raft.Log
	if err := s.GetLog(5, &l); err != nil || l.Index != 5 || l.Term != 2 || !bytes.Equal(l.Data, []byte{5, 0, 1}) ||
		string(l.Extensions) != "x" || !l.AppendedAt.Equal(time.Unix(5, 0)) || l.Type != raft.LogCommand {
		t.Fatalf("log 5: %+v %v", l, err)
	}
	if err := s.GetLog(8, &l); err != nil || l.Term != 9 || l.Type != raft.LogNoop || len(l.Data) != 0 {
		t.Fatalf("log 8: %+v %v", l, err)
	}
	if err := s.GetLog(9, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("log 9: %v", err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); v != 9 || err != nil {
		t.Fatalf("term %d %v", v, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); string(v) != "c2" || err != nil {
		t.Fatalf("vote %q %v", v, err)
	}
	// raft tells a missing key by this error's text.
	if _, err := s.GetUint64([]byte("nope")); err == nil || err.Error() != "not found" {
		t.Fatalf("missing key: %v", err)
	}
}

func FuzzDecodeLog(f *testing.F) {
	f.Add(encodeLog(&raft.Log{Index: 3, Term: 2, Data: []byte("abc"), AppendedAt: time.Unix(1, 2)}))
	f.Add([]byte{1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		// It never panics, and what it accepts is a whole entry.
		var l raft.Log
		if decodeLog(b, &l) == nil {
			var again raft.Log
			if err := decodeLog(encodeLog(&l), &again); err != nil || again.Index != l.Index || !bytes.Equal(again.Data, l.Data) {
				t.Fatalf("re-encoded entry does not decode alike: %v", err)
			}
		}
	})
}

func FuzzReadHello(f *testing.F) {
	f.Add(hello{cluster: clusterBytes(ClusterID([]Peer{{"c1", "127.0.0.1:1"}})), node: "c1", grpc: "127.0.0.1:2"}.encode())
	f.Add([]byte("SSR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := readHello(bytes.NewReader(b))
		if err == nil && !bytes.HasPrefix(b, h.encode()) {
			t.Fatalf("decoded hello %+v does not re-encode to its bytes", h)
		}
	})
}
