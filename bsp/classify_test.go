package bsp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/superstep/superstep/bsp"
)

// TestClassify: the rule both executors report a failed attempt by. A map
// output lost without naming its writer counts against the task's attempts
// (nothing reruns the map, so an uncounted retry could read it forever).
func TestClassify(t *testing.T) {
	bad := &bsp.InputError{Path: "in.txt", Line: 3, Err: errors.New("bad record")}
	for _, c := range []struct {
		name      string
		err       error
		cancelled bool
		want      bsp.FailureKind
		at        *bsp.InputError
	}{
		{"user", errors.New("boom"), false, bsp.FailUser, nil},
		{"state lost", fmt.Errorf("superstep 2: %w", bsp.ErrStateLost), false, bsp.FailStateLost, nil},
		{"state lost when cancelled", bsp.ErrStateLost, true, bsp.FailStateLost, nil},
		{"cancelled", context.Canceled, true, bsp.FailCancelled, nil},
		{"permanent when cancelled", bad, true, bsp.FailCancelled, nil},
		{"map output lost, writer unknown", fmt.Errorf("%w: corrupt", bsp.ErrMapOutputLost), false, bsp.FailUser, nil},
		{"permanent input", fmt.Errorf("task: %w", bad), false, bsp.FailPermanent, bad},
		{"permanent plan", bsp.ErrPlanMismatch, false, bsp.FailPermanent, nil},
	} {
		kind, at := bsp.Classify(c.err, c.cancelled)
		if kind != c.want || at != c.at {
			t.Errorf("%s: Classify(%v, %v) = %v, %v; want %v, %v", c.name, c.err, c.cancelled, kind, at, c.want, c.at)
		}
	}
}
