package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/coordinator"
	"github.com/superstep/superstep/coordinator/raftnode"
	"github.com/superstep/superstep/coordinator/redirect"
	"github.com/superstep/superstep/coordinator/server"
	"github.com/superstep/superstep/internal/display"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/shuffle"
	"github.com/superstep/superstep/worker"
)

func newCoordinatorCmd() *cobra.Command {
	var listen, dataDir, raftBind, id, peers, advertise, httpAddr, s3Endpoint string
	var raftTimeout, retainJobs time.Duration
	var lf logFlags
	var allow []string
	var tf tlsFlags
	spec := coordinator.DefaultSpeculationConfig()
	timeouts, exclusion := coordinator.DefaultTimeoutConfig(), coordinator.DefaultExclusionConfig()
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "run a coordinator (jobs, scheduling, barrier, failure detection)",
		Long: "Run a coordinator. Its state (jobs, supersteps, attempts, committed outputs, workers) is applied through raft;\n" +
			"with --data-dir it survives restarts, without it it lives in memory.\n\n" +
			"A cluster of 3 or 5 coordinators: start each with its own --id, --listen, --raft-bind and --data-dir and the\n" +
			"same --peers (ID=RAFT_ADDRESS,...). The cluster bootstraps once; a node restarted on its data dir rejoins.\n" +
			"The leader serves; the others redirect clients and workers to it. A node whose --peers differ from the\n" +
			"cluster's, or whose data dir belongs to another node or cluster, refuses to start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := configureS3(s3Endpoint); err != nil {
				return err
			}
			cfg := server.DefaultConfig()
			cfg.Listen, cfg.DataDir, cfg.RaftBind, cfg.ID, cfg.Advertise = listen, dataDir, raftBind, id, advertise
			cfg.RaftTimeout = raftTimeout
			if retainJobs < 0 {
				return usagef("--retain-jobs: %s is negative", retainJobs)
			}
			cfg.RetainJobs = retainJobs
			if peers != "" {
				ps, err := raftnode.ParsePeers(peers)
				if err != nil {
					return usagef("--peers: %v", err)
				}
				if id == "" {
					return usagef("--peers needs --id (this node's ID in the list)")
				}
				if dataDir == "" {
					return usagef("--peers needs --data-dir")
				}
				cfg.Peers = ps
			}
			cfg.AllowPaths = allow
			cfg.HTTP = httpAddr
			log, err := lf.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cfg.Log = log
			if cfg.TLS, err = tf.load(security.RoleCoordinator); err != nil {
				return err
			}
			if cfg.Tokens, err = tf.tokens(); err != nil {
				return err
			}
			cfg.Insecure = tf.insecure
			if spec.Enabled {
				if err := spec.Validate(); err != nil {
					return usagef("%v", err)
				}
			}
			cfg.Speculation = spec
			if err := timeouts.Validate(); err != nil {
				return usagef("%v", err)
			}
			if err := exclusion.Validate(); err != nil {
				return usagef("%v", err)
			}
			cfg.Timeouts, cfg.Exclusion = timeouts, exclusion
			s, err := server.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "coordinator listening on %s\n", s.Addr())
			if u := s.HTTPURL(); u != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "dashboard and metrics on %s\n", u)
			}
			select {
			case <-cmd.Context().Done():
				return s.Close()
			case err := <-s.Fatal():
				s.Close()
				return err
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", env("listen", "127.0.0.1:7070"), "gRPC address to listen on [SUPERSTEP_LISTEN]")
	f.StringVar(&httpAddr, "http", env("http", ""), "address to serve the dashboard and Prometheus /metrics on, e.g. 127.0.0.1:8080 (empty: none); "+
		"with --tls-dir it is HTTPS and needs a certificate of the cluster CA (e.g. client.pem); without, a non-loopback address needs --insecure [SUPERSTEP_HTTP]")
	lf.register(f, "info")
	f.StringVar(&dataDir, "data-dir", env("data-dir", ""), "raft log and snapshots (empty: in memory) [SUPERSTEP_DATA_DIR]")
	f.StringVar(&raftBind, "raft-bind", env("raft-bind", "127.0.0.1:0"), "raft peer address, with --data-dir [SUPERSTEP_RAFT_BIND]")
	f.StringVar(&id, "id", env("id", ""), "this coordinator's raft node ID (required with --peers; default \"coordinator\") [SUPERSTEP_ID]")
	f.StringVar(&peers, "peers", env("peers", ""), "the cluster's initial voters, ID=RAFT_ADDRESS,... (same on every node) [SUPERSTEP_PEERS]")
	f.StringVar(&advertise, "advertise", env("advertise", ""), "gRPC address the other coordinators send clients to (default the --listen address) [SUPERSTEP_ADVERTISE]")
	f.DurationVar(&raftTimeout, "raft-timeout", envDuration("raft-timeout", server.DefaultRaftTimeout),
		"raft heartbeat and election timeout with --data-dir; a failover takes one to two of it [SUPERSTEP_RAFT_TIMEOUT]")
	f.DurationVar(&retainJobs, "retain-jobs", envDuration("retain-jobs", server.DefaultRetainJobs),
		"how long an ended job stays listed (status, jobs) before it is removed from the state; 0: forever [SUPERSTEP_RETAIN_JOBS]")
	allowPathFlag(cmd, &allow)
	s3EndpointFlag(f, &s3Endpoint)
	tf.register(cmd.Flags(), true)
	speculationFlags(cmd, &spec)
	livenessFlags(cmd, &timeouts, &exclusion)
	return cmd
}

func newWorkerCmd() *cobra.Command {
	var coord coordFlags
	var listen, advertise, dataDir, memory, compression, httpAddr, s3Endpoint string
	var lf logFlags
	var slots int
	var allow []string
	var tf tlsFlags
	var fetchTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "run a worker that executes tasks and serves shuffle files",
		Long: "Run a worker. On SIGTERM or SIGINT it stops taking tasks, lets running ones finish (up to 30 s) and exits.\n" +
			"A worker the coordinator no longer knows stops itself and exits with status 1, for its supervisor to restart it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := configureS3(s3Endpoint); err != nil {
				return err
			}
			cfg := worker.DefaultConfig()
			cfg.Coordinator, cfg.Listen, cfg.Advertise, cfg.DataDir, cfg.Slots = coord.addrs, listen, advertise, dataDir, slots
			cfg.AllowPaths = allow
			cfg.LeaderTimeout = coord.retryFor
			if fetchTimeout < 0 {
				return usagef("--fetch-timeout: %s is negative", fetchTimeout)
			}
			cfg.FetchTimeout = fetchTimeout
			if _, err := redirect.ParseAddrs(coord.addrs); err != nil {
				return usagef("--coordinator: %v", err)
			}
			var err error
			if cfg.Memory, err = memoryBudget(memory); err != nil {
				return err
			}
			if cfg.Compression, err = shuffle.ParseCompression(compression); err != nil {
				return usagef("--compression: %v", err)
			}
			if cfg.Log, err = lf.logger(cmd.ErrOrStderr()); err != nil {
				return err
			}
			cfg.HTTP = httpAddr
			if cfg.TLS, err = tf.load(security.RoleWorker); err != nil {
				return err
			}
			cfg.Insecure = tf.insecure
			w, err := worker.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "worker %s serving on %s\n", w.ID(), w.Addr())
			if u := w.HTTPURL(); u != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "metrics on %smetrics\n", u)
			}
			select {
			case <-cmd.Context().Done():
			case <-w.Done(): // stopped itself: exit non-zero so a restart policy acts
				return w.Err()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return w.Stop(ctx)
		},
	}
	f := cmd.Flags()
	coord.register(f, "")
	f.StringVar(&listen, "listen", env("worker-listen", "127.0.0.1:0"), "address to serve shuffle files on [SUPERSTEP_WORKER_LISTEN]")
	f.StringVar(&httpAddr, "http", env("worker-http", ""), "address to serve Prometheus /metrics on (empty: none); "+
		"with --tls-dir it is HTTPS and needs a certificate of the cluster CA; without, a non-loopback address needs --insecure [SUPERSTEP_WORKER_HTTP]")
	lf.register(f, "info")
	f.StringVar(&advertise, "advertise", env("advertise", ""), "address peers dial to reach this worker, HOST[:PORT] (needed with a wildcard --listen) [SUPERSTEP_ADVERTISE]")
	f.StringVar(&dataDir, "data-dir", env("data-dir", ""), "directory for shuffle and spill files, this worker's own: new or empty the first time, cleared at every start (required) [SUPERSTEP_DATA_DIR]")
	f.IntVar(&slots, "slots", envInt("slots", 2), "tasks run at once [SUPERSTEP_SLOTS]")
	f.StringVar(&memory, "memory", env("memory", ""), "memory budget for shuffle buffers, e.g. 2GiB (default a quarter of RAM) [SUPERSTEP_MEMORY]")
	f.StringVar(&compression, "compression", env("compression", "zstd"), "shuffle compression: zstd, lz4 or none [SUPERSTEP_COMPRESSION]")
	f.DurationVar(&fetchTimeout, "fetch-timeout", envDuration("fetch-timeout", worker.DefaultFetchTimeout),
		"a shuffle fetch that receives nothing for this long (connecting included) fails at once and its map output is "+
			"reported lost and recomputed, so a frozen peer holds up its readers no longer; 0: no deadline [SUPERSTEP_FETCH_TIMEOUT]")
	allowPathFlag(cmd, &allow)
	s3EndpointFlag(f, &s3Endpoint)
	tf.register(f, true)
	return cmd
}

// allowPathFlag adds --allow-path ROOT (repeatable; SUPERSTEP_ALLOW_PATH
// holds a list separated by the OS's path-list separator; see splitRoots).
func allowPathFlag(cmd *cobra.Command, roots *[]string) {
	var def []string
	if v := env("allow-path", ""); v != "" {
		def = splitRoots(v)
	}
	cmd.Flags().StringArrayVar(roots, "allow-path", def,
		"only read inputs and write outputs under this directory (repeatable; default: anywhere) [SUPERSTEP_ALLOW_PATH]")
}

// splitRoots splits a SUPERSTEP_ALLOW_PATH list. Where the separator is
// ':' a URL root keeps its "scheme://": "/data:s3://bucket/jobs" is
// /data and s3://bucket/jobs.
func splitRoots(v string) []string {
	parts := filepath.SplitList(v)
	if filepath.ListSeparator != ':' {
		return parts
	}
	var roots []string
	for _, p := range parts {
		if n := len(roots); n > 0 && strings.HasPrefix(p, "//") && !strings.Contains(roots[n-1], "/") && roots[n-1] != "" {
			roots[n-1] += ":" + p
			continue
		}
		roots = append(roots, p)
	}
	return roots
}

// coordFlags are a client's --coordinator and --retry-for.
type coordFlags struct {
	addrs    string
	retryFor time.Duration
	tls      tlsFlags
}

func (c *coordFlags) register(f *pflag.FlagSet, prefix string) {
	f.StringVar(&c.addrs, "coordinator", env("coordinator", "127.0.0.1:7070"),
		prefix+"coordinator address, or a comma-separated list of a cluster's coordinators [SUPERSTEP_COORDINATOR]")
	f.DurationVar(&c.retryFor, "retry-for", envDuration("retry-for", redirect.DefaultRetryFor),
		prefix+"how long to keep retrying while no coordinator leads (a failover, a restart) [SUPERSTEP_RETRY_FOR]")
}

func (c *coordFlags) dial(ctx context.Context) (*cluster.Client, error) {
	if _, err := redirect.ParseAddrs(c.addrs); err != nil {
		return nil, usagef("--coordinator: %v", err)
	}
	dc := cluster.DialConfig{RetryFor: c.retryFor}
	var err error
	if dc.TLS, dc.Token, err = c.tls.client(); err != nil {
		return nil, err
	}
	return cluster.DialWith(ctx, c.addrs, dc)
}

// coordinatorFlag adds a client command's --coordinator, --retry-for,
// --tls-dir and --token-file.
func coordinatorFlag(cmd *cobra.Command, c *coordFlags) {
	c.register(cmd.Flags(), "")
	c.tls.register(cmd.Flags(), false)
}

func newSubmitCmd() *cobra.Command {
	rf := &runFlags{}
	return &cobra.Command{
		Use:   "submit JOB [--coordinator ADDR] [--detach] [job flags]",
		Short: "submit a job to a cluster and wait for it",
		Long: "Compile a job here and submit it to the coordinator; show a progress line per superstep and exit 0 only\n" +
			"if the job succeeded. --detach prints the job id and returns at once.\n\n" +
			"The inputs are listed and split, and the outputs checked, by a worker of the cluster (under its --allow-path),\n" +
			"so the data need not be on this machine: local paths name files as the workers see them, and s3://bucket/prefix\n" +
			"names objects (with --s3-endpoint for an S3-compatible store).\n\n" + jobList(),
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			job, jfs, err := jobCommandLine(cmd, args, rf)
			if job == nil {
				return err
			}
			ctx := cmd.Context()
			// The inputs are listed, and the outputs checked, by a worker
			// of the cluster, where the data is: not here.
			prog, err := compileJob(ctx, job, jfs, rf, bsp.CompileOptions{DeferInputs: true})
			if err != nil {
				return err
			}
			c, err := rf.coord.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			id, err := c.Submit(ctx, prog)
			if err != nil {
				if ctx.Err() != nil {
					id := prog.Spec.JobID
					return interruptedError{fmt.Errorf("interrupted while submitting: job %s may have been accepted, and then keeps running on the cluster\n"+
						"check it: superstep status %s%s\ncancel it: superstep cancel %s%s",
						id, id, coordinatorArg(rf.coord.addrs), id, coordinatorArg(rf.coord.addrs))}
				}
				return err
			}
			if rf.detach {
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "job %s submitted\n", id)
			stages := stagesOfProgram(prog) // without the input stages' task counts: a worker made them
			if js, err := c.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id}); err == nil {
				stages = stagesOfStatus(js)
			}
			pr := newProgress(cmd.ErrOrStderr(), rf.progress, stages)
			st, err := c.WatchEvents(ctx, id, pr.jobEvent)
			pr.wait()
			if err != nil {
				if ctx.Err() != nil {
					return interruptedError{fmt.Errorf("interrupted: job %s keeps running on the cluster\n"+
						"follow it: superstep status --watch %s%s\ncancel it: superstep cancel %s%s",
						id, id, coordinatorArg(rf.coord.addrs), id, coordinatorArg(rf.coord.addrs))}
				}
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "job %s succeeded%s\n", id, durationSuffix(st))
			return nil
		},
	}
}

// rpcError is the one-line form of a coordinator's error.
func rpcError(err error) error { return errors.New(status.Convert(err).Message()) }

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func stateName(s pb.JobState) string { return display.StateName(s) }

func newJobsCmd() *cobra.Command {
	var addr coordFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "list the cluster's jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := addr.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.CC.ListJobs(cmd.Context(), &pb.ListJobsRequest{})
			if err != nil {
				return rpcError(err)
			}
			if asJSON {
				return printProtoJSON(cmd.OutOrStdout(), resp.GetJobs())
			}
			return printJobs(cmd.OutOrStdout(), resp.GetJobs(), time.Now())
		},
	}
	coordinatorFlag(cmd, &addr)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newStatusCmd() *cobra.Command {
	var addr coordFlags
	var progressMode string
	var asJSON, watch bool
	cmd := &cobra.Command{
		Use:   "status JOB_ID",
		Short: "show a job's status",
		Long: "Show a job's status: its state and a line per superstep. --watch follows the job's events until it ends\n" +
			"(exit 0 only if it succeeded); Ctrl-C stops watching and leaves the job running.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(progressModes, progressMode) {
				return usagef("--progress must be one of %s, got %q", strings.Join(progressModes, ", "), progressMode)
			}
			if asJSON && watch {
				return usagef("--json and --watch do not go together")
			}
			c, err := addr.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.CC.GetJob(cmd.Context(), &pb.GetJobRequest{JobId: args[0]})
			if err != nil {
				return rpcError(err)
			}
			if asJSON {
				return printProtoJSON(cmd.OutOrStdout(), []*pb.JobStatus{st})
			}
			var werr error
			if watch {
				pr := newProgress(cmd.ErrOrStderr(), progressMode, stagesOfStatus(st))
				final, err := c.WatchEvents(cmd.Context(), args[0], pr.jobEvent)
				pr.wait()
				if cmd.Context().Err() != nil {
					return interruptedError{fmt.Errorf("interrupted: job %s keeps running", args[0])}
				}
				if final == nil {
					return err
				}
				st, werr = final, err
			}
			printStatus(cmd.OutOrStdout(), st, time.Now())
			if werr != nil {
				return werr
			}
			return nil
		},
	}
	coordinatorFlag(cmd, &addr)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the job's progress until it ends")
	cmd.Flags().StringVar(&progressMode, "progress", env("progress", "auto"), "with --watch: auto, bar, plain or none [SUPERSTEP_PROGRESS]")
	return cmd
}

func newCancelCmd() *cobra.Command {
	var addr coordFlags
	cmd := &cobra.Command{
		Use:   "cancel JOB_ID",
		Short: "cancel a job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := addr.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.CC.CancelJob(cmd.Context(), &pb.CancelJobRequest{JobId: args[0]})
			if err != nil {
				return rpcError(err)
			}
			if resp.GetAlreadyFinal() {
				return fmt.Errorf("job %s already ended (%s)", args[0], stateName(resp.GetStatus().GetState()))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %s cancelled\n", args[0])
			return nil
		},
	}
	coordinatorFlag(cmd, &addr)
	return cmd
}

func newWorkersCmd() *cobra.Command {
	var addr coordFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "list the cluster's workers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := addr.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.CC.ListWorkers(cmd.Context(), &pb.ListWorkersRequest{})
			if err != nil {
				return rpcError(err)
			}
			if asJSON {
				return printProtoJSON(cmd.OutOrStdout(), resp.GetWorkers())
			}
			return printWorkers(cmd.OutOrStdout(), resp.GetWorkers(), time.Now())
		},
	}
	coordinatorFlag(cmd, &addr)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
