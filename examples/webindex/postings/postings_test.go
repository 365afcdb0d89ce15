package postings

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func randomList(r *rand.Rand, n int) []Posting {
	ps := make([]Posting, n)
	doc := uint32(0)
	for i := range ps {
		doc += 1 + uint32(r.IntN(50))
		if i == 0 {
			doc = uint32(r.IntN(3))
		}
		tf := 1 + r.IntN(4)
		pos := make([]uint32, tf)
		p := uint32(0)
		for j := range pos {
			p += uint32(r.IntN(100))
			pos[j] = p
		}
		ps[i] = Posting{Doc: doc, Positions: pos}
	}
	return ps
}

func seeded(t *testing.T) *rand.Rand {
	s := uint64(time.Now().UnixNano())
	t.Logf("seed %d", s)
	return rand.New(rand.NewPCG(s, 5))
}

func TestRoundTripAndAdvance(t *testing.T) {
	r := seeded(t)
	for _, n := range []int{0, 1, BlockSize - 1, BlockSize, BlockSize + 1, 5*BlockSize + 17} {
		ps := randomList(r, n)
		b, err := Encode(nil, ps)
		if err != nil {
			t.Fatal(err)
		}
		it, err := NewIterator(b)
		if err != nil || it.Len() != n {
			t.Fatalf("n=%d: %v len %d", n, err, it.Len())
		}
		var pos []uint32
		for i := 0; it.Next(); i++ {
			// Read positions of every other posting only: skipping must work too.
			if i%2 == 0 {
				pos = it.Positions(pos[:0])
				if !slices.Equal(pos, ps[i].Positions) {
					t.Fatalf("n=%d posting %d positions %v, want %v", n, i, pos, ps[i].Positions)
				}
			}
			if f := it.FirstPosition(); f != ps[i].Positions[0] {
				t.Fatalf("n=%d posting %d first position %d, want %d", n, i, f, ps[i].Positions[0])
			}
			if it.Doc() != ps[i].Doc || it.TF() != len(ps[i].Positions) {
				t.Fatalf("n=%d posting %d: doc %d tf %d", n, i, it.Doc(), it.TF())
			}
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		// Advance to random targets in increasing order equals a linear scan.
		it, _ = NewIterator(b)
		target := uint32(0)
		for range 50 {
			target += uint32(r.IntN(400))
			want := -1
			for i, p := range ps {
				if p.Doc >= target {
					want = i
					break
				}
			}
			got := it.Advance(target)
			if (want < 0) == got || (got && it.Doc() != ps[want].Doc) {
				t.Fatalf("n=%d Advance(%d): %v doc %d, want posting %d", n, target, got, it.Doc(), want)
			}
			if !got {
				break
			}
			if p := it.Positions(nil); !slices.Equal(p, ps[want].Positions) {
				t.Fatalf("positions after Advance differ")
			}
		}
		// Next and Advance mixed: Next may carry the iterator past
		// blocks that Advance has not yet skipped.
		it, _ = NewIterator(b)
		at := -1
		for range 200 {
			if r.IntN(2) == 0 {
				if !it.Next() {
					break
				}
				at++
			} else {
				target := uint32(0)
				if at >= 0 {
					target = ps[at].Doc + uint32(r.IntN(3*BlockSize))
				}
				if !it.Advance(target) {
					break
				}
				for at < 0 || ps[at].Doc < target {
					at++
				}
			}
			if it.Doc() != ps[at].Doc || it.FirstPosition() != ps[at].Positions[0] {
				t.Fatalf("n=%d mixed: doc %d, want posting %d doc %d", n, it.Doc(), at, ps[at].Doc)
			}
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	}
}

func TestEncodeRejectsBadInput(t *testing.T) {
	for _, ps := range [][]Posting{
		{{Doc: 3, Positions: []uint32{1}}, {Doc: 3, Positions: []uint32{1}}},
		{{Doc: 1}},
		{{Doc: 1, Positions: []uint32{5, 2}}},
	} {
		if _, err := Encode(nil, ps); err == nil {
			t.Errorf("%v accepted", ps)
		}
	}
}

func FuzzIterator(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 300} {
		b, _ := Encode(nil, randomList(r, n))
		f.Add(b, uint32(100))
	}
	f.Fuzz(func(t *testing.T, b []byte, target uint32) {
		it, err := NewIterator(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		prev, n := -1, 0
		for it.Next() {
			if int(it.Doc()) <= prev && n > 0 {
				t.Fatalf("docs not increasing")
			}
			prev, n = int(it.Doc()), n+1
			first := it.FirstPosition()
			if p := it.Positions(nil); len(p) > it.TF() {
				t.Fatal("more positions than tf")
			} else if len(p) > 0 && p[0] != first {
				t.Fatalf("first position %d, positions %v", first, p)
			}
		}
		if it.Err() == nil && n != it.Len() {
			t.Fatalf("%d postings read of %d without error", n, it.Len())
		}
		it2, _ := NewIterator(b)
		if it2.Advance(target) && it2.Doc() < target {
			t.Fatal("Advance stopped before its target")
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	ps := randomList(rand.New(rand.NewPCG(1, 2)), 100000)
	enc, _ := Encode(nil, ps)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		it, _ := NewIterator(enc)
		for it.Next() {
		}
	}
}

// TestColumnsEncodeAsPostings builds the same lists as []Posting and as
// Columns filled token by token in a shuffled document order: the bytes
// must be equal (blocks of BlockSize included), and invalid columns fail.
func TestColumnsEncodeAsPostings(t *testing.T) {
	var ps []Posting
	for d := uint32(0); d < 3*BlockSize+5; d++ {
		p := Posting{Doc: d * 3}
		for k := uint32(0); k <= d%4; k++ {
			p.Positions = append(p.Positions, k*7+d%3)
		}
		ps = append(ps, p)
	}
	want, err := Encode(nil, ps)
	if err != nil {
		t.Fatal(err)
	}
	// Documents in a permuted order (a multiplicative walk), and the
	// columns of two halves appended as a reducer merges combiners.
	var a, b Columns
	n := len(ps)
	for k := range n {
		p := ps[(k*7)%n]
		dst := &a
		if k >= n/2 {
			dst = &b
		}
		for _, pos := range p.Positions {
			dst.Add(p.Doc, pos)
		}
	}
	a.Append(b)
	if a.Len() != n {
		t.Fatalf("%d postings, want %d", a.Len(), n)
	}
	got, err := EncodeColumns(nil, a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("columns encode to %d bytes, postings to %d, and they differ", len(got), len(want))
	}
	// A document split in pieces, as a combiner that spills in the middle
	// of its tokens leaves it, pieces out of order: one posting.
	split := Columns{Docs: []uint32{9, 4, 2, 4}, TFs: []uint32{1, 1, 1, 2}, Pos: []uint32{3, 7, 1, 0, 5}}
	joined, err := Encode(nil, []Posting{{Doc: 2, Positions: []uint32{1}}, {Doc: 4, Positions: []uint32{0, 5, 7}}, {Doc: 9, Positions: []uint32{3}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := EncodeColumns(nil, split); err != nil || !bytes.Equal(got, joined) {
		t.Fatalf("pieces of a document: %v, or bytes differ from the joined posting's", err)
	}
	if n, err := Count(joined); err != nil || n != 3 || split.Len() != 4 {
		t.Fatalf("Count of the joined list: %d, %v; want 3 (4 pieces)", n, err)
	}
	overlap := Columns{Docs: []uint32{4, 4}, TFs: []uint32{2, 1}, Pos: []uint32{0, 5, 3}}
	if _, err := EncodeColumns(nil, overlap); err == nil {
		t.Fatal("pieces of a document whose positions interleave must fail")
	}
	short := Columns{Docs: []uint32{1}, TFs: []uint32{2}, Pos: []uint32{0}}
	if _, err := EncodeColumns(nil, short); err == nil {
		t.Fatal("fewer positions than the term frequencies must fail")
	}
}
