package bsp

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/superstep/superstep/internal/codec"
)

// ErrPlan is matched (errors.Is) by every error found while building or
// compiling a plan: an unsupported type, a missing input, a bad option.
var ErrPlan = errors.New("bsp: invalid plan")

// Plan is the operator graph of one job. Build it with the typed operators;
// compile it with Compile. A Plan is not safe for concurrent construction.
type Plan struct {
	nodes      []*node
	outputs    []*node
	partitions int
	err        error
}

// NewPlan returns an empty plan whose wide operators default to the given
// number of partitions (at least 1).
func NewPlan(partitions int) *Plan {
	if partitions < 1 {
		partitions = 1
	}
	return &Plan{partitions: partitions}
}

// DefaultPartitions is the number of partitions a wide operator produces when
// it is not given Partitions(n).
func (p *Plan) DefaultPartitions() int { return p.partitions }

// Err returns the first error recorded while building the plan.
func (p *Plan) Err() error { return p.err }

// fail records the first plan-building error; later operators keep building
// so that the user sees the first mistake, not a cascade.
func (p *Plan) fail(err error) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %w", ErrPlan, err)
	}
}

func (p *Plan) add(n *node) *node {
	n.id = len(p.nodes)
	p.nodes = append(p.nodes, n)
	return n
}

// Dataset is a distributed collection of T: P partitions, each a stream of
// Arrow record batches between supersteps and of Go values inside one.
type Dataset[T any] struct {
	plan *Plan
	n    *node
}

// Plan returns the plan the dataset belongs to.
func (d Dataset[T]) Plan() *Plan { return d.plan }

func newDataset[T any](p *Plan, n *node) Dataset[T] {
	n.typ = reflect.TypeFor[T]().String()
	return Dataset[T]{plan: p, n: p.add(n)}
}

type nodeKind uint8

const (
	kindSource nodeKind = iota + 1
	kindNarrow
	kindWide
	kindSink
)

// node is one operator of the plan. The typed closures are built by the
// generic operator functions; the executor connects them once per task
// (type assertions happen then, never per record).
type node struct {
	id      int
	kind    nodeKind
	op      string // operator name, e.g. "FlatMap"
	detail  string // human-readable parameters for explain
	typ     string // Go type of the node's records
	parents []*node

	// narrow: wrap takes the downstream func(U) and returns the upstream
	// func(T); flush, if not nil, emits whatever the operator buffered.
	wrap func(tc *taskCtx, down any) (up any, flush func())

	src  *sourceOp
	wide *wideOp
	sink *sinkOp
}

// sourceOp reads one split and feeds its records to down (a func(T)).
type sourceOp struct {
	splits func(ctx context.Context, partitions int) ([]Split, error)
	read   func(tc *taskCtx, s Split, down any) error
}

// shuffleKind says how a wide operator's shuffle orders data.
type shuffleKind uint8

const (
	shuffleHashSorted  shuffleKind = iota + 1 // hash partitioned, each run sorted by key
	shuffleRangeSorted                        // range partitioned from a sample, sorted
	shuffleUnsorted                           // round-robin blocks, input order kept
)

func (k shuffleKind) String() string {
	switch k {
	case shuffleHashSorted:
		return "hash"
	case shuffleRangeSorted:
		return "range"
	case shuffleUnsorted:
		return "round-robin"
	}
	return "?"
}

// wideOp is the two halves of a wide operator: the map side writes the records
// of parent `side` into the shuffle; the reduce side reads one partition and
// emits the operator's output records to down.
type wideOp struct {
	shuffle    shuffleKind
	partitions int
	key        string // key type, for explain
	combine    bool   // map-side combining
	write      func(tc *taskCtx, side int, out shuffleOut) (down any, finish func() error)
	read       func(tc *taskCtx, part int, down any) error
	sample     func(tc *taskCtx) (down any, finish func() [][]byte) // range shuffles only
	// iterate and iter are set for Pregel: the stage reading this node runs
	// one superstep per task; iter calls open (the stage's chain and output)
	// only when the task emits the final vertices.
	iterate *IterateSpec
	iter    func(tc *taskCtx, part int, open func() (any, error)) error
}

// sinkOp writes the records of one partition to an attempt-scoped file.
type sinkOp struct {
	dir       string
	ext       string
	name      string // file base name; "" is "part"
	single    bool   // one file, name.ext (the stage must have one task)
	overwrite bool
	collect   bool
	open      func(tc *taskCtx, w *partWriter) (down any, finish func() error)
}

// Option configures a wide operator or a sink.
type Option func(*options)

type options struct {
	partitions int
	overwrite  bool
	header     bool
	single     bool
}

// Partitions sets the number of output partitions of a wide operator.
func Partitions(n int) Option { return func(o *options) { o.partitions = n } }

// Overwrite lets a sink replace an existing output directory (atomically, at
// job commit). Without it a sink whose directory exists fails the plan.
func Overwrite() Option { return func(o *options) { o.overwrite = true } }

// Header makes WriteTSV start every part file with a header line.
func Header() Option { return func(o *options) { o.header = true } }

// SingleFile makes WriteBinary write one file named after the sink, not one
// per partition.
func SingleFile() Option { return func(o *options) { o.single = true } }

func (p *Plan) options(opts []Option) options {
	o := options{partitions: p.partitions}
	for _, f := range opts {
		f(&o)
	}
	if o.partitions < 1 {
		p.fail(fmt.Errorf("partitions must be at least 1, got %d", o.partitions))
		o.partitions = 1
	}
	return o
}

// samePlan records an error when datasets of different plans are combined.
func samePlan(p *Plan, others ...*Plan) {
	for _, o := range others {
		if o != p {
			p.fail(errors.New("datasets of different plans cannot be combined"))
		}
	}
}

// checkCodec records a plan error if T cannot be encoded to Arrow.
func checkCodec[T any](p *Plan, what string) {
	if _, err := codec.For[T](); err != nil {
		p.fail(fmt.Errorf("%s: %w", what, err))
	}
}
