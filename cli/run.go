package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/shuffle"
	"github.com/superstep/superstep/storage"
	"github.com/superstep/superstep/worker"
)

// runFlags are the flags `run` and `explain` take besides the job's own.
type runFlags struct {
	workers     int
	coord       coordFlags // submit
	detach      bool
	slots       int
	partitions  int
	memory      string
	compression string
	workDir     string
	progress    string
	checkpoints string
	http        string
	s3Endpoint  string
	log         logFlags
}

// env returns the SUPERSTEP_* environment variable for a flag, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("SUPERSTEP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(env(name, "")); err == nil {
		return v
	}
	return def
}

// memoryBudget parses a --memory value; empty means a quarter of the
// machine's RAM (4 GiB when that is unknown).
func memoryBudget(v string) (int64, error) {
	if v == "" {
		if m := physicalMemory(); m > 0 {
			return m / 4, nil
		}
		return 4 << 30, nil
	}
	n, err := parseBytes(v)
	if err != nil {
		return 0, usagef("--memory: %v", err)
	}
	if n < 1 {
		return 0, usagef("--memory: %q is not a positive size", v)
	}
	return n, nil
}

func (r *runFlags) register(fs *pflag.FlagSet) {
	cpus := runtime.NumCPU()
	fs.IntVar(&r.workers, "workers", envInt("workers", 2), "run: workers of the embedded cluster; 0 runs tasks in-process without gRPC [SUPERSTEP_WORKERS]")
	r.coord.register(fs, "submit: ")
	r.coord.tls.register(fs, false)
	fs.BoolVar(&r.detach, "detach", false, "submit: print the job id and return without waiting")
	fs.IntVar(&r.slots, "slots", envInt("slots", cpus), "tasks run at once, over all workers [SUPERSTEP_SLOTS]")
	fs.IntVar(&r.partitions, "partitions", envInt("partitions", 0), "partitions of wide operators (default 2 x slots) [SUPERSTEP_PARTITIONS]")
	fs.StringVar(&r.memory, "memory", env("memory", ""), "run: memory budget for buffering shuffle data, e.g. 512MB (default a quarter of RAM) [SUPERSTEP_MEMORY]")
	fs.StringVar(&r.compression, "compression", env("compression", "zstd"), "run: shuffle block compression: zstd, lz4 or none [SUPERSTEP_COMPRESSION]")
	fs.StringVar(&r.workDir, "work-dir", env("work-dir", ""), "run: directory for shuffle and spill files (default a temporary directory) [SUPERSTEP_WORK_DIR]")
	fs.StringVar(&r.checkpoints, "checkpoint-dir", env("checkpoint-dir", ""), "where iterative (Pregel) jobs write checkpoints; on a cluster, a directory every worker shares or an s3://bucket/prefix (default a directory under the system's temporary directory) [SUPERSTEP_CHECKPOINT_DIR]")
	fs.StringVar(&r.progress, "progress", env("progress", "auto"), "progress display: auto, bar, plain or none [SUPERSTEP_PROGRESS]")
	fs.StringVar(&r.http, "http", env("http", ""), "run: serve the dashboard and Prometheus /metrics of the embedded cluster on this address, e.g. 127.0.0.1:8080 [SUPERSTEP_HTTP]")
	s3EndpointFlag(fs, &r.s3Endpoint)
	r.log.register(fs, "warn")
}

// s3EndpointFlag adds --s3-endpoint URL, for the commands that read or
// write s3:// names.
func s3EndpointFlag(fs *pflag.FlagSet, endpoint *string) {
	fs.StringVar(endpoint, "s3-endpoint", env("s3-endpoint", ""),
		"URL of an S3-compatible store for s3:// inputs, outputs and checkpoints, e.g. http://minio:9000 (path-style requests; "+
			"empty: AWS; credentials and region from the AWS environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE) [SUPERSTEP_S3_ENDPOINT]")
}

// configureS3 makes s3:// names use endpoint (when set).
func configureS3(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	if err := storage.ConfigureS3(storage.S3Config{Endpoint: endpoint}); err != nil {
		return usagef("--s3-endpoint: %v", err)
	}
	return nil
}

func (r *runFlags) parts() int {
	if r.partitions > 0 {
		return r.partitions
	}
	return 2 * max(r.slots, 1)
}

// jobCommandLine parses `JOB [flags]` into the job and its flag set (which
// also holds the run flags).
func jobCommandLine(cmd *cobra.Command, args []string, rf *runFlags) (*bsp.Job, *pflag.FlagSet, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil, nil, cmd.Help()
		}
		return nil, nil, usagef("which job? %s", jobList())
	}
	job, err := bsp.Lookup(args[0])
	if err != nil {
		return nil, nil, usageError{err}
	}
	jfs := job.FlagSet()
	all := pflag.NewFlagSet(job.Name, pflag.ContinueOnError)
	all.SetOutput(io.Discard)
	all.AddFlagSet(jfs)
	rf.register(all)
	help := all.BoolP("help", "h", false, "help for this job")
	if err := all.Parse(args[1:]); err != nil {
		return nil, nil, usagef("%s: %v (see `superstep %s %s --help`)", job.Name, err, cmd.Name(), job.Name)
	}
	if *help {
		fmt.Fprintf(cmd.OutOrStdout(), "superstep %s %s: %s\n\nJob flags:\n%s\n%s flags:\n", cmd.Name(), job.Name, job.Short,
			jfs.FlagUsages(), cmd.Name())
		rfs := pflag.NewFlagSet("", pflag.ContinueOnError)
		(&runFlags{}).register(rfs)
		fmt.Fprint(cmd.OutOrStdout(), rfs.FlagUsages())
		return nil, nil, nil
	}
	if all.NArg() > 0 {
		return nil, nil, usagef("%s: unexpected argument %q", job.Name, all.Arg(0))
	}
	if err := rf.validate(cmd.Name(), all); err != nil {
		return nil, nil, err
	}
	if err := configureS3(rf.s3Endpoint); err != nil {
		return nil, nil, err
	}
	return job, jfs, nil
}

func jobList() string {
	var b strings.Builder
	b.WriteString("registered jobs:")
	for _, j := range bsp.Jobs() {
		fmt.Fprintf(&b, "\n  %-12s %s", j.Name, j.Short)
	}
	return b.String()
}

func newJobID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// compileJob builds and compiles a job from its parsed flags.
func compileJob(ctx context.Context, job *bsp.Job, jfs *pflag.FlagSet, rf *runFlags, o bsp.CompileOptions) (*bsp.Program, error) {
	args := bsp.EncodeArgs(jfs)
	plan, err := job.Build(args, rf.parts())
	if err != nil {
		return nil, err
	}
	o.JobID, o.Job, o.Args = newJobID(), job.Name, args
	o.CheckpointDir = rf.checkpoints
	return bsp.Compile(ctx, plan, o)
}

func newRunCmd() *cobra.Command {
	rf := &runFlags{}
	return &cobra.Command{
		Use:   "run JOB [flags]",
		Short: "run a job on an embedded cluster in this process",
		Long: "Run a registered job to completion on a coordinator and --workers workers started inside this process\n" +
			"(real gRPC on loopback, the same code as a cluster); --workers 0 runs the tasks on a goroutine pool.\n\n" +
			"`superstep run JOB --help` lists the job's flags.\n\n" + jobList(),
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			job, jfs, err := jobCommandLine(cmd, args, rf)
			if job == nil {
				return err
			}
			ctx := cmd.Context()
			if ran, err := job.RunDriver(ctx, jfs, cmd.OutOrStdout()); ran {
				return err
			}
			mem, err := memoryBudget(rf.memory)
			if err != nil {
				return err
			}
			comp, err := shuffle.ParseCompression(rf.compression)
			if err != nil {
				return usagef("--compression: %v", err)
			}
			prog, err := compileJob(ctx, job, jfs, rf, bsp.CompileOptions{})
			if err != nil {
				return err
			}
			pr := newProgress(cmd.ErrOrStderr(), rf.progress, stagesOfProgram(prog))
			var ex bsp.Executor
			if rf.workers == 0 {
				cfg := local.DefaultConfig()
				cfg.Slots, cfg.Memory, cfg.Compression, cfg.WorkDir = rf.slots, mem, comp, rf.workDir
				cfg.Progress = pr.event
				lx, err := local.New(cfg)
				if err != nil {
					return usageError{err}
				}
				ex = lx
			} else {
				wc := worker.DefaultConfig()
				wc.Slots = max(1, rf.slots/rf.workers)
				wc.Memory, wc.Compression = mem/int64(rf.workers), comp
				if wc.Log, err = rf.log.logger(cmd.ErrOrStderr()); err != nil {
					return err
				}
				emb, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: rf.workers, Worker: wc, WorkDir: rf.workDir,
					HTTP: rf.http})
				if err != nil {
					return err
				}
				defer emb.Close()
				if u := emb.Coordinator.HTTPURL(); u != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "dashboard and metrics on %s\n", u)
				}
				cx := emb.Executor()
				cx.OnEvent = pr.jobEvent
				ex = cx
			}
			res, err := ex.Execute(ctx, prog)
			pr.wait()
			if err != nil {
				if ctx.Err() != nil {
					return interruptedError{fmt.Errorf("interrupted: job %s (%s) cancelled", job.Name, prog.Spec.JobID)}
				}
				return jobFailed(job.Name, prog, err)
			}
			printSummary(cmd.ErrOrStderr(), prog, res)
			return nil
		},
	}
}

func newExplainCmd() *cobra.Command {
	rf := &runFlags{}
	return &cobra.Command{
		Use:                "explain JOB [flags]",
		Short:              "print a job's supersteps without running it",
		Long:               "Compile a job with the given flags and print its supersteps: inputs and splits, fused operators, shuffles with their partition counts and keys, and outputs.\n\n" + jobList(),
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			job, jfs, err := jobCommandLine(cmd, args, rf)
			if job == nil {
				return err
			}
			prog, err := compileJob(cmd.Context(), job, jfs, rf, bsp.CompileOptions{AllowExistingOutput: true})
			if err != nil {
				return err
			}
			return prog.Explain(cmd.OutOrStdout())
		},
	}
}

func printSummary(w io.Writer, prog *bsp.Program, res *bsp.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "superstep\ttasks\tvertex steps\tretries\trecords in\trecords out\tshuffle\tshuffle raw\tspills\tspilled\ttime\t")
	for _, s := range res.Stages {
		steps := "-"
		if s.Supersteps > 0 {
			steps = strconv.Itoa(s.Supersteps)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t\n", s.Stage+1, s.Tasks, steps, s.Retries, s.RecordsIn, s.RecordsOut,
			formatBytes(s.ShuffleBytes), formatBytes(s.ShuffleRaw), s.Spills, formatBytes(s.SpillBytes), s.Wall.Round(time.Millisecond))
	}
	tw.Flush()
	printed := map[string]bool{}
	for _, sk := range prog.Spec.Sinks {
		if !printed[sk.Dir] { // several sinks may share a directory
			printed[sk.Dir] = true
			fmt.Fprintf(w, "output: %s\n", sk.Dir)
		}
	}
	fmt.Fprintf(w, "done in %s\n", res.Wall.Round(time.Millisecond))
}

// validate refuses run flags that make no sense, or that do nothing for
// command cmd (run, submit or explain), naming the flag.
func (r *runFlags) validate(cmd string, fs *pflag.FlagSet) error {
	switch {
	case r.slots < 1:
		return usagef("--slots must be at least 1, got %d", r.slots)
	case fs.Changed("partitions") && r.partitions < 1:
		return usagef("--partitions must be at least 1, got %d (leave it out for 2 × --slots)", r.partitions)
	case r.partitions < 0:
		return usagef("--partitions must be at least 1, got %d", r.partitions)
	case r.workers < 0:
		return usagef("--workers must be 0 (run in this process) or more, got %d", r.workers)
	case r.http != "" && r.workers == 0:
		return usagef("--http serves the embedded cluster's dashboard; --workers 0 runs without one")
	case !slices.Contains(progressModes, r.progress):
		return usagef("--progress must be one of %s, got %q", strings.Join(progressModes, ", "), r.progress)
	}
	only := map[string]string{"workers": "run", "memory": "run", "compression": "run", "work-dir": "run",
		"coordinator": "submit", "detach": "submit", "retry-for": "submit", "http": "run", "log-format": "run", "log-level": "run"}
	for _, name := range slices.Sorted(maps.Keys(only)) {
		if fs.Changed(name) && only[name] != cmd {
			why := "it applies to `superstep run`; a cluster's workers take it when they start (`superstep worker --" + name + "`)"
			if only[name] == "submit" {
				why = "it applies to `superstep submit`"
			}
			if name == "workers" {
				why = "it sets the workers of `superstep run`'s embedded cluster; start cluster workers with `superstep worker`"
			}
			return usagef("--%s does nothing for `superstep %s`: %s", name, cmd, why)
		}
	}
	return nil
}

// jobFailed is the one-line error of a job that failed on the in-process
// executor, then its cause (supersteps counted from 1).
func jobFailed(name string, prog *bsp.Program, err error) error {
	var je *cluster.JobError
	if errors.As(err, &je) {
		return err
	}
	var te *bsp.TaskError
	if !errors.As(err, &te) {
		return fmt.Errorf("job %s (%s) failed\ncause: %w", name, prog.Spec.JobID, err)
	}
	st := te.Task.Stage
	ops := ""
	if st >= 0 && st < len(prog.Spec.Stages) {
		ops = strings.Join(prog.Spec.Stages[st].Ops, "→")
	}
	cause := te.Err.Error()
	if te.Stack != "" {
		cause += "\n" + te.Stack
	}
	return &failure{msg: fmt.Sprintf("job %s (%s) failed in superstep %d/%d (%s), partition %d, attempt %d\ncause: %s", name,
		prog.Spec.JobID, st+1, len(prog.Spec.Stages), ops, te.Task.Partition, te.Task.Attempt+1, cause), err: err}
}

// failure is an error with its own message around the error it explains.
type failure struct {
	msg string
	err error
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.err }
