//go:build !faults

package faults

import "context"

// Enabled reports whether the hook is compiled in (build tag "faults").
const Enabled = false

// BeforeTask is called by a worker before it runs a task attempt. Without
// the "faults" build tag it does nothing.
func BeforeTask(context.Context, Task) error { return nil }

// Set installs rules for this process. Without the "faults" build tag the
// rules are ignored.
func Set([]Rule) {}
