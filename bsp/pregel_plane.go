package bsp

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The in-memory message plane. A task of superstep k whose partition is in
// memory and whose messages all went along edges (combined densely by
// routing slot) publishes them here, under a token unique to this process
// and this task run, and names the token in its aggregator partials (see
// aggState.encode), which the coordinator hands, unread, to every task of
// k+1. A task of k+1 in the same process finds every sender's block by its
// token and applies the values of its own slot range by index: no file, no
// encoding, no key per message (the receiver resolves a sender's slot keys to
// its vertex indices once per sender routing and keeps the mapping).
//
// The message output file is still written, so a receiver in another process
// (or one that misses any token) reads the files as before; with the files,
// checkpoints and rollback are unchanged. Recovery: a lost partition or a
// lost block rolls the stage back to its last checkpoint (the state and
// message files of superstep c), as for a lost file. The blocks are
// addressable by (job, stage, superstep, sender) and immutable once
// published, so keeping them in a sender-side log until the next checkpoint
// would let a rollback recompute only the lost partitions; that is not done
// yet.

// msgBlock is what one task published: its routing and, by slot, the
// combined messages along its edges. It is never modified after put.
type msgBlock[M any] struct {
	route *routing
	acc   []M
	has   []bool
}

type planeEntry struct {
	job       string // job ID + "/" + stage
	superstep int
	block     any // *msgBlock[M]
}

// plane holds the published blocks of this process.
type plane struct {
	nonce string

	mu   sync.Mutex // guards next and m
	next uint64
	m    map[string]planeEntry
}

var messagePlane = newPlane()

// Test hooks: planeOff makes every task read the message files;
// planeHits counts the supersteps a task ran from published blocks.
var (
	planeOff  atomic.Bool
	planeHits atomic.Int64
)

func newPlane() *plane {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &plane{nonce: hex.EncodeToString(b[:]), m: map[string]planeEntry{}}
}

// put publishes a block of job's superstep and returns its token. Blocks of
// the job older than superstep-1 are dropped: no task reads them again (a
// rollback reads checkpoint files).
func (p *plane) put(job string, superstep int, block any) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	tok := fmt.Sprintf("%s-%d", p.nonce, p.next)
	p.m[tok] = planeEntry{job: job, superstep: superstep, block: block}
	p.pruneLocked(job, superstep-1)
	return tok
}

// get returns the block of a token, if this process holds it.
func (p *plane) get(tok string) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[tok]
	return e.block, ok
}

// prune drops job's blocks of supersteps before `before`.
func (p *plane) prune(job string, before int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLocked(job, before)
}

func (p *plane) pruneLocked(job string, before int) {
	for k, e := range p.m {
		if e.job == job && e.superstep < before {
			delete(p.m, k)
		}
	}
}

// dropJob drops every block of the job with the given ID.
func (p *plane) dropJob(jobID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.m {
		if strings.HasPrefix(e.job, jobID+"/") {
			delete(p.m, k)
		}
	}
}

// planeJob names the stage's blocks in the plane.
func (r *pregelRun[K, V, E, M]) planeJob() string {
	return r.tc.prog.Spec.JobID + "/" + strconv.Itoa(r.tc.spec.Stage)
}

// publishedBlocks returns the blocks the tasks of the previous superstep
// published, in task order, when this partition is in memory and this
// process holds every one of them; nil otherwise (the message files are
// read instead).
func (r *pregelRun[K, V, E, M]) publishedBlocks(tokens []string) []*msgBlock[M] {
	if r.part.file != "" || r.prog.Combine == nil || len(tokens) != r.tc.stage.Tasks || planeOff.Load() {
		return nil
	}
	out := make([]*msgBlock[M], len(tokens))
	for t, tok := range tokens {
		if tok == "" {
			return nil
		}
		b, ok := messagePlane.get(tok)
		if !ok {
			return nil
		}
		if out[t], ok = b.(*msgBlock[M]); !ok {
			return nil
		}
	}
	planeHits.Add(1)
	return out
}

// gather combines the messages of r.blocks by receiving vertex, sender by
// sender in task order (the order a merge of the message files delivers
// them in, so both paths combine alike).
func (r *pregelRun[K, V, E, M]) gather() ([]M, []bool, error) {
	p := r.part
	n := len(p.keys)
	acc, has := make([]M, n), make([]bool, n)
	if len(p.inbound) != len(r.blocks) {
		p.inbound = make([]inbound, len(r.blocks))
	}
	combine := r.prog.Combine
	for t, b := range r.blocks {
		if r.partNo+1 >= len(b.route.partStart) {
			return nil, nil, fmt.Errorf("%w: task %d routes to %d partitions", ErrBadSpec, t, len(b.route.partStart)-1)
		}
		lo, hi := b.route.partStart[r.partNo], b.route.partStart[r.partNo+1]
		in := &p.inbound[t]
		if in.route != b.route {
			idx, err := r.resolve(b.route.slotKey[lo:hi])
			if err != nil {
				return nil, nil, err
			}
			in.route, in.idx = b.route, idx
		}
		idx := in.idx
		for j := lo; j < hi; j++ {
			if !b.has[j] {
				continue
			}
			i := idx[j-lo]
			if has[i] {
				acc[i] = combine(acc[i], b.acc[j])
			} else {
				acc[i], has[i] = b.acc[j], true
			}
		}
	}
	return acc, has, nil
}

// resolve maps sorted destination keys to the partition's vertex indices.
func (r *pregelRun[K, V, E, M]) resolve(keys []string) ([]int32, error) {
	vk := r.part.keys
	idx := make([]int32, len(keys))
	i := 0
	for j, k := range keys {
		for i < len(vk) && vk[i] < k {
			i++
		}
		if i == len(vk) || vk[i] != k {
			return nil, r.unknownTarget(bytesOf(k))
		}
		idx[j] = int32(i)
	}
	return idx, nil
}
