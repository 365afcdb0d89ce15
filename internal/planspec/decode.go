package planspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadSpec is matched by every error Decode and Validate return.
var ErrBadSpec = errors.New("malformed plan spec")

// MaxTasks bounds the tasks of one stage and the partitions of one shuffle.
const MaxTasks = 1 << 20

// maxSpecSize bounds the bytes Decode accepts (a plan is a few KB; source
// splits of many files make it larger).
const maxSpecSize = 64 << 20

// Decode parses and validates an encoded Spec. It never panics on any
// input; anything malformed or inconsistent is an error matching
// ErrBadSpec. Unknown fields and trailing data are errors.
func Decode(b []byte) (*Spec, error) {
	if len(b) > maxSpecSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadSpec, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadSpec)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks the spec's consistency: what every executor (the
// coordinator, a worker, the in-process executor) relies on. Its errors
// match ErrBadSpec.
func (s *Spec) Validate() error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	return nil
}

func (s *Spec) validate() error {
	if s.Version != Version {
		return fmt.Errorf("version %d, this binary reads version %d", s.Version, Version)
	}
	if s.Partitions < 1 {
		return fmt.Errorf("partitions %d", s.Partitions)
	}
	if len(s.Stages) == 0 {
		return fmt.Errorf("no stages")
	}
	for i, st := range s.Stages {
		if err := s.validateStage(i, &st); err != nil {
			return err
		}
	}
	for _, sk := range s.Sinks {
		if sk.Stage < 0 || sk.Stage >= len(s.Stages) || sk.Dir == "" {
			return fmt.Errorf("sink of node %d: stage %d dir %q", sk.Node, sk.Stage, sk.Dir)
		}
	}
	return nil
}

func (s *Spec) validateStage(i int, st *StageSpec) error {
	if st.ID != i {
		return fmt.Errorf("stage %d has id %d", i, st.ID)
	}
	if st.Tasks < 0 || st.Tasks > MaxTasks {
		return fmt.Errorf("stage %d: %d tasks", i, st.Tasks)
	}
	for _, d := range append(append([]int(nil), st.Deps...), st.Output.BoundsFrom...) {
		if d < 0 || d >= i {
			return fmt.Errorf("stage %d depends on stage %d", i, d)
		}
	}
	for _, d := range st.Output.BoundsFrom {
		if s.Stages[d].Output.Kind != OutputSample {
			return fmt.Errorf("stage %d takes bounds from stage %d, which is not a sample stage", i, d)
		}
	}
	switch st.Output.Kind {
	case OutputShuffle, OutputSample:
		if st.Output.Partitions < 1 || st.Output.Partitions > MaxTasks {
			return fmt.Errorf("stage %d: %d output partitions", i, st.Output.Partitions)
		}
	case OutputSink, OutputCollect:
	default:
		return fmt.Errorf("stage %d: unknown output kind %q", i, st.Output.Kind)
	}
	switch st.Input.Kind {
	case InputSource:
		if len(st.Input.Splits) != st.Tasks {
			return fmt.Errorf("stage %d: %d splits for %d tasks", i, len(st.Input.Splits), st.Tasks)
		}
		for j, sp := range st.Input.Splits {
			if sp.Start < 0 || sp.End < sp.Start {
				return fmt.Errorf("stage %d split %d: range [%d,%d)", i, j, sp.Start, sp.End)
			}
			for _, f := range sp.Files {
				if f.Path == "" || f.Start < 0 || f.End < f.Start {
					return fmt.Errorf("stage %d split %d: file %q range [%d,%d)", i, j, f.Path, f.Start, f.End)
				}
			}
		}
	case InputShuffle:
		prod := s.Producers(i)
		if st.Input.Sides < 1 || len(prod) != st.Input.Sides {
			return fmt.Errorf("stage %d: shuffle input of node %d with %d sides has %d earlier writer stages",
				i, st.Input.Node, st.Input.Sides, len(prod))
		}
		for _, p := range prod {
			if s.Stages[p].Output.Partitions != st.Tasks {
				return fmt.Errorf("stage %d: %d tasks read stage %d's %d partitions",
					i, st.Tasks, p, s.Stages[p].Output.Partitions)
			}
		}
	default:
		return fmt.Errorf("stage %d: unknown input kind %q", i, st.Input.Kind)
	}
	if it := st.Iterate; it != nil {
		switch {
		case it.MaxSupersteps < 1:
			return fmt.Errorf("stage %d: iteration of at most %d supersteps", i, it.MaxSupersteps)
		case it.CheckpointEvery < 0:
			return fmt.Errorf("stage %d: checkpoint every %d supersteps", i, it.CheckpointEvery)
		case st.Input.Kind != InputShuffle:
			return fmt.Errorf("stage %d: an iteration must read a shuffle, not a %s", i, st.Input.Kind)
		}
	}
	return nil
}
