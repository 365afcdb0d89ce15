package search

import (
	"fmt"
	"math"
	"slices"

	"github.com/superstep/superstep/examples/webindex/postings"
)

// groupMatcher finds, in increasing order, the documents that match one
// group of a query: that contain every clause of the group, the terms of a
// phrase at consecutive positions.
type groupMatcher struct {
	names   []string             // the group's distinct terms
	its     []*postings.Iterator // their posting lists
	terms   []int                // their indexes in the query's terms
	lead    int                  // the rarest term: it proposes the candidates
	clauses [][]int              // the clauses, as indexes into names
	pos     [][]uint32           // positions of each term in the candidate, when decoded
	decoded []bool

	doc  uint32 // the current match, unless done
	done bool
}

// newGroupMatcher returns a matcher of g, or nil if some term of g is in
// no document. index gives a term's index in terms.
func newGroupMatcher(g []Clause, terms []term, index func(string) int) (*groupMatcher, error) {
	m := &groupMatcher{}
	for _, c := range g {
		var clause []int
		for _, t := range c {
			i := slices.Index(m.names, t)
			if i < 0 {
				i = len(m.names)
				qt := &terms[index(t)]
				it, err := qt.iterator()
				if err != nil {
					return nil, err
				}
				if it == nil {
					return nil, nil
				}
				m.names = append(m.names, t)
				m.its = append(m.its, it)
				m.terms = append(m.terms, index(t))
				if it.Len() < m.its[m.lead].Len() {
					m.lead = i
				}
			}
			clause = append(clause, i)
		}
		m.clauses = append(m.clauses, clause)
	}
	if len(m.its) == 0 {
		return nil, nil
	}
	m.pos = make([][]uint32, len(m.its))
	m.decoded = make([]bool, len(m.its))
	return m, nil
}

// next moves to the first matching document at or after target, or sets
// done.
func (m *groupMatcher) next(target uint32) error {
	for {
		lead := m.its[m.lead]
		if !lead.Advance(target) {
			m.done = true
			return m.err(m.lead)
		}
		doc := lead.Doc()
		all := true
		for i, it := range m.its {
			if i == m.lead {
				continue
			}
			if !it.Advance(doc) {
				m.done = true
				return m.err(i)
			}
			if d := it.Doc(); d != doc {
				target, all = d, false
				break
			}
		}
		if !all {
			continue
		}
		ok, err := m.phrases()
		if err != nil {
			return err
		}
		if ok {
			m.doc = doc
			return nil
		}
		if doc == math.MaxUint32 {
			m.done = true
			return nil
		}
		target = doc + 1
	}
}

// phrases reports whether the document every iterator is at holds each
// phrase of the group at consecutive positions.
func (m *groupMatcher) phrases() (bool, error) {
	clear(m.decoded)
	positions := func(i int) ([]uint32, error) {
		if !m.decoded[i] {
			m.pos[i] = m.its[i].Positions(m.pos[i][:0])
			m.decoded[i] = true
			if err := m.err(i); err != nil {
				return nil, err
			}
		}
		return m.pos[i], nil
	}
	for _, c := range m.clauses {
		if len(c) == 1 {
			continue
		}
		first, err := positions(c[0])
		if err != nil {
			return false, err
		}
		found := false
		for _, p := range first {
			all := true
			for i, t := range c[1:] {
				next, err := positions(t)
				if err != nil {
					return false, err
				}
				if _, ok := slices.BinarySearch(next, p+uint32(i+1)); !ok {
					all = false
					break
				}
			}
			if all {
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// err is the decoding error of term i's list, if any.
func (m *groupMatcher) err(i int) error {
	if err := m.its[i].Err(); err != nil {
		return fmt.Errorf("term %q: %w", m.names[i], err)
	}
	return nil
}
