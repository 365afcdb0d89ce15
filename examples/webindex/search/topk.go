package search

import (
	"cmp"
	"slices"
)

// rank orders hits best first: by score, then by document number.
func rank(a, b Hit) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return cmp.Compare(a.Doc, b.Doc)
}

// topK keeps the k best hits offered to it: a heap whose root is the
// worst of them.
type topK struct {
	k int
	h []Hit
}

func (t *topK) add(h Hit) {
	if len(t.h) < t.k {
		t.h = append(t.h, h)
		t.up(len(t.h) - 1)
		return
	}
	if len(t.h) == 0 || rank(h, t.h[0]) >= 0 {
		return
	}
	t.h[0] = h
	t.down(0)
}

// worse reports whether hit i ranks after hit j.
func (t *topK) worse(i, j int) bool { return rank(t.h[i], t.h[j]) > 0 }

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.worse(i, p) {
			return
		}
		t.h[i], t.h[p] = t.h[p], t.h[i]
		i = p
	}
}

func (t *topK) down(i int) {
	for {
		w := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(t.h) && t.worse(c, w) {
				w = c
			}
		}
		if w == i {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

// sorted returns the hits kept, best first.
func (t *topK) sorted() []Hit {
	slices.SortFunc(t.h, rank)
	return t.h
}
