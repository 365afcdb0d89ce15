package worker

import (
	"strings"
	"sync"
)

// resident is the worker's bsp.ResidentStore: the Pregel vertex partitions
// that stay in memory between the supersteps of a job, shared by every task
// the worker runs. Keys start with the job id and a slash, so that a job's
// entries are dropped when its files are deleted.
type resident struct {
	mu sync.Mutex // guards m
	m  map[string]any
}

func newResident() *resident { return &resident{m: map[string]any{}} }

// Get implements bsp.ResidentStore.
func (r *resident) Get(key string) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[key]
	return v, ok
}

// Put implements bsp.ResidentStore.
func (r *resident) Put(key string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[key] = v
}

// Delete implements bsp.ResidentStore.
func (r *resident) Delete(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

// dropJob deletes the entries of a job: the keys that start with jobID + "/".
func (r *resident) dropJob(jobID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if strings.HasPrefix(k, jobID+"/") {
			delete(r.m, k)
		}
	}
}

// len returns the number of entries.
func (r *resident) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
