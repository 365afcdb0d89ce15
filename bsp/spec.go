package bsp

import "github.com/superstep/superstep/internal/planspec"

// The plan spec — a compiled plan as data, what the submitter sends to a
// coordinator and what a worker checks its rebuilt plan against — has one
// schema and one validator, in package planspec, which the coordinator
// reads too (it has no user code). These are its names in the user API.

// SpecVersion is the version of the encoded Spec format. DecodeSpec rejects
// any other version.
const SpecVersion = planspec.Version

type (
	// Spec is a compiled plan as data (planspec.Spec).
	Spec = planspec.Spec
	// StageSpec is one superstep (planspec.StageSpec).
	StageSpec = planspec.StageSpec
	// IterateSpec describes a stage that runs a Pregel iteration; its
	// comment is the iteration protocol (planspec.IterateSpec).
	IterateSpec = planspec.IterateSpec
	// InputSpec says where a stage's tasks read (planspec.InputSpec).
	InputSpec = planspec.InputSpec
	// OutputSpec says what a stage's tasks produce (planspec.OutputSpec).
	OutputSpec = planspec.OutputSpec
	// SinkSpec describes one output directory of the job (planspec.SinkSpec).
	SinkSpec = planspec.SinkSpec
	// Split is one task's share of a source (planspec.Split).
	Split = planspec.Split
	// FileRange is the bytes [Start, End) of one file (planspec.FileRange).
	FileRange = planspec.FileRange
)

// MessageSide is the shuffle side of a Pregel stage's message outputs: the
// map outputs its tasks write in superstep k and read in superstep k+1
// (ShuffleInputs.Runs(node, MessageSide, part)).
const MessageSide = planspec.MessageSide

// Input kinds of a stage.
const (
	InputSource  = planspec.InputSource
	InputShuffle = planspec.InputShuffle
)

// Output kinds of a stage.
const (
	OutputShuffle = planspec.OutputShuffle // map side of a wide operator
	OutputSample  = planspec.OutputSample  // key sample for a range partitioner
	OutputSink    = planspec.OutputSink    // part files of a sink
	OutputCollect = planspec.OutputCollect // small results returned to the submitter
)

// ErrBadSpec is matched by every error DecodeSpec returns (it is
// planspec.ErrBadSpec, which the coordinator's errors match too).
var ErrBadSpec = planspec.ErrBadSpec

// DecodeSpec parses and validates an encoded Spec (planspec.Decode). It
// never panics; anything malformed or inconsistent is an error matching
// ErrBadSpec.
func DecodeSpec(b []byte) (*Spec, error) { return planspec.Decode(b) }
