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
