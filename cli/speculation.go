package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/superstep/superstep/coordinator"
)

// speculationFlags adds the coordinator's speculation flags, which fill c
// (defaults from c, then from SUPERSTEP_* variables).
func speculationFlags(cmd *cobra.Command, c *coordinator.SpeculationConfig) {
	f := cmd.Flags()
	enabled := c.Enabled
	if b, err := strconv.ParseBool(env("speculation", "")); err == nil {
		enabled = b
	}
	q, m := c.Quantile, c.Multiplier
	if v, err := strconv.ParseFloat(env("speculation-quantile", ""), 64); err == nil {
		q = v
	}
	if v, err := strconv.ParseFloat(env("speculation-multiplier", ""), 64); err == nil {
		m = v
	}
	f.BoolVar(&c.Enabled, "speculation", enabled, "start a copy of a straggling attempt on another worker; the first to finish commits [SUPERSTEP_SPECULATION]")
	f.Float64Var(&c.Quantile, "speculation-quantile", q, "fraction of a stage's tasks that must have finished before any is speculated [SUPERSTEP_SPECULATION_QUANTILE]")
	f.Float64Var(&c.Multiplier, "speculation-multiplier", m, "an attempt slower than this many times the stage's median is a straggler [SUPERSTEP_SPECULATION_MULTIPLIER]")
	f.DurationVar(&c.MinRuntime, "speculation-min", envDuration("speculation-min", c.MinRuntime), "...and older than this [SUPERSTEP_SPECULATION_MIN]")
}
