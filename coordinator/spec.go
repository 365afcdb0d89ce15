package coordinator

import (
	"encoding/json"
	"fmt"
	"sort"
)

// SpecVersion is the bsp.Spec format version this package reads.
const SpecVersion = 1

// Input and output kinds of a stage, as in bsp.Spec.
const (
	InputSource   = "source"
	InputShuffle  = "shuffle"
	OutputShuffle = "shuffle"
	OutputSample  = "sample"
	OutputSink    = "sink"
	OutputCollect = "collect"
)

// maxTasks bounds the tasks of one stage and the partitions of one shuffle,
// as bsp.DecodeSpec does.
const maxTasks = 1 << 20

// Spec mirrors the parts of bsp.Spec the coordinator needs. It decodes the
// same JSON (fields it does not need are ignored), so that the coordinator
// depends neither on package bsp nor on any user code.
type Spec struct {
	Version    int         `json:"version"`
	JobID      string      `json:"job_id"`
	Job        string      `json:"job,omitempty"`
	Partitions int         `json:"partitions"`
	Stages     []StageSpec `json:"stages"`
	Sinks      []SinkSpec  `json:"sinks,omitempty"`
}

// StageSpec mirrors bsp.StageSpec: one superstep with one task per input
// split or shuffle partition.
type StageSpec struct {
	ID     int        `json:"id"`
	Input  InputSpec  `json:"input"`
	Output OutputSpec `json:"output"`
	Tasks  int        `json:"tasks"`
	Deps   []int      `json:"deps,omitempty"`
	// Iterate is set for a stage that runs a Pregel iteration: its tasks run
	// superstep after superstep (see Iteration) until they report Final.
	Iterate *IterateSpec `json:"iterate,omitempty"`
}

// IterateSpec mirrors bsp.IterateSpec. Message outputs are written to, and
// read from, side MessageSide of the stage's input node.
type IterateSpec struct {
	MaxSupersteps   int    `json:"max_supersteps"`
	CheckpointEvery int    `json:"checkpoint_every,omitempty"` // 0: never
	CheckpointDir   string `json:"checkpoint_dir,omitempty"`
}

// MessageSide is the shuffle side of a Pregel stage's message outputs, as
// bsp.MessageSide.
const MessageSide = -1

// InputSpec mirrors bsp.InputSpec without the source splits.
type InputSpec struct {
	Kind  string `json:"kind"`
	Node  int    `json:"node"`
	Sides int    `json:"sides,omitempty"`
}

// OutputSpec mirrors bsp.OutputSpec.
type OutputSpec struct {
	Kind       string `json:"kind"`
	Node       int    `json:"node"`
	Side       int    `json:"side,omitempty"`
	Partitions int    `json:"partitions,omitempty"`
	Shuffle    string `json:"shuffle,omitempty"`
	BoundsFrom []int  `json:"bounds_from,omitempty"`
}

// SinkSpec mirrors bsp.SinkSpec.
type SinkSpec struct {
	Node      int    `json:"node"`
	Dir       string `json:"dir"`
	Ext       string `json:"ext"`
	Overwrite bool   `json:"overwrite,omitempty"`
	Stage     int    `json:"stage"`
}

// DecodeSpec parses and checks an encoded bsp.Spec. It never panics; every
// error matches ErrBadSpec.
func DecodeSpec(b []byte) (*Spec, error) {
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	return &s, nil
}

func (s *Spec) validate() error {
	if s.Version != SpecVersion {
		return fmt.Errorf("version %d, this coordinator reads version %d", s.Version, SpecVersion)
	}
	if len(s.Stages) == 0 {
		return fmt.Errorf("no stages")
	}
	for i, st := range s.Stages {
		if st.ID != i {
			return fmt.Errorf("stage %d has id %d", i, st.ID)
		}
		if st.Tasks < 0 || st.Tasks > maxTasks {
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
			if st.Output.Partitions < 1 || st.Output.Partitions > maxTasks {
				return fmt.Errorf("stage %d: %d output partitions", i, st.Output.Partitions)
			}
		case OutputSink, OutputCollect:
		default:
			return fmt.Errorf("stage %d: unknown output kind %q", i, st.Output.Kind)
		}
		switch st.Input.Kind {
		case InputSource:
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
	}
	for _, sk := range s.Sinks {
		if sk.Stage < 0 || sk.Stage >= len(s.Stages) {
			return fmt.Errorf("sink of node %d: stage %d", sk.Node, sk.Stage)
		}
	}
	return nil
}

// Producers returns the stages whose shuffle output stage i reads: the
// earlier stages with Output.Kind "shuffle" and Output.Node equal to stage
// i's Input.Node, ordered by side and then by stage. It returns nil for a
// stage that reads a source.
func (s *Spec) Producers(i int) []int {
	if i < 0 || i >= len(s.Stages) || s.Stages[i].Input.Kind != InputShuffle {
		return nil
	}
	var out []int
	for j := range i {
		o := s.Stages[j].Output
		if o.Kind == OutputShuffle && o.Node == s.Stages[i].Input.Node {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		return s.Stages[out[a]].Output.Side < s.Stages[out[b]].Output.Side
	})
	return out
}

// Consumers returns the later stages that read stage i's shuffle output, in
// stage order. It returns nil when stage i does not write a shuffle.
func (s *Spec) Consumers(i int) []int {
	if i < 0 || i >= len(s.Stages) || s.Stages[i].Output.Kind != OutputShuffle {
		return nil
	}
	var out []int
	for j := i + 1; j < len(s.Stages); j++ {
		in := s.Stages[j].Input
		if in.Kind == InputShuffle && in.Node == s.Stages[i].Output.Node {
			out = append(out, j)
		}
	}
	return out
}
