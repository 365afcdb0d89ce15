package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/superstep/superstep/bench/webload"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/worker"
)

// Modes, in report order.
const (
	ModeBaseline = "baseline"
	ModeLocal    = "local"
	ModeEmbedded = "embedded"
	ModeProcess  = "process"
	// ModeEmbeddedTLS and ModeProcessTLS are embedded and process with
	// mutual TLS on every connection and tokens (--tls adds them), so that
	// TLS's cost is a ratio within one run.
	ModeEmbeddedTLS = "embedded-tls"
	ModeProcessTLS  = "process-tls"
	// ModeSearch is the row of the webindex search latency (not a build).
	ModeSearch = "search"
)

// Config is what the flags set.
type Config struct {
	Workloads []string
	// Size is one input size or several, comma-separated (see --size).
	Size string
	// Text is the wordcount input: TextReal (files under /usr/share, the
	// default when empty) or TextGenerated (GeneratedText).
	Text    string
	Workers []int
	Runs    int
	// Interleave runs the modes of one worker count round by round (one
	// run of each, the order reversed every round) on clusters started
	// once, instead of one mode's runs after another's: drift in the
	// machine's load then hits every mode alike.
	Interleave bool
	Out        string
	JSON       bool
	Modes      []string
	Verbose    bool
	Log        io.Writer
	// PageRankScale and PageRankEdgeFactor size the R-MAT graph of the
	// pagerank workload; zero: from Size (scale) and 16 (edge factor).
	PageRankScale      int
	PageRankEdgeFactor int
	// WebindexInput is the webindex workload's input (comma-separated
	// paths the job accepts); empty: the bundled SQLite documentation.
	// WebindexBaseURL is its --base-url; empty: https://sqlite.org/ for
	// the bundled corpus, the job's default otherwise.
	WebindexInput   string
	WebindexBaseURL string
	// SearchQueries scales down the search latency query set to this many
	// queries (0: all of webload.TermQueries + webload.PhraseQueries); the
	// tests use it to stay short.
	SearchQueries int
}

func main() {
	var c Config
	var workloads, workers, modes string
	var cpuProfile string
	flag.StringVar(&workloads, "workload", "wordcount,terasort,shuffle", "workloads: wordcount, terasort, shuffle, pagerank, webindex, supersteps")
	flag.StringVar(&c.WebindexInput, "input", "", "webindex input: comma-separated HTML directories, .tar.gz archives or WARC files (default: the bundled "+webload.BundledCorpus+")")
	flag.StringVar(&c.WebindexBaseURL, "base-url", "", "webindex --base-url of directory and archive inputs (default: https://sqlite.org/ for the bundled corpus, else the job's)")
	flag.StringVar(&c.Size, "size", "default", "input sizes, comma-separated: tiny, small, default, large, or a number (bytes for wordcount and shuffle, e.g. 64MB; records for terasort); wordcount, terasort and shuffle run every size, pagerank and webindex the first")
	flag.StringVar(&c.Text, "text", TextReal, "wordcount input: real (text files under /usr/share) or generated (deterministic Zipf-distributed synthetic words)")
	flag.IntVar(&c.PageRankScale, "pagerank-scale", 0, "R-MAT scale (log2 vertices) of the pagerank graph; 0: from --size (tiny 10, small 14, default 20, large 22)")
	flag.IntVar(&c.PageRankEdgeFactor, "pagerank-edge-factor", defaultEdgeFactor, "R-MAT edges per vertex of the pagerank graph")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.StringVar(&workers, "workers", "1,2", "worker counts")
	flag.IntVar(&c.Runs, "runs", 3, "measured runs per mode and worker count, after one warm-up run")
	flag.StringVar(&c.Out, "out", "bench/out", "directory for report.md, results.csv, results.json and the plots")
	flag.BoolVar(&c.JSON, "json", false, "also print every run as JSON on stdout")
	flag.StringVar(&modes, "modes", "baseline,local,embedded,process", "modes to run (also embedded-tls, process-tls)")
	flag.BoolVar(&c.Interleave, "interleave", false, "run the modes of a worker count round by round, one run each, the order reversed every round (for ratios on a machine whose load drifts)")
	var withTLS bool
	flag.BoolVar(&withTLS, "tls", false, "also run the embedded and process modes with mutual TLS and tokens (modes embedded-tls, process-tls), each right after its plain mode")
	flag.BoolVar(&c.Verbose, "v", false, "show the logs of coordinator and worker processes")
	flag.Parse()
	c.Workloads = splitList(workloads)
	c.Modes = splitList(modes)
	if withTLS {
		c.Modes = append(c.Modes, ModeEmbeddedTLS, ModeProcessTLS)
	}
	for _, w := range splitList(workers) {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad --workers entry %q\n", w)
			os.Exit(2)
		}
		c.Workers = append(c.Workers, n)
	}
	c.Log = os.Stderr
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: --cpuprofile:", err)
			os.Exit(2)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	runs, err := Run(context.Background(), c)
	if c.JSON && runs != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(runs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var presets = map[string]map[string]int64{
	"tiny":    {"wordcount": 256 << 10, "terasort": 2000, "shuffle": 1 << 20},
	"small":   {"wordcount": 16 << 20, "terasort": 200_000, "shuffle": 32 << 20},
	"default": {"wordcount": 100 << 20, "terasort": 1_000_000, "shuffle": 128 << 20},
	"large":   {"wordcount": 400 << 20, "terasort": 4_000_000, "shuffle": 512 << 20},
}

// parseSize turns --size into the size for one workload.
func parseSize(s, workload string) (int64, error) {
	if p, ok := presets[strings.ToLower(s)]; ok {
		return p[workload], nil
	}
	mult := int64(1)
	u := strings.ToUpper(strings.TrimSpace(s))
	for _, sfx := range []struct {
		s string
		m int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1_000_000_000}, {"M", 1_000_000}, {"K", 1000}, {"B", 1}} {
		if strings.HasSuffix(u, sfx.s) {
			u, mult = strings.TrimSuffix(u, sfx.s), sfx.m
			break
		}
	}
	n, err := strconv.ParseFloat(u, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad --size %q: want tiny, small, default, large or a number like 64MB or 1M", s)
	}
	return int64(n * float64(mult)), nil
}

// Result is one measured run.
type Result struct {
	Workload     string  `json:"workload"`
	Size         string  `json:"size"` // the --size entry
	Mode         string  `json:"mode"`
	Workers      int     `json:"workers"`
	Run          int     `json:"run"`
	Records      int64   `json:"records"`
	InputBytes   int64   `json:"input_bytes"`
	WallS        float64 `json:"wall_s"`
	UserS        float64 `json:"user_s"`
	SysS         float64 `json:"sys_s"`
	PeakRSS      int64   `json:"peak_rss_bytes"`
	RSSSource    string  `json:"peak_rss_source"`
	RecordsPerS  float64 `json:"records_per_s"`
	MBPerS       float64 `json:"input_mb_per_s"`
	ShuffleRaw   int64   `json:"shuffle_raw_bytes"`
	ShuffleBytes int64   `json:"shuffle_compressed_bytes"`
	Validated    bool    `json:"validated"`
	// Webindex only: the HTML bytes of the input (tar members, page
	// bodies), their rate, and the size of the index built.
	HTMLBytes  int64   `json:"html_bytes,omitempty"`
	HTMLMBPerS float64 `json:"html_mb_per_s,omitempty"`
	IndexBytes int64   `json:"index_bytes,omitempty"`
	// Webindex search rows (ModeSearch): per-query latency.
	Queries int     `json:"queries,omitempty"`
	P50Ms   float64 `json:"p50_ms,omitempty"`
	P99Ms   float64 `json:"p99_ms,omitempty"`
	MaxMs   float64 `json:"max_ms,omitempty"`
	// Pagerank only: messages of the iterations (see pagerankWL.Messages)
	// and, for the baseline, its read and compute phases.
	Messages     int64   `json:"messages,omitempty"`
	MessagesPerS float64 `json:"messages_per_s,omitempty"`
	ReadS        float64 `json:"read_s,omitempty"`
	ComputeS     float64 `json:"compute_s,omitempty"`
}

// runner is one mode at one worker count.
type runner struct {
	exec   func(ctx context.Context, out string) (*bsp.Result, int64, error) // result (may be nil), extra peak RSS
	extCPU func() cpuSample                                                  // CPU of long-lived processes; may be nil
	// stages, if set, is asked after the clock stops for the stage
	// statistics of the run exec just made (process mode: the coordinator's).
	stages    func(ctx context.Context) ([]bsp.StageStats, error)
	resetPeak func()
	peak      func() int64
	rssSource string
}

type harness struct {
	cfg    Config
	tmp    string
	bin    string
	binErr error
	runs   []Result
	size   string // the --size entry being measured, copied into each Result
}

func (h *harness) logf(format string, a ...any) {
	if h.cfg.Log != nil {
		fmt.Fprintf(h.cfg.Log, format+"\n", a...)
	}
}

// certs makes the cluster certificates of the TLS modes once per run.
func (h *harness) certs() (string, error) {
	dir := filepath.Join(h.tmp, "tls")
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil {
		return dir, nil
	}
	return dir, security.Init(dir, security.CertOptions{})
}

func (h *harness) hasMode(m string) bool {
	for _, x := range h.cfg.Modes {
		if x == m {
			return true
		}
	}
	return false
}

// Run runs the benchmarks and writes the report; it returns every run.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Runs < 1 {
		cfg.Runs = 1
	}
	if len(cfg.Workers) == 0 {
		cfg.Workers = []int{1, 2}
	}
	if len(cfg.Modes) == 0 {
		cfg.Modes = []string{ModeBaseline, ModeLocal, ModeEmbedded, ModeProcess}
	}
	switch cfg.Text {
	case "":
		cfg.Text = TextReal
	case TextReal, TextGenerated:
	default:
		return nil, fmt.Errorf("bad --text %q: want %s or %s", cfg.Text, TextReal, TextGenerated)
	}
	sizeList := splitList(cfg.Size)
	if len(sizeList) == 0 {
		sizeList = []string{"default"}
	}
	var plan []sized
	for _, name := range cfg.Workloads {
		wl, err := newWorkload(name)
		if err != nil {
			return nil, err
		}
		if pr, ok := wl.(*pagerankWL); ok {
			// One graph per run: the first --size entry sizes it.
			if cfg.PageRankEdgeFactor > 0 {
				pr.edgeFactor = cfg.PageRankEdgeFactor
			}
			plan = append(plan, sized{wl, sizeList[0], pagerankScale(sizeList[0], cfg.PageRankScale)})
			continue
		}
		if wi, ok := wl.(*webindexWL); ok {
			*wi = *newWebindexWL(cfg.WebindexInput, cfg.WebindexBaseURL)
			plan = append(plan, sized{wl, sizeList[0], 0})
			continue
		}
		for i, label := range sizeList {
			size, err := parseSize(label, name)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				// A fresh workload per size: Prepare keeps the input's state.
				wl, _ = newWorkload(name)
			}
			if wc, ok := wl.(*wordcountWL); ok {
				wc.text = cfg.Text
			}
			plan = append(plan, sized{wl, label, size})
		}
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "superstep-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	h := &harness{cfg: cfg, tmp: tmp}
	var errs []error
	for i, p := range plan {
		if err := h.workload(ctx, p.wl, fmt.Sprintf("%s-%d", p.wl.Name(), i), p.label, p.size); err != nil {
			errs = append(errs, fmt.Errorf("%s (size %s): %w", p.wl.Name(), p.label, err))
			h.logf("%s (size %s): %v", p.wl.Name(), p.label, err)
		}
	}
	if err := writeReport(cfg, h.runs); err != nil {
		errs = append(errs, err)
	}
	return h.runs, errors.Join(errs...)
}

// sized is one workload at one entry of --size.
type sized struct {
	wl    Workload
	label string // the --size entry
	size  int64  // its value for the workload (bytes, records or R-MAT scale)
}

// workload prepares wl's input of the given size under tmp/dirName and
// measures every mode on it; its runs carry the size label.
func (h *harness) workload(ctx context.Context, wl Workload, dirName, label string, size int64) error {
	h.size = label
	dir := filepath.Join(h.tmp, dirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h.logf("%s: preparing input (size %d)", wl.Name(), size)
	if err := wl.Prepare(ctx, dir, size); err != nil {
		return err
	}
	self := strconv.Itoa(os.Getpid())
	inProc := func() (func(), func() int64) {
		return func() { resetPeak(self) }, func() int64 { return vmHWM(self) }
	}
	var errs []error
	if h.hasMode(ModeBaseline) {
		rp, pk := inProc()
		r := runner{rssSource: "VmHWM of the harness (reset per run)", resetPeak: rp, peak: pk,
			exec: func(ctx context.Context, out string) (*bsp.Result, int64, error) {
				return nil, 0, wl.Baseline(ctx, out)
			}}
		if err := h.measure(ctx, wl, ModeBaseline, 1, r); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range h.cfg.Workers {
		var modes []string
		for _, mode := range []string{ModeLocal, ModeEmbedded, ModeEmbeddedTLS, ModeProcess, ModeProcessTLS} {
			if h.hasMode(mode) {
				modes = append(modes, mode)
			}
		}
		if h.cfg.Interleave {
			if err := h.interleaved(ctx, wl, modes, n); err != nil {
				errs = append(errs, fmt.Errorf("%d workers: %w", n, err))
				h.logf("%s %d workers: %v", wl.Name(), n, err)
			}
			continue
		}
		for _, mode := range modes {
			err := func() error {
				r, stop, err := h.setup(ctx, wl, mode, n)
				if err != nil || r == nil {
					return err
				}
				defer stop()
				return h.measure(ctx, wl, mode, n, *r)
			}()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s, %d workers: %w", mode, n, err))
				h.logf("%s %s %d workers: %v", wl.Name(), mode, n, err)
			}
		}
	}
	if wi, ok := wl.(*webindexWL); ok {
		lat, err := wi.searchLatency(ctx, dir, h.cfg.SearchQueries)
		if err != nil {
			errs = append(errs, fmt.Errorf("search latency: %w", err))
		} else {
			h.logf("webindex  search: %s", lat)
			h.runs = append(h.runs, Result{Workload: wl.Name(), Size: h.size, Mode: ModeSearch, Workers: 2, Run: 1, Validated: true,
				Queries: lat.Queries, P50Ms: webload.Ms(lat.P50), P99Ms: webload.Ms(lat.P99), MaxMs: webload.Ms(lat.Max)})
		}
	}
	return errors.Join(errs...)
}

// executeJob builds, compiles and runs a registered job on ex.
func executeJob(ctx context.Context, ex bsp.Executor, jobName string, args []string, parts int) (*bsp.Result, error) {
	job, err := bsp.Lookup(jobName)
	if err != nil {
		return nil, err
	}
	fs := job.FlagSet()
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	a := bsp.EncodeArgs(fs)
	plan, err := job.Build(a, parts)
	if err != nil {
		return nil, err
	}
	prog, err := bsp.Compile(ctx, plan, bsp.CompileOptions{JobID: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Job: job.Name, Args: a})
	if err != nil {
		return nil, err
	}
	return ex.Execute(ctx, prog)
}

// interleaved measures modes at n workers round by round on clusters
// started once: a warm-up round, then cfg.Runs rounds, each running every
// mode once, in reverse order every other round.
func (h *harness) interleaved(ctx context.Context, wl Workload, modes []string, n int) error {
	type started struct {
		mode string
		r    runner
	}
	var ms []started
	for _, mode := range modes {
		r, stop, err := h.setup(ctx, wl, mode, n)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		if r != nil {
			defer stop()
			ms = append(ms, started{mode, *r})
		}
	}
	for i := 0; i <= h.cfg.Runs; i++ {
		order := slices.Clone(ms)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, m := range order {
			if err := h.run(ctx, wl, m.mode, n, m.r, i); err != nil {
				return fmt.Errorf("%s: %w", m.mode, err)
			}
		}
	}
	return nil
}

// setup starts what mode needs at n workers and returns its runner and
// how to stop it; a nil runner (and no error) when the mode does not apply
// to the workload.
func (h *harness) setup(ctx context.Context, wl Workload, mode string, n int) (_ *runner, stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	self := strconv.Itoa(os.Getpid())
	r := runner{rssSource: "VmHWM of the harness (reset per run)",
		resetPeak: func() { resetPeak(self) }, peak: func() int64 { return vmHWM(self) }}
	sh, isShuffle := wl.(*shuffleWL)
	var tlsDir string
	var fetchTLS *security.TLS
	if mode == ModeEmbeddedTLS || mode == ModeProcessTLS {
		var err error
		if tlsDir, err = h.certs(); err != nil {
			return nil, nil, err
		}
		if fetchTLS, err = security.LoadTLS(tlsDir, security.RoleClient); err != nil {
			return nil, nil, err
		}
	}
	switch mode {
	case ModeLocal:
		if isShuffle {
			h.logf("shuffle: local mode skipped (the in-process executor has no network transport)")
			return nil, stop, nil
		}
		cfg := local.DefaultConfig()
		cfg.Slots, cfg.WorkDir = n, filepath.Join(h.tmp, "local")
		ex, err := local.New(cfg)
		if err != nil {
			return nil, nil, err
		}
		r.exec = func(ctx context.Context, out string) (*bsp.Result, int64, error) {
			job, args := wl.JobArgs(out)
			res, err := executeJob(ctx, ex, job, args, 2*n)
			return res, 0, err
		}
	case ModeEmbedded, ModeEmbeddedTLS:
		wc := worker.DefaultConfig()
		wc.Slots = 1
		wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		dir, err := os.MkdirTemp(h.tmp, "embedded-")
		if err != nil {
			return nil, nil, err
		}
		emb, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: n, Worker: wc, WorkDir: dir, TLSDir: tlsDir})
		if err != nil {
			return nil, nil, err
		}
		stops = append(stops, func() { emb.Close() })
		if isShuffle {
			path, err := sh.placeMapOutput(filepath.Join(dir, "worker-0"))
			if err != nil {
				return nil, nil, err
			}
			addr := emb.Workers[0].Addr()
			r.exec = func(ctx context.Context, out string) (*bsp.Result, int64, error) {
				return nil, 0, sh.fetch(ctx, addr, path, out, fetchTLS)
			}
		} else {
			ex := emb.Executor()
			r.exec = func(ctx context.Context, out string) (*bsp.Result, int64, error) {
				job, args := wl.JobArgs(out)
				res, err := executeJob(ctx, ex, job, args, 2*n)
				return res, 0, err
			}
		}
	case ModeProcess, ModeProcessTLS:
		if _, ok := wl.(superstepsWL); ok {
			h.logf("supersteps: process mode skipped (its job is registered in the harness, not in cmd/superstep)")
			return nil, stop, nil
		}
		if h.bin == "" && h.binErr == nil {
			h.logf("building cmd/superstep")
			h.bin, h.binErr = buildBinary(ctx, h.tmp)
		}
		if h.binErr != nil {
			return nil, nil, h.binErr
		}
		dir, err := os.MkdirTemp(h.tmp, "procs-")
		if err != nil {
			return nil, nil, err
		}
		pc, err := startProcCluster(h.bin, dir, n, h.cfg.Verbose, tlsDir)
		if err != nil {
			return nil, nil, err
		}
		stops = append(stops, pc.stop)
		r.rssSource = "sum of VmHWM of coordinator and workers (reset per run) + submit's maxrss (its rusage)"
		r.extCPU = pc.cpu
		r.resetPeak, r.peak = pc.resetPeak, pc.peak
		if isShuffle {
			r.rssSource = "sum of VmHWM of coordinator and workers (reset per run) + harness VmHWM"
			path, err := sh.placeMapOutput(pc.dataDirs[0])
			if err != nil {
				return nil, nil, err
			}
			r.resetPeak = func() { pc.resetPeak(); resetPeak(self) }
			r.peak = func() int64 { return pc.peak() + vmHWM(self) }
			r.exec = func(ctx context.Context, out string) (*bsp.Result, int64, error) {
				return nil, 0, sh.fetch(ctx, pc.workers[0], path, out, fetchTLS)
			}
		} else {
			var lastJob string
			r.exec = func(ctx context.Context, out string) (*bsp.Result, int64, error) {
				job, args := wl.JobArgs(out)
				id, rss, err := pc.submit(ctx, job, n, append(args, "--partitions", strconv.Itoa(2*n)))
				lastJob = id
				return nil, rss, err
			}
			r.stages = func(ctx context.Context) ([]bsp.StageStats, error) {
				return jobStages(ctx, pc.client.CC, lastJob)
			}
		}
	}
	return &r, stop, nil
}

// measure runs one warm-up and cfg.Runs measured runs, validating each.
func (h *harness) measure(ctx context.Context, wl Workload, mode string, n int, r runner) error {
	for i := 0; i <= h.cfg.Runs; i++ {
		if err := h.run(ctx, wl, mode, n, r, i); err != nil {
			return err
		}
	}
	return nil
}

// run makes run i of mode (0: the warm-up, not recorded) and validates it.
func (h *harness) run(ctx context.Context, wl Workload, mode string, n int, r runner, i int) error {
	recs, inBytes := wl.Input()
	out := filepath.Join(h.tmp, "out", fmt.Sprintf("%s-%s-%d-%d", wl.Name(), mode, n, i))
	os.MkdirAll(filepath.Dir(out), 0o755)
	// Return the previous run's garbage to the OS so that it does not
	// count in this run's peak RSS.
	runtime.GC()
	debug.FreeOSMemory()
	r.resetPeak()
	var ext0 cpuSample
	if r.extCPU != nil {
		ext0 = r.extCPU()
	}
	c0 := sampleCPU()
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	res, extraRSS, err := r.exec(rctx, out)
	cancel()
	wall := time.Since(start)
	c1 := sampleCPU()
	var ext1 cpuSample
	if r.extCPU != nil {
		ext1 = r.extCPU()
	}
	peak := r.peak() + extraRSS
	if err != nil {
		return fmt.Errorf("run %d: %w", i, err)
	}
	if err := wl.Validate(ctx, out); err != nil {
		return fmt.Errorf("run %d: invalid output: %w", i, err)
	}
	if res == nil && r.stages != nil {
		st, err := r.stages(ctx)
		if err != nil {
			return fmt.Errorf("run %d: stage statistics: %w", i, err)
		}
		res = &bsp.Result{Stages: st}
	}
	os.RemoveAll(out)
	if i == 0 {
		h.logf("%-9s %-8s workers=%d warm-up %.3fs", wl.Name(), mode, n, wall.Seconds())
		return nil
	}
	x := Result{Workload: wl.Name(), Size: h.size, Mode: mode, Workers: n, Run: i, Records: recs, InputBytes: inBytes,
		WallS: wall.Seconds(), UserS: (c1.user - c0.user + ext1.user - ext0.user).Seconds(),
		SysS: (c1.sys - c0.sys + ext1.sys - ext0.sys).Seconds(), PeakRSS: peak, RSSSource: r.rssSource,
		RecordsPerS: float64(recs) / wall.Seconds(), MBPerS: float64(inBytes) / (1 << 20) / wall.Seconds(), Validated: true}
	if res != nil {
		for _, s := range res.Stages {
			x.ShuffleRaw += s.ShuffleRaw
			x.ShuffleBytes += s.ShuffleBytes
		}
	} else if _, ok := wl.(*shuffleWL); ok {
		x.ShuffleRaw, x.ShuffleBytes = inBytes, inBytes
	}
	if wi, ok := wl.(*webindexWL); ok {
		x.HTMLBytes, x.IndexBytes = wi.size.HTML, wi.indexBytes
		x.HTMLMBPerS = float64(wi.size.HTML) / (1 << 20) / wall.Seconds()
	}
	if pr, ok := wl.(*pagerankWL); ok {
		x.Messages = pr.Messages()
		x.MessagesPerS = float64(x.Messages) / wall.Seconds()
		if mode == ModeBaseline {
			read, compute := pr.phases()
			x.ReadS, x.ComputeS = read.Seconds(), compute.Seconds()
		}
	}
	h.logf("%-9s %-8s workers=%d run %d %.3fs", wl.Name(), mode, n, i, wall.Seconds())
	h.runs = append(h.runs, x)
	return nil
}
