package bsp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/pflag"
)

// BuildFunc constructs a job's plan from its arguments. It must be
// deterministic: the same args must give the same plan in every process.
type BuildFunc func(p *Plan, args Args) error

// Job is a registered job: a name, its flags and its plan builder.
type Job struct {
	Name   string
	Short  string // one-line description for help text
	build  BuildFunc
	flags  func(fs *pflag.FlagSet)
	driver DriverFunc
}

// DriverFunc is an optional local action of a job (such as validating an
// output) that runs in the submitting process instead of building a plan.
// It reports ran=false when its flags do not ask for it.
type DriverFunc func(ctx context.Context, args Args, w io.Writer) (ran bool, err error)

// WithDriver gives the job a local action (see DriverFunc).
func WithDriver(f DriverFunc) JobOption { return func(j *Job) { j.driver = f } }

// RunDriver runs the job's local action if its parsed flags ask for one.
func (j *Job) RunDriver(ctx context.Context, fs *pflag.FlagSet, w io.Writer) (bool, error) {
	if j.driver == nil {
		return false, nil
	}
	return j.driver(ctx, Args{fs: fs}, w)
}

// JobOption configures a registered job.
type JobOption func(*Job)

// WithFlags declares the job's flags (with defaults and help text).
func WithFlags(f func(fs *pflag.FlagSet)) JobOption { return func(j *Job) { j.flags = f } }

// WithDescription sets the job's one-line description.
func WithDescription(s string) JobOption { return func(j *Job) { j.Short = s } }

var (
	registryMu sync.Mutex // guards registry
	registry   = map[string]*Job{}
)

// Register adds a job to this binary's registry. Call it from a package-level
// variable initializer or init; registering a name twice panics.
func Register(name string, build BuildFunc, opts ...JobOption) *Job {
	j := &Job{Name: name, build: build}
	for _, o := range opts {
		o(j)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("bsp: job %q registered twice", name))
	}
	registry[name] = j
	return j
}

// ErrUnknownJob is returned by Lookup-based helpers for a name this binary
// does not have.
var ErrUnknownJob = errors.New("unknown job")

// Lookup returns the registered job with the given name.
func Lookup(name string) (*Job, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	j, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w %q (this binary has: %s)", ErrUnknownJob, name, strings.Join(names, ", "))
	}
	return j, nil
}

// Jobs lists the registered jobs by name.
func Jobs() []*Job {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]*Job, 0, len(registry))
	for _, j := range registry {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b *Job) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FlagSet returns a new flag set holding the job's flags at their defaults.
func (j *Job) FlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet(j.Name, pflag.ContinueOnError)
	if j.flags != nil {
		j.flags(fs)
	}
	return fs
}

// EncodeArgs captures the values of every flag of fs (defaults included) as
// strings that DecodeArgs turns back into the same values.
func EncodeArgs(fs *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			b, _ := json.Marshal(sv.GetSlice())
			out[f.Name] = string(b)
			return
		}
		out[f.Name] = f.Value.String()
	})
	return out
}

// Args gives a job's build function its flag values.
type Args struct{ fs *pflag.FlagSet }

// Flags returns the parsed flag set.
func (a Args) Flags() *pflag.FlagSet { return a.fs }

// String returns a string flag ("" if the job declares no such flag).
func (a Args) String(name string) string { v, _ := a.fs.GetString(name); return v }

// Strings returns a string-slice flag.
func (a Args) Strings(name string) []string { v, _ := a.fs.GetStringSlice(name); return v }

// Int returns an int flag.
func (a Args) Int(name string) int { v, _ := a.fs.GetInt(name); return v }

// Int64 returns an int64 flag.
func (a Args) Int64(name string) int64 { v, _ := a.fs.GetInt64(name); return v }

// Float64 returns a float64 flag.
func (a Args) Float64(name string) float64 { v, _ := a.fs.GetFloat64(name); return v }

// Bool returns a bool flag.
func (a Args) Bool(name string) bool { v, _ := a.fs.GetBool(name); return v }

// Build rebuilds the job's plan from encoded args (see EncodeArgs) with the
// given default partition count.
func (j *Job) Build(args map[string]string, partitions int) (*Plan, error) {
	fs := j.FlagSet()
	names := make([]string, 0, len(args))
	for n := range args {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		f := fs.Lookup(name)
		if f == nil {
			return nil, fmt.Errorf("%w: job %s has no flag --%s", ErrPlan, j.Name, name)
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			var vals []string
			if err := json.Unmarshal([]byte(args[name]), &vals); err != nil {
				return nil, fmt.Errorf("%w: job %s flag --%s: %w", ErrPlan, j.Name, name, err)
			}
			if err := sv.Replace(vals); err != nil {
				return nil, fmt.Errorf("%w: job %s flag --%s: %w", ErrPlan, j.Name, name, err)
			}
			continue
		}
		if err := fs.Set(name, args[name]); err != nil {
			return nil, fmt.Errorf("%w: job %s flag --%s: %w", ErrPlan, j.Name, name, err)
		}
	}
	p := NewPlan(partitions)
	if err := j.build(p, Args{fs: fs}); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, p.err
	}
	return p, nil
}

var (
	fingerprintOnce sync.Once
	fingerprint     string
)

// Fingerprint identifies this binary's job registry: a hash of the registered
// job names and of the executable itself. Two processes may run each other's
// tasks only if their fingerprints are equal.
func Fingerprint() string {
	fingerprintOnce.Do(func() {
		h := sha256.New()
		for _, j := range Jobs() {
			fmt.Fprintf(h, "job %s\n", j.Name)
		}
		if exe, err := os.Executable(); err == nil {
			if f, err := os.Open(exe); err == nil {
				_, _ = io.Copy(h, f)
				f.Close()
			}
		}
		fingerprint = hex.EncodeToString(h.Sum(nil))[:16]
	})
	return fingerprint
}
