package coordinator

import (
	"slices"
	"testing"
	"time"
)

// A leader that did not run for longer than the timeout expires nobody for
// that silence; a worker silent after it does expire.
func TestFailureDetectorForgivesLeaderPause(t *testing.T) {
	d := NewFailureDetector(2 * time.Second)
	t0 := time.Unix(100, 0)
	d.Heartbeat("w1", t0)
	d.Heartbeat("w2", t0)
	for ms := 100; ms <= 1500; ms += 100 {
		if got := d.Expired(t0.Add(time.Duration(ms) * time.Millisecond)); len(got) != 0 {
			t.Fatalf("expired at +%d ms: %v", ms, got)
		}
	}
	d.Heartbeat("w2", t0.Add(1500*time.Millisecond))
	if got := d.Expired(t0.Add(2600 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("expired at +2.6 s after a 1.1 s gap between calls (a pause): %v", got)
	}
	// Calls every 100 ms again: w1 stays silent and expires a timeout
	// after the pause, w2 heartbeats.
	var got []WorkerID
	for ms := 2700; ms <= 4700 && len(got) == 0; ms += 100 {
		at := t0.Add(time.Duration(ms) * time.Millisecond)
		d.Heartbeat("w2", at)
		got = d.Expired(at)
		if len(got) > 0 && ms < 4600 {
			t.Fatalf("expired at +%d ms, before a timeout after the pause: %v", ms, got)
		}
	}
	if !slices.Equal(got, []WorkerID{"w1"}) {
		t.Fatalf("after the pause expired %v, want [w1]", got)
	}
	// Without a pause, the ordinary timeout applies.
	d2 := NewFailureDetector(2 * time.Second)
	d2.Heartbeat("w1", t0)
	for ms := 100; ms <= 2100; ms += 100 {
		got = d2.Expired(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	if !slices.Equal(got, []WorkerID{"w1"}) {
		t.Fatalf("at +2.1 s with regular calls: %v, want [w1]", got)
	}
}
