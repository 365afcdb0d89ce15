package planspec

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Version is the version of the encoded Spec format. Decode rejects any
// other version.
const Version = 1

// Spec is a compiled plan as data. It names the registered job and its
// arguments, and lists the supersteps (stages) with their inputs, operators
// and outputs. Source splits are computed once, by the submitter, and travel
// in the Spec so that every process reads the same byte ranges.
type Spec struct {
	Version    int               `json:"version"`
	JobID      string            `json:"job_id"`
	Job        string            `json:"job,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	Partitions int               `json:"partitions"`
	Stages     []StageSpec       `json:"stages"`
	Sinks      []SinkSpec        `json:"sinks,omitempty"`
	// InputsDeferred: the submitter did not list the inputs; the source
	// stages have no splits (and no tasks) until a worker resolves them
	// (bsp.ResolveInputs), before the job is created.
	InputsDeferred bool `json:"inputs_deferred,omitempty"`
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
	// keys give the partition bounds (see RangeBounds).
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

// FileRange is the bytes [Start, End) of one file; or, with Skipped set
// (bsp.AllFiles), an entry of an input directory that is not a file to
// read, and why (one of bsp's Skip constants).
type FileRange struct {
	Path    string `json:"path"`
	Start   int64  `json:"start"`
	End     int64  `json:"end"`
	Skipped string `json:"skipped,omitempty"`
}

// Encode serializes the spec (JSON, versioned).
func (s *Spec) Encode() ([]byte, error) {
	return json.Marshal(s)
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
