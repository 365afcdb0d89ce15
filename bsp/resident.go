package bsp

import (
	"strings"
	"sync"
)

// MemResident is the in-memory ResidentStore executors share between the
// tasks of one process. Keys start with the job id and a slash (the Pregel
// engine's keys do), so DropJob frees a job's entries. It is safe for
// concurrent use; the zero value is not: use NewMemResident.
type MemResident struct {
	mu sync.Mutex // guards m
	m  map[string]any
}

// NewMemResident returns an empty store.
func NewMemResident() *MemResident { return &MemResident{m: map[string]any{}} }

// Get implements ResidentStore.
func (r *MemResident) Get(key string) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[key]
	return v, ok
}

// Put implements ResidentStore.
func (r *MemResident) Put(key string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[key] = v
}

// Delete implements ResidentStore.
func (r *MemResident) Delete(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

// DropJob deletes the entries of a job: the keys that start with jobID + "/".
// It also drops the job's message blocks from this process's in-memory
// message plane.
func (r *MemResident) DropJob(jobID string) {
	messagePlane.dropJob(jobID)
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if strings.HasPrefix(k, jobID+"/") {
			delete(r.m, k)
		}
	}
}

// Len returns the number of entries.
func (r *MemResident) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
