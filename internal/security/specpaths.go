package security

import (
	"fmt"
	"strconv"

	"github.com/superstep/superstep/internal/planspec"
	"github.com/superstep/superstep/storage"
)

// CheckSpec checks the paths of a decoded plan spec:
//
//   - every checkpoint directory is DIR/JOBID/stage-N (as bsp.Compile
//     makes it), since executors remove it recursively when the job ends:
//     a spec cannot name another directory to delete;
//   - with roots, every input file, output directory and checkpoint
//     directory lies under one of them.
//
// The coordinator calls it at submit and every worker at assignment. The
// error names the first offending path and whether it is an input or an
// output.
func (rs Roots) CheckSpec(spec *planspec.Spec) error {
	seen := map[string]bool{}
	check := func(what, p string) error {
		if len(rs) == 0 || p == "" || seen[p] {
			return nil
		}
		seen[p] = true
		if err := rs.Allowed(p); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	for i, st := range spec.Stages {
		if it := st.Iterate; it != nil && it.CheckpointDir != "" {
			d := storage.Clean(it.CheckpointDir)
			if storage.Base(d) != "stage-"+strconv.Itoa(i) || storage.Base(storage.Dir(d)) != spec.JobID {
				return fmt.Errorf("%w: checkpoint directory %s of stage %d is not DIR/%s/stage-%d", ErrOutsideRoot, it.CheckpointDir, i, spec.JobID, i)
			}
			if err := check("checkpoint directory", d); err != nil {
				return err
			}
		}
		for _, s := range st.Input.Splits {
			for _, f := range s.Files {
				if err := check("input", f.Path); err != nil {
					return err
				}
			}
		}
	}
	for _, sk := range spec.Sinks {
		if err := check("output", sk.Dir); err != nil {
			return err
		}
	}
	return nil
}
