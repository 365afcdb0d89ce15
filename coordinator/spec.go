package coordinator

import "github.com/superstep/superstep/internal/planspec"

// The coordinator reads the compiled plan through package planspec, the one
// schema and validator that package bsp uses too, so that it depends
// neither on the user API nor on user code. These are its names here.

// SpecVersion is the plan spec format version this package reads.
const SpecVersion = planspec.Version

type (
	// Spec is a compiled plan (planspec.Spec).
	Spec = planspec.Spec
	// StageSpec is one superstep (planspec.StageSpec).
	StageSpec = planspec.StageSpec
	// IterateSpec describes a Pregel stage (planspec.IterateSpec).
	IterateSpec = planspec.IterateSpec
	// InputSpec says where a stage's tasks read (planspec.InputSpec).
	InputSpec = planspec.InputSpec
	// OutputSpec says what a stage's tasks produce (planspec.OutputSpec).
	OutputSpec = planspec.OutputSpec
	// SinkSpec describes one output directory (planspec.SinkSpec).
	SinkSpec = planspec.SinkSpec
	// Split is one source task's share of its input (planspec.Split).
	Split = planspec.Split
)

// Input and output kinds of a stage.
const (
	InputSource   = planspec.InputSource
	InputShuffle  = planspec.InputShuffle
	OutputShuffle = planspec.OutputShuffle
	OutputSample  = planspec.OutputSample
	OutputSink    = planspec.OutputSink
	OutputCollect = planspec.OutputCollect
)

// MessageSide is the shuffle side of a Pregel stage's message outputs.
const MessageSide = planspec.MessageSide

// DecodeSpec parses and checks an encoded plan (planspec.Decode). It never
// panics; every error matches ErrBadSpec.
func DecodeSpec(b []byte) (*Spec, error) { return planspec.Decode(b) }

// SourceInput is the input of a stage of n tasks that reads source node
// node, one (empty) in-memory split per task: for tests and tools that
// build a plan without package bsp.
func SourceInput(node, n int) InputSpec {
	return InputSpec{Kind: InputSource, Node: node, Splits: make([]Split, n)}
}
