// Command containers measures the container overhead: wordcount over
// generated text on the compose cluster of deploy/compose.yaml (3
// coordinators and 3 workers in containers, on a bridge network, input and
// output through the /data bind mount) against `superstep run --workers 3`
// (an embedded cluster of 3 gRPC workers in one host process) on the same
// host, the same input and the same slots and partitions, and against the
// same processes as the compose cluster run on the host (a coordinator and
// 3 workers on loopback). Runs are interleaved (the order reversed every
// round) so that load from other
// processes hits both, and every output must be byte-identical to the first
// embedded run's. `make bench-containers` runs it after `make image`.
//
//	go run ./bench/containers --size 300MB --runs 3 --image-tag TAG
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/superstep/superstep/internal/testwait"
)

const imageUser = 65532

// baseCtx is cancelled by SIGINT or SIGTERM: every command then ends, and
// run returns through its deferred teardown.
var baseCtx, cancelAll = context.WithCancel(context.Background())

var services = []string{"coordinator-1", "coordinator-2", "coordinator-3", "worker-1", "worker-2", "worker-3"}

type config struct {
	size       int64
	runs       int
	slots      int
	partitions int
	tag        string
	dir        string
	repo       string
}

func main() {
	var c config
	var size string
	flag.StringVar(&size, "size", "300MB", "bytes of generated text (a number with a KB, MB or GB suffix, powers of 1024)")
	flag.IntVar(&c.runs, "runs", 3, "measured runs of each side, after one warm-up each")
	flag.IntVar(&c.slots, "slots", 6, "task slots in all: the compose workers have 2 each, so 6")
	flag.IntVar(&c.partitions, "partitions", 12, "partitions of the wordcount shuffle")
	flag.StringVar(&c.tag, "image-tag", "dev", "the superstep and superstep-s3test image tag (make image VERSION)")
	flag.StringVar(&c.dir, "dir", "", "work directory (default: a new one under $TMPDIR, removed at the end)")
	flag.StringVar(&c.repo, "repo", ".", "the repository root (deploy/compose.yaml, cmd/superstep)")
	flag.Parse()
	n, err := parseSize(size)
	if err != nil {
		fail(err)
	}
	c.size = n
	// SIGINT and SIGTERM stop the runs but still tear the clusters down.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		slog.Warn("stopping", "signal", s)
		cancelAll()
	}()
	if err := run(c); err != nil {
		fail(err)
	}
}

func fail(err error) {
	slog.Error("bench-containers failed", "err", err)
	os.Exit(1)
}

func run(c config) error {
	repo, err := filepath.Abs(c.repo)
	if err != nil {
		return err
	}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "ssbench-containers-"); err != nil {
			return err
		}
		defer os.RemoveAll(c.dir)
	}
	bin := filepath.Join(c.dir, "superstep")
	if out, err := cmd(10*time.Minute, repo, nil, "go", "build", "-o", bin, "./cmd/superstep"); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(c.dir, "data")
	in := filepath.Join(data, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		return err
	}
	slog.Info("generating text", "bytes", c.size, "dir", in)
	const files = 12 // a map task per file at the least, whatever the splitting
	for i := range files {
		n := c.size / files
		if i == files-1 {
			n = c.size - n*(files-1)
		}
		if err := generateText(filepath.Join(in, fmt.Sprintf("text-%02d.txt", i)), n, uint64(i)); err != nil {
			return err
		}
	}
	// The containers run as the image's user and write into data.
	if err := filepath.Walk(data, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Chown(p, imageUser, imageUser); err != nil {
			return os.Chmod(p, 0o777)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("making %s writable for uid %d: %w", data, imageUser, err)
	}

	project := fmt.Sprintf("ssbench%d", os.Getpid())
	env := []string{"SUPERSTEP_DATA=" + data, "SUPERSTEP_SUBNET=172.28.99.0/24", "SUPERSTEP_VERSION=" + c.tag}
	compose := func(timeout time.Duration, args ...string) (string, error) {
		return cmd(timeout, repo, env, "docker-compose", append([]string{"-p", project, "-f", filepath.Join(repo, "deploy", "compose.yaml")}, args...)...)
	}
	defer func() {
		if out, err := compose(3*time.Minute, "down", "-v", "--remove-orphans", "-t", "2"); err != nil {
			slog.Warn("compose down", "err", err, "out", out)
		}
		_ = filepath.Walk(data, func(p string, _ os.FileInfo, _ error) error { _ = os.Chmod(p, 0o777); return nil })
	}()
	if out, err := compose(5*time.Minute, "up", "-d"); err != nil {
		return fmt.Errorf("compose up: %v\n%s", err, out)
	}
	ids := map[string]string{}
	for _, s := range services {
		out, err := compose(time.Minute, "ps", "-q", s)
		if err != nil || strings.TrimSpace(out) == "" {
			return fmt.Errorf("no container for %s: %v %s", s, err, out)
		}
		ids[s] = strings.TrimSpace(out)
		if !testwait.Until(3*time.Minute, func() bool {
			st, _ := cmd(time.Minute, repo, nil, "docker", "inspect", "--format", "{{.State.Health.Status}}", ids[s])
			return strings.TrimSpace(st) == "healthy"
		}) {
			return fmt.Errorf("%s is not healthy after 3 minutes", s)
		}
	}
	slog.Info("compose cluster healthy", "project", project)

	// The same processes as the compose cluster, on the host: one
	// coordinator and 3 workers of 2 slots each on loopback, so that the
	// container overhead is measured apart from the one-process embedded
	// cluster's (different scheduling of one process's threads under load).
	coordAddr, stopProcs, err := startProcs(bin, c.dir, repo)
	defer stopProcs()
	if err != nil {
		return err
	}

	args := func(inDir, out string) []string {
		return []string{"wordcount", "--input", inDir, "--out", out, "--partitions", fmt.Sprint(c.partitions), "--progress", "none"}
	}
	var want string
	sides := []struct {
		name string
		run  func(i int) (time.Duration, string, error)
	}{
		{"compose", func(i int) (time.Duration, string, error) {
			out := fmt.Sprintf("out-compose-%d", i)
			start := time.Now()
			res, err := cmd(30*time.Minute, repo, nil, "docker", append([]string{"exec", ids["coordinator-1"], "/superstep", "submit"},
				args("/data/in", "/data/"+out)...)...)
			if err != nil {
				return 0, "", fmt.Errorf("submit: %v\n%s", err, res)
			}
			return time.Since(start), filepath.Join(data, out), nil
		}},
		{"embedded", func(i int) (time.Duration, string, error) {
			out := filepath.Join(c.dir, fmt.Sprintf("out-embedded-%d", i))
			start := time.Now()
			res, err := cmdIn(true, 30*time.Minute, repo, nil, bin, append(append([]string{"run"}, args(in, out)...),
				"--workers", "3", "--slots", fmt.Sprint(c.slots))...)
			if err != nil {
				return 0, "", fmt.Errorf("run: %v\n%s", err, res)
			}
			return time.Since(start), out, nil
		}},
	}
	sides = append(sides, struct {
		name string
		run  func(i int) (time.Duration, string, error)
	}{"processes", func(i int) (time.Duration, string, error) {
		out := filepath.Join(c.dir, fmt.Sprintf("out-processes-%d", i))
		start := time.Now()
		res, err := cmd(30*time.Minute, repo, nil, bin, append(append([]string{"submit"}, args(in, out)...), "--coordinator", coordAddr)...)
		if err != nil {
			return 0, "", fmt.Errorf("submit: %v\n%s", err, res)
		}
		return time.Since(start), out, nil
	}})
	times := map[string][]time.Duration{}
	for i := 0; i <= c.runs; i++ { // run 0 is the warm-up of each side
		order := []int{0, 1, 2}
		if i%2 == 1 {
			order = []int{2, 1, 0}
		}
		for _, k := range order {
			s := sides[k]
			took, out, err := s.run(i)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", s.name, i, err)
			}
			got, err := concat(out)
			if err != nil {
				return err
			}
			if want == "" {
				want = got
			} else if got != want {
				return fmt.Errorf("%s run %d: the output differs from the first run's", s.name, i)
			}
			if err := os.RemoveAll(out); err != nil {
				return err
			}
			slog.Info("run", "side", s.name, "run", i, "warmup", i == 0, "seconds", took.Seconds())
			if i > 0 {
				times[s.name] = append(times[s.name], took)
			}
		}
	}
	a, b, p := stats(times["compose"]), stats(times["embedded"]), stats(times["processes"])
	fmt.Printf("wordcount, %d bytes of generated text, %d partitions, %d slots; medians of %d interleaved runs after a warm-up each\n\n",
		c.size, c.partitions, c.slots, c.runs)
	fmt.Printf("| cluster | median s | min–max s | MB/s |\n|---|---|---|---|\n")
	mb := float64(c.size) / 1e6
	fmt.Printf("| compose: 3 coordinators + 3 workers in containers | %.2f | %.2f–%.2f | %.1f |\n", a.med, a.min, a.max, mb/a.med)
	fmt.Printf("| `superstep run --workers 3` on the host | %.2f | %.2f–%.2f | %.1f |\n", b.med, b.min, b.max, mb/b.med)
	fmt.Printf("| host processes: `superstep coordinator` + 3 `superstep worker --slots 2` on loopback | %.2f | %.2f–%.2f | %.1f |\n", p.med, p.min, p.max, mb/p.med)
	fmt.Printf("\ncontainer overhead (median / median − 1): %+.1f%% against `superstep run --workers 3`, %+.1f%% against the same processes on the host\n",
		(a.med/b.med-1)*100, (a.med/p.med-1)*100)
	return nil
}

type summary struct{ med, min, max float64 }

func stats(ds []time.Duration) summary {
	s := make([]float64, len(ds))
	for i, d := range ds {
		s[i] = d.Seconds()
	}
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{m, s[0], s[len(s)-1]}
}

// concat is a committed output directory's part files in name order, read
// only when _SUCCESS says the output is whole.
func concat(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err != nil {
		return "", fmt.Errorf("%s is not a committed output: %w", dir, err)
	}
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil || len(parts) == 0 {
		return "", fmt.Errorf("%s holds no part files (%v)", dir, err)
	}
	slices.Sort(parts)
	var b bytes.Buffer
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(&b, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// cmd runs a command in dir with extra environment and a deadline, and
// returns its combined output.
func cmd(timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	return cmdIn(false, timeout, dir, env, name, args...)
}

// ownSession runs the host side's processes in a session of their own.
// The kernel's autogroup scheduling (sched_autogroup_enabled) shares the
// CPU between sessions first: the containers run in dockerd's session,
// while a command started from a shell shares that shell's session with
// everything else started from it, which on a loaded machine gave the host
// side half the CPU share or less, and the containers looked twice as fast.
var ownSession = &syscall.SysProcAttr{Setsid: true}

func cmdIn(session bool, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	parent := baseCtx
	if slices.Contains(args, "down") {
		parent = context.Background() // the teardown runs even after a signal
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	if session {
		c.SysProcAttr = ownSession
	}
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	out, err := c.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%s %s: timed out after %s", name, strings.Join(args, " "), timeout)
	}
	return string(out), err
}

func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, sfx := range []struct {
		s string
		m int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, sfx.s) {
			u, mult = strings.TrimSuffix(u, sfx.s), sfx.m
			break
		}
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad --size %q: want a number like 300MB", s)
	}
	return n * mult, nil
}

// generateText writes exactly size bytes of text to path: lines of 5 to 15
// words drawn from a Zipf distribution over 50,000 made-up words (the same
// in every file), from a fixed seed, so every machine writes the same bytes.
func generateText(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(300, 13))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	vocab := make([]string, 50000)
	for i := range vocab {
		b := make([]byte, 3+rng.IntN(8))
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		vocab[i] = string(b)
	}
	rng = rand.New(rand.NewPCG(301, seed))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(vocab)-1))
	var line []byte
	for written := int64(0); written < size; written += int64(len(line)) {
		line = line[:0]
		for j := range 5 + rng.IntN(11) {
			if j > 0 {
				line = append(line, ' ')
			}
			line = append(line, vocab[zipf.Uint64()]...)
		}
		line = append(line, '\n')
		if rest := size - written; int64(len(line)) > rest {
			line = line[:rest]
			line[rest-1] = '\n'
		}
		if _, err := w.Write(line); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startProcs starts a coordinator on a free loopback port and 3 workers of
// 2 slots each, waits until the coordinator lists the 3, and returns its
// address and a function that stops them.
func startProcs(bin, dir, repo string) (string, func(), error) {
	var procs []*exec.Cmd
	stop := func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", stop, err
	}
	addr := l.Addr().String()
	l.Close()
	start := func(args ...string) error {
		p := exec.Command(bin, args...)
		p.Dir = dir
		p.SysProcAttr = ownSession
		if err := p.Start(); err != nil {
			return err
		}
		procs = append(procs, p)
		return nil
	}
	if err := start("coordinator", "--listen", addr); err != nil {
		return "", stop, err
	}
	for i := range 3 {
		d := filepath.Join(dir, fmt.Sprintf("worker-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", stop, err
		}
		if err := start("worker", "--coordinator", addr, "--data-dir", d, "--slots", "2"); err != nil {
			return "", stop, err
		}
	}
	var last string
	if !testwait.Until(time.Minute, func() bool {
		out, err := cmd(30*time.Second, repo, nil, bin, "workers", "--coordinator", addr, "--json")
		last = out
		var ws []json.RawMessage
		return err == nil && json.Unmarshal([]byte(out), &ws) == nil && len(ws) == 3
	}) {
		return "", stop, fmt.Errorf("the host cluster at %s has not 3 workers after a minute: %s", addr, last)
	}
	return addr, stop, nil
}
