package bsp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// SpecVersion is the version of the encoded Spec format. DecodeSpec rejects
// any other version.
const SpecVersion = 1

// Spec is a compiled plan as data: what the submitter sends to a coordinator
// and what a worker checks its rebuilt plan against. It names the registered
// job and its arguments, and lists the supersteps (stages) with their inputs,
// operators and outputs. Source splits are computed once, by the submitter,
// and travel in the Spec so that every process reads the same byte ranges.
type Spec struct {
	Version    int               `json:"version"`
	JobID      string            `json:"job_id"`
	Job        string            `json:"job,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	Partitions int               `json:"partitions"`
	Stages     []StageSpec       `json:"stages"`
	Sinks      []SinkSpec        `json:"sinks,omitempty"`
}

// StageSpec is one superstep: one task per input split or shuffle partition,
// each running the fused operator chain and writing the stage's output.
type StageSpec struct {
	ID     int        `json:"id"`
	Input  InputSpec  `json:"input"`
	Chain  []int      `json:"chain,omitempty"` // narrow node ids, upstream first
	Ops    []string   `json:"ops"`             // operator names of input, chain and output, for checking and explain
	Output OutputSpec `json:"output"`
	Tasks  int        `json:"tasks"`
	Deps   []int      `json:"deps,omitempty"` // stages whose outputs this stage reads
	// Iterate is set for the stage that runs a Pregel iteration.
	Iterate *IterateSpec `json:"iterate,omitempty"`
}

// MessageSide is the shuffle side of a Pregel stage's message outputs: the
// map outputs its tasks write in superstep k and read in superstep k+1.
const MessageSide = -1

// IterateSpec describes a stage that runs a Pregel iteration: its tasks run
// superstep after superstep over vertex partitions that stay resident in the
// process that ran the previous superstep, and the stage ends when one
// superstep's tasks all report IterReport.Final. Executors drive it so:
//
//   - Superstep 0 (TaskSpec.Superstep 0) reads the stage's shuffle input,
//     like any stage, and loads the partition.
//   - When every task of superstep k has succeeded without Final, superstep
//     k+1 starts. Its tasks get TaskSpec.Aggregates (the IterReport.Aggregates
//     of every task of k, in task order) and read, through
//     ShuffleInputs.Runs(node, MessageSide, part), the message outputs
//     (TaskReport.MapOutput, Side MessageSide) of every task of k. TaskSpec.
//     Final is set when k+1 == MaxSupersteps or when, summed over the tasks
//     of k, Active and Messages are both zero.
//   - Task p of superstep k+1 must run where task p of k succeeded; a task
//     that finds no resident partition fails with ErrStateLost. The executor
//     then rolls the whole stage back to the newest superstep c whose tasks
//     all reported Checkpoint (c is a multiple of CheckpointEvery), and runs
//     superstep c+1 with TaskSpec.Restore set and the aggregates of c, in any
//     process; with no checkpoint yet, it reruns superstep 0.
//   - A Final task emits the vertices into the stage's chain and output, whose
//     MapOutput or SinkFile is then committed as for any other stage.
//
// Checkpoints are files under CheckpointDir, which every process of the job
// must be able to read; executors remove it when the job ends
// (RemoveCheckpoints).
type IterateSpec struct {
	MaxSupersteps   int    `json:"max_supersteps"`
	CheckpointEvery int    `json:"checkpoint_every,omitempty"` // 0: never
	CheckpointDir   string `json:"checkpoint_dir,omitempty"`
}

// Input kinds of a stage.
const (
	InputSource  = "source"
	InputShuffle = "shuffle"
)

// InputSpec says where a stage's tasks read: splits of a source node, or the
// partitions of a wide node's shuffle.
type InputSpec struct {
	Kind   string  `json:"kind"`
	Node   int     `json:"node"`
	Splits []Split `json:"splits,omitempty"`
	Sides  int     `json:"sides,omitempty"` // shuffle input: how many parents write into it
}

// Output kinds of a stage.
const (
	OutputShuffle = "shuffle" // map side of a wide operator
	OutputSample  = "sample"  // key sample for a range partitioner
	OutputSink    = "sink"    // part files of a sink
	OutputCollect = "collect" // small results returned to the submitter
)

// OutputSpec says what a stage's tasks produce.
type OutputSpec struct {
	Kind       string `json:"kind"`
	Node       int    `json:"node"`
	Side       int    `json:"side,omitempty"`
	Partitions int    `json:"partitions,omitempty"`
	Shuffle    string `json:"shuffle,omitempty"` // hash, range or round-robin
	// BoundsFrom is, for a range shuffle's map stage, the sample stages whose
	// keys give the partition bounds.
	BoundsFrom []int `json:"bounds_from,omitempty"`
}

// SinkSpec describes one output directory of the job.
type SinkSpec struct {
	Node      int    `json:"node"`
	Dir       string `json:"dir"`
	Ext       string `json:"ext"`
	Overwrite bool   `json:"overwrite,omitempty"`
	Stage     int    `json:"stage"`
	// Name is the files' base name ("part" when empty); Single sinks
	// write one file, Name.Ext, instead of Name-NNNNN.Ext.
	Name   string `json:"name,omitempty"`
	Single bool   `json:"single,omitempty"`
}

// FileName is the name of partition part's file of the sink.
func (sk SinkSpec) FileName(part int) string {
	name := sk.Name
	if name == "" {
		name = "part"
	}
	if sk.Single {
		return name + "." + sk.Ext
	}
	return fmt.Sprintf("%s-%05d.%s", name, part, sk.Ext)
}

// Split is one task's share of a source: byte ranges of files, taken in
// order, or (Files empty) the elements [Start, End) of an in-memory slice.
type Split struct {
	Files []FileRange `json:"files,omitempty"`
	Start int64       `json:"start,omitempty"`
	End   int64       `json:"end,omitempty"`
}

// FileRange is the bytes [Start, End) of one file.
type FileRange struct {
	Path  string `json:"path"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
}

// Encode serializes the spec (JSON, versioned).
func (s *Spec) Encode() ([]byte, error) {
	return json.Marshal(s)
}

// ErrBadSpec is matched by every error DecodeSpec returns.
var ErrBadSpec = errors.New("bsp: malformed plan spec")

// DecodeSpec parses and validates an encoded Spec. It never panics; anything
// malformed or inconsistent is an error matching ErrBadSpec.
func DecodeSpec(b []byte) (*Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadSpec)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	return &s, nil
}

const maxSpecTasks = 1 << 20

func (s *Spec) validate() error {
	if s.Version != SpecVersion {
		return fmt.Errorf("version %d, this binary reads version %d", s.Version, SpecVersion)
	}
	if s.Partitions < 1 {
		return fmt.Errorf("partitions %d", s.Partitions)
	}
	for i, st := range s.Stages {
		if st.ID != i {
			return fmt.Errorf("stage %d has id %d", i, st.ID)
		}
		if st.Tasks < 0 || st.Tasks > maxSpecTasks {
			return fmt.Errorf("stage %d: %d tasks", i, st.Tasks)
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
			if st.Input.Sides < 1 {
				return fmt.Errorf("stage %d: shuffle input with %d sides", i, st.Input.Sides)
			}
		default:
			return fmt.Errorf("stage %d: unknown input kind %q", i, st.Input.Kind)
		}
		switch st.Output.Kind {
		case OutputShuffle, OutputSample:
			if st.Output.Partitions < 1 || st.Output.Partitions > maxSpecTasks {
				return fmt.Errorf("stage %d: %d output partitions", i, st.Output.Partitions)
			}
		case OutputSink, OutputCollect:
		default:
			return fmt.Errorf("stage %d: unknown output kind %q", i, st.Output.Kind)
		}
		for _, d := range append(append([]int(nil), st.Deps...), st.Output.BoundsFrom...) {
			if d < 0 || d >= i {
				return fmt.Errorf("stage %d depends on stage %d", i, d)
			}
		}
	}
	for _, sk := range s.Sinks {
		if sk.Stage < 0 || sk.Stage >= len(s.Stages) || sk.Dir == "" {
			return fmt.Errorf("sink of node %d: stage %d dir %q", sk.Node, sk.Stage, sk.Dir)
		}
	}
	return nil
}
