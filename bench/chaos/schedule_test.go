package main

import (
	"reflect"
	"testing"
	"time"
)

// A seed and a run number fix the schedule, whatever ran before.
func TestPlanIsAFunctionOfSeedAndRun(t *testing.T) {
	p := planner{seed: 42, jobs: []string{"wordcount", "terasort"}, workers: 3, parts: 6,
		kinds:  []kind{killWorker, pauseWorker, corruptShuffle, slowTask},
		window: map[string]time.Duration{"wordcount": time.Second, "terasort": 2 * time.Second}}
	a := []run{p.plan(0), p.plan(1), p.plan(2)}
	if b := p.plan(2); !reflect.DeepEqual(a[2], b) {
		t.Fatalf("run 2 differs when planned alone:\n%v\n%v", a[2], b)
	}
	if reflect.DeepEqual(a[0], a[1]) {
		t.Fatalf("runs 0 and 1 have the same schedule: %v", a[0])
	}
	q := p
	q.seed = 43
	if reflect.DeepEqual(q.plan(0), a[0]) {
		t.Fatal("seeds 42 and 43 gave run 0 the same schedule")
	}
	for _, r := range a {
		if len(r.Faults) < 1 || len(r.Faults) > 3 {
			t.Errorf("%v: %d faults, want 1 to 3", r, len(r.Faults))
		}
		for _, f := range r.Faults {
			if f.At < 0 || f.At >= p.window[r.Job] || f.Target < 0 || f.Target >= 3 || f.Task < 0 || f.Task >= 6 {
				t.Errorf("%v: fault %v out of range", r, f)
			}
		}
	}
}
