package security

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
)

// specPaths is the part of an encoded plan spec (bsp.Spec) that names
// files: the source splits' files, the sinks' directories and the
// iterations' checkpoint directories. It is decoded here, from the same
// JSON, so that the coordinator and the workers check one list.
type specPaths struct {
	Stages []struct {
		Input struct {
			Splits []struct {
				Files []struct {
					Path string `json:"path"`
				} `json:"files"`
			} `json:"splits"`
		} `json:"input"`
		Iterate *struct {
			CheckpointDir string `json:"checkpoint_dir"`
		} `json:"iterate"`
	} `json:"stages"`
	Sinks []struct {
		Dir string `json:"dir"`
	} `json:"sinks"`
}

// CheckSpec checks the paths of job jobID's encoded plan spec:
//
//   - every checkpoint directory is JOBID/stage-N under some directory (as
//     bsp.Compile makes it), since executors remove it recursively when the
//     job ends: a spec cannot name another directory to delete;
//   - with roots, every input file, output directory and checkpoint
//     directory lies under one of them.
//
// The error names the first offending path and whether it is an input or
// an output.
func (rs Roots) CheckSpec(jobID string, spec []byte) error {
	var sp specPaths
	if err := json.Unmarshal(spec, &sp); err != nil {
		return fmt.Errorf("plan spec: %w", err)
	}
	seen := map[string]bool{}
	check := func(what, p string) error {
		if p == "" || seen[p] {
			return nil
		}
		seen[p] = true
		if err := rs.Allowed(p); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	for i, st := range sp.Stages {
		if it := st.Iterate; it != nil && it.CheckpointDir != "" {
			d := filepath.Clean(it.CheckpointDir)
			if filepath.Base(d) != "stage-"+strconv.Itoa(i) || filepath.Base(filepath.Dir(d)) != jobID {
				return fmt.Errorf("%w: checkpoint directory %s of stage %d is not DIR/%s/stage-%d", ErrOutsideRoot, it.CheckpointDir, i, jobID, i)
			}
		}
		if len(rs) == 0 {
			continue
		}
		for _, s := range st.Input.Splits {
			for _, f := range s.Files {
				if err := check("input", f.Path); err != nil {
					return err
				}
			}
		}
		if st.Iterate != nil {
			if err := check("checkpoint directory", st.Iterate.CheckpointDir); err != nil {
				return err
			}
		}
	}
	for _, sk := range sp.Sinks {
		if len(rs) == 0 {
			break
		}
		if err := check("output", sk.Dir); err != nil {
			return err
		}
	}
	return nil
}
