// Package testwait waits, in tests, until a condition holds or a deadline
// passes: the one polling loop the tests share instead of fixed sleeps.
package testwait

import (
	"testing"
	"time"
)

// Poll is how often For checks its condition.
const Poll = 20 * time.Millisecond

// For calls cond every Poll until it returns true, and fails tb (naming
// what it waited for) when within passes first.
func For(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Until(within, cond) {
		tb.Fatalf("timed out after %v waiting until %s", within, what)
	}
}

// Until is For that reports the outcome instead of failing: true once cond
// held, false when within passed first.
func Until(within time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(Poll)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// HoldPoll is how often Hold checks its invariant.
const HoldPoll = 200 * time.Millisecond

// Hold keeps a fault in place for its prescribed length d (a pause or a
// disconnection that a test must hold for so long), checking every
// HoldPoll that it still holds: tb fails, naming what, as soon as
// invariant returns an error, so the test never runs on believing a fault
// that ended early.
func Hold(tb testing.TB, d time.Duration, what string, invariant func() error) {
	tb.Helper()
	end := time.Now().Add(d)
	tick := time.NewTicker(HoldPoll)
	defer tick.Stop()
	for {
		if err := invariant(); err != nil {
			tb.Fatalf("%s ended %v early: %v", what, time.Until(end).Round(time.Millisecond), err)
		}
		left := time.Until(end)
		if left <= 0 {
			return
		}
		select {
		case <-tick.C:
		case <-time.After(left):
		}
	}
}
