package bsp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/superstep/superstep/storage"
)

// Program is a compiled plan: its Spec (data) bound to the plan's typed
// operators (code). Executors schedule Spec.Stages and run each task with
// RunTask.
type Program struct {
	Spec *Spec
	plan *Plan
}

// CompileOptions name the job a plan came from so workers can rebuild it.
type CompileOptions struct {
	JobID string            // unique per run; names temporary outputs
	Job   string            // registered job name; empty for ad-hoc plans
	Args  map[string]string // the job's encoded arguments
	// AllowExistingOutput skips the check that sink directories do not exist
	// (for explaining a plan without running it).
	AllowExistingOutput bool
	// CheckpointDir is where Pregel stages write their checkpoints, under
	// a directory per job; empty: DefaultCheckpointDir. On a cluster it must
	// be shared by every worker.
	CheckpointDir string
	// DeferInputs leaves the inputs unlisted and the outputs unchecked: the
	// spec is InputsDeferred, for a cluster whose workers, not the
	// submitter, see the data (see ResolveInputs).
	DeferInputs bool
}

// DefaultCheckpointDir is where checkpoints go when CompileOptions names no
// directory: a directory under the system's temporary directory, which is
// enough for one machine.
func DefaultCheckpointDir() string { return filepath.Join(os.TempDir(), "superstep-checkpoints") }

// RemoveCheckpoints deletes the checkpoints of the spec's Pregel stages.
// Executors call it when the job ends, whatever the outcome.
func RemoveCheckpoints(spec *Spec) error {
	var first error
	for _, st := range spec.Stages {
		if it := st.Iterate; it != nil && it.CheckpointDir != "" {
			if storage.Scheme(it.CheckpointDir) != "" {
				fsys, err := storage.For(it.CheckpointDir)
				if err == nil {
					err = fsys.RemoveAll(context.Background(), it.CheckpointDir)
				}
				if err != nil && first == nil {
					first = err
				}
				continue
			}
			if err := os.RemoveAll(it.CheckpointDir); err != nil && first == nil {
				first = err
			}
			_ = os.Remove(filepath.Dir(it.CheckpointDir)) // the job's directory, once empty
		}
	}
	return first
}

// Compile cuts the plan into supersteps at its wide operators, fuses the
// narrow operators between them, and computes the source splits. It does the
// I/O that splitting needs (stat, glob) and checks that sink directories do
// not exist unless Overwrite was given.
func Compile(ctx context.Context, p *Plan, o CompileOptions) (*Program, error) {
	if o.JobID == "" {
		return nil, fmt.Errorf("%w: empty job id", ErrPlan)
	}
	spec, err := p.stages(ctx, !o.DeferInputs)
	if err != nil {
		return nil, err
	}
	spec.JobID, spec.Job, spec.Args = o.JobID, o.Job, o.Args
	spec.InputsDeferred = o.DeferInputs
	ckpt := o.CheckpointDir
	if ckpt == "" {
		ckpt = DefaultCheckpointDir()
	}
	if storage.Scheme(ckpt) == "" {
		if ckpt, err = filepath.Abs(ckpt); err != nil {
			return nil, err
		}
	}
	for i := range spec.Stages {
		if it := spec.Stages[i].Iterate; it != nil {
			it.CheckpointDir = storage.Join(ckpt, o.JobID, fmt.Sprintf("stage-%d", i))
		}
	}
	for _, sk := range spec.Sinks {
		if o.AllowExistingOutput || o.DeferInputs {
			break
		}
		if err := checkSinkDir(ctx, sk); err != nil {
			return nil, err
		}
	}
	return &Program{Spec: spec, plan: p}, nil
}

// Bind attaches a Spec received from elsewhere to a plan rebuilt from the same
// job and arguments. It fails, matching ErrPlanMismatch, unless the rebuilt
// plan has exactly the stages the spec describes; the spec's splits are used
// as they are.
func Bind(p *Plan, spec *Spec) (*Program, error) {
	if spec.InputsDeferred {
		return nil, fmt.Errorf("%w: the spec's inputs were never resolved", ErrPlanMismatch)
	}
	local, err := p.stages(context.Background(), false)
	if err != nil {
		return nil, err
	}
	if err := sameStages(local, spec); err != nil {
		return nil, err
	}
	return &Program{Spec: spec, plan: p}, nil
}

// ResolveInputs completes a spec compiled with DeferInputs, where the
// data is: it lists and splits the inputs of the plan rebuilt from the
// same job and arguments (as Compile does), fills in the source stages'
// splits and tasks, and checks that the outputs do not exist unless
// overwritten. A spec that was not deferred is returned as it is.
func ResolveInputs(ctx context.Context, p *Plan, spec *Spec) (*Spec, error) {
	if !spec.InputsDeferred {
		return spec, nil
	}
	full, err := p.stages(ctx, true)
	if err != nil {
		return nil, err
	}
	if err := sameStages(full, spec); err != nil {
		return nil, err
	}
	b, err := spec.Encode()
	if err != nil {
		return nil, err
	}
	out, err := DecodeSpec(b) // a deep copy
	if err != nil {
		return nil, err
	}
	out.InputsDeferred = false
	for i := range out.Stages {
		if out.Stages[i].Input.Kind == InputSource {
			out.Stages[i].Input.Splits = full.Stages[i].Input.Splits
			out.Stages[i].Tasks = full.Stages[i].Tasks
		}
	}
	for _, sk := range out.Sinks {
		if err := checkSinkDir(ctx, sk); err != nil {
			return nil, err
		}
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// sameStages checks that a rebuilt plan's stages are the spec's.
func sameStages(local, spec *Spec) error {
	if len(local.Stages) != len(spec.Stages) {
		return fmt.Errorf("%w: %d stages here, %d in the spec", ErrPlanMismatch, len(local.Stages), len(spec.Stages))
	}
	for i := range local.Stages {
		a, b := local.Stages[i], spec.Stages[i]
		if !slices.Equal(a.Ops, b.Ops) || !slices.Equal(a.Chain, b.Chain) || a.Input.Node != b.Input.Node ||
			a.Input.Kind != b.Input.Kind || a.Output.Kind != b.Output.Kind || a.Output.Node != b.Output.Node ||
			a.Output.Side != b.Output.Side || a.Output.Partitions != b.Output.Partitions {
			return fmt.Errorf("%w: stage %d is %s here, %s in the spec", ErrPlanMismatch, i,
				strings.Join(a.Ops, "→"), strings.Join(b.Ops, "→"))
		}
	}
	return nil
}

// ErrPlanMismatch means a process rebuilt a different plan than the one it
// was asked to run (a different binary or non-deterministic plan building).
var ErrPlanMismatch = errors.New("bsp: rebuilt plan differs from the submitted one")

// stages builds the stage list. With io it also computes source splits.
func (p *Plan) stages(ctx context.Context, io bool) (*Spec, error) {
	if p.err != nil {
		return nil, p.err
	}
	if len(p.outputs) == 0 {
		return nil, fmt.Errorf("%w: the plan has no sink or Collect", ErrPlan)
	}
	c := &compiler{ctx: ctx, p: p, io: io, spec: &Spec{Version: SpecVersion, Partitions: p.partitions},
		writers: map[int][]int{}, splits: map[int][]Split{}}
	for _, out := range p.outputs {
		id, err := c.stage(out, 0)
		if err != nil {
			return nil, err
		}
		if out.sink != nil && !out.sink.collect {
			sk := SinkSpec{Node: out.id, Dir: out.sink.dir, Ext: out.sink.ext,
				Overwrite: out.sink.overwrite, Stage: id, Name: out.sink.name, Single: out.sink.single}
			if sk.Single && c.io && c.spec.Stages[id].Tasks != 1 {
				return nil, fmt.Errorf("%w: %s writes one file but its superstep has %d tasks (use Partitions(1) upstream)",
					ErrPlan, sk.FileName(0), c.spec.Stages[id].Tasks)
			}
			for _, o := range c.spec.Sinks {
				if filepath.Clean(o.Dir) == filepath.Clean(sk.Dir) && (o.Name == sk.Name && o.Ext == sk.Ext || o.Overwrite != sk.Overwrite) {
					return nil, fmt.Errorf("%w: two sinks write %s files into %s (or disagree on overwriting it)", ErrPlan, sk.FileName(0), sk.Dir)
				}
			}
			c.spec.Sinks = append(c.spec.Sinks, sk)
		}
	}
	return c.spec, nil
}

type compiler struct {
	ctx     context.Context
	p       *Plan
	io      bool
	spec    *Spec
	writers map[int][]int // wide node id -> stages writing its shuffle
	splits  map[int][]Split
}

// stage appends the stage that ends at term (reading its parent `side`) after
// the stages it depends on, and returns its id.
func (c *compiler) stage(term *node, side int) (int, error) {
	var chain []*node
	n := term.parents[side]
	for n.kind == kindNarrow {
		chain = append(chain, n)
		n = n.parents[0]
	}
	slices.Reverse(chain)
	st := StageSpec{}
	switch n.kind {
	case kindSource:
		st.Input = InputSpec{Kind: InputSource, Node: n.id}
		if c.io {
			sp, ok := c.splits[n.id]
			if !ok {
				var err error
				if sp, err = n.src.splits(c.ctx, c.p.partitions); err != nil {
					return 0, err
				}
				c.splits[n.id] = sp
			}
			st.Input.Splits = sp
			st.Tasks = len(sp)
		}
	case kindWide:
		deps, err := c.wideWriters(n)
		if err != nil {
			return 0, err
		}
		st.Input = InputSpec{Kind: InputShuffle, Node: n.id, Sides: len(n.parents)}
		st.Deps = deps
		st.Tasks = n.wide.partitions
		if it := n.wide.iterate; it != nil {
			cp := *it
			st.Iterate = &cp
		}
	default:
		return 0, fmt.Errorf("%w: node %d (%s) cannot start a stage", ErrPlan, n.id, n.op)
	}
	st.Ops = append(st.Ops, n.op)
	for _, m := range chain {
		st.Chain = append(st.Chain, m.id)
		st.Ops = append(st.Ops, m.op)
	}
	switch term.kind {
	case kindSink:
		st.Output = OutputSpec{Kind: OutputSink, Node: term.id}
		if term.sink.collect {
			st.Output.Kind = OutputCollect
		}
	case kindWide:
		st.Output = OutputSpec{Kind: OutputShuffle, Node: term.id, Side: side,
			Partitions: term.wide.partitions, Shuffle: term.wide.shuffle.String()}
	}
	st.Ops = append(st.Ops, term.op)
	return c.add(st), nil
}

func (c *compiler) add(st StageSpec) int {
	st.ID = len(c.spec.Stages)
	c.spec.Stages = append(c.spec.Stages, st)
	return st.ID
}

// wideWriters makes sure the stages that write wide node n's shuffle exist and
// returns their ids. A range shuffle first gets one sample stage per side.
func (c *compiler) wideWriters(n *node) ([]int, error) {
	if ids, ok := c.writers[n.id]; ok {
		return ids, nil
	}
	var samples []int
	if n.wide.shuffle == shuffleRangeSorted {
		for side := range n.parents {
			id, err := c.stage(n, side)
			if err != nil {
				return nil, err
			}
			st := &c.spec.Stages[id]
			st.Output.Kind = OutputSample
			st.Ops[len(st.Ops)-1] = n.op + "(sample)"
			samples = append(samples, id)
		}
	}
	var ids []int
	for side := range n.parents {
		id, err := c.stage(n, side)
		if err != nil {
			return nil, err
		}
		c.spec.Stages[id].Output.BoundsFrom = samples
		ids = append(ids, id)
	}
	c.writers[n.id] = ids
	return ids, nil
}
