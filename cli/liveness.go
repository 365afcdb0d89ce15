package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/superstep/superstep/coordinator"
)

// livenessFlags adds the coordinator's task-timeout and exclusion flags,
// which fill t and e (defaults from them, then from SUPERSTEP_* variables).
func livenessFlags(cmd *cobra.Command, t *coordinator.TimeoutConfig, e *coordinator.ExclusionConfig) {
	f := cmd.Flags()
	m := t.Multiplier
	if v, err := strconv.ParseFloat(env("task-timeout-multiplier", ""), 64); err == nil {
		m = v
	}
	n := e.Failures
	if v, err := strconv.Atoi(env("exclude-after", "")); err == nil {
		n = v
	}
	f.DurationVar(&t.Floor, "task-timeout-floor", envDuration("task-timeout-floor", t.Floor),
		"shortest task timeout: an attempt running longer than its timeout is cancelled and retried on another worker "+
			"(counted as lost, not as a failure of the task); the first attempts of a stage, which have no median yet, "+
			"and every Pregel superstep get this floor only; 0 disables task timeouts [SUPERSTEP_TASK_TIMEOUT_FLOOR]")
	f.Float64Var(&t.Multiplier, "task-timeout-multiplier", m,
		"once attempts of a stage have finished, its timeout is this many times their median when that is longer than "+
			"the floor; each timeout of a task doubles its next one, and the job's attempt limit of timeouts fails it "+
			"[SUPERSTEP_TASK_TIMEOUT_MULTIPLIER]")
	f.IntVar(&e.Failures, "exclude-after", n,
		"exclude a worker from scheduling after this many attempts in a row failed on it (in user code or by timing out, "+
			"whatever their jobs); its Pregel partitions move; the last worker that can run a job is never excluded; "+
			"0: never exclude [SUPERSTEP_EXCLUDE_AFTER]")
	f.DurationVar(&e.For, "exclude-for", envDuration("exclude-for", e.For),
		"how long an excluded worker gets no new task [SUPERSTEP_EXCLUDE_FOR]")
}
