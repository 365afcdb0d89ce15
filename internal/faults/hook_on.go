//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Enabled reports whether the hook is compiled in (build tag "faults").
const Enabled = true

var (
	mu  sync.Mutex // guards set
	set []Rule     // rules installed with Set
)

// Set installs rules for this process, in addition to those of the rules
// file.
func Set(rules []Rule) {
	mu.Lock()
	set = append([]Rule(nil), rules...)
	mu.Unlock()
}

// BeforeTask is called by a worker before it runs a task attempt: when a
// rule matches, it waits for the rule's delay or until ctx ends, whichever
// comes first, and returns ctx's error in the second case. A rules file
// that cannot be parsed is an error (the attempt fails with it, so a broken
// fault configuration is seen, not silently ignored).
func BeforeTask(ctx context.Context, t Task) error {
	mu.Lock()
	rules := set
	mu.Unlock()
	if path := os.Getenv(EnvFile); path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		default:
			r, err := ParseRules(string(b))
			if err != nil {
				return err
			}
			rules = append(append([]Rule(nil), rules...), r...)
		}
	}
	d := delayFor(rules, t)
	if d == 0 {
		return nil
	}
	// The chaos harness counts these lines in the worker's log to prove
	// that a slow-task fault took effect.
	fmt.Fprintf(os.Stderr, "%s job=%s stage=%d task=%d attempt=%d delay=%s\n", LogPrefix, t.Job, t.Stage, t.Task, t.Attempt, d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
