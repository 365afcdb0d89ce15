package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/worker"
)

// BenchmarkWordcountObserved measures what watching a job costs: the
// word count of BenchmarkWordcount (SUPERSTEP_OBSERVE_MB overrides its
// size) on an embedded cluster of two workers, alternately unobserved and
// with the dashboard open and Prometheus scraping, both once a second (as
// a browser tab and a scraper would: the version poll, the job page and
// the jobs list, the coordinator's and every worker's /metrics). The
// observer is a separate process (this test binary re-run as
// TestObserverProcess), so that this process's CPU time is the cluster's
// alone. Each iteration runs one of each, in alternating order (A/B, B/A,
// ...); it reports the median of the per-pair overheads in percent, of
// the wall time and of the process's CPU time (user + system, from
// getrusage), with their ranges. On a machine shared with other work the
// CPU time is the honest figure: the wall time moves with the neighbours'
// load, the CPU time much less. Target: at most 2%.
func BenchmarkWordcountObserved(b *testing.B) {
	path := corpusOrSkip(b)
	if mb, err := strconv.Atoi(os.Getenv("SUPERSTEP_OBSERVE_MB")); err == nil && mb > 0 {
		dir := filepath.Join(os.TempDir(), "superstep-bench")
		if path, err = TextCorpus(dir, int64(mb)<<20); err != nil {
			b.Skip(err)
		}
	}
	wc := worker.DefaultConfig()
	wc.Slots, wc.HTTP = 1, "127.0.0.1:0"
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	emb, err := cluster.StartEmbedded(context.Background(), cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: b.TempDir(),
		HTTP: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Close()
	run := func(observe bool) (wall, cpu time.Duration) {
		fs := wordcount.Job.FlagSet()
		fs.Parse([]string{"--input", path, "--out", filepath.Join(b.TempDir(), "out")})
		args := bsp.EncodeArgs(fs)
		plan, err := wordcount.Job.Build(args, 4)
		if err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("bench-%d", time.Now().UnixNano())
		prog, err := bsp.Compile(context.Background(), plan, bsp.CompileOptions{JobID: id, Job: wordcount.Job.Name, Args: args})
		if err != nil {
			b.Fatal(err)
		}
		var observer *exec.Cmd
		var polls bytes.Buffer
		if observe {
			base := "http://" + emb.Coordinator.HTTPAddr()
			targets := []string{base + "/api/version", base + "/jobs/" + id + "?fragment=1", base + "/?fragment=1", base + "/metrics"}
			for _, w := range emb.Workers {
				targets = append(targets, "http://"+w.HTTPAddr()+"/metrics")
			}
			observer = exec.Command(os.Args[0], "-test.run=^TestObserverProcess$")
			observer.Env = append(os.Environ(), observerEnv+"="+strings.Join(targets, " "))
			observer.Stdout, observer.Stderr = &polls, os.Stderr
			stdin, err := observer.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := observer.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				stdin.Close() // the observer stops at EOF
				if err := observer.Wait(); err != nil {
					b.Fatalf("observer: %v", err)
				}
				if !strings.Contains(polls.String(), "rounds ") || strings.Contains(polls.String(), "rounds 0\n") {
					b.Fatalf("the observer did not poll: %q", polls.String())
				}
			}()
		}
		cpu0 := cpuTime()
		start := time.Now()
		_, err = emb.Executor().Execute(context.Background(), prog)
		wall, cpu = time.Since(start), cpuTime()-cpu0
		if err != nil {
			b.Fatal(err)
		}
		return wall, cpu
	}
	var wallRatios, cpuRatios []float64
	var plain, observed, plainCPU, observedCPU time.Duration
	for i := 0; b.Loop(); i++ {
		var p, o, pc, oc time.Duration
		if i%2 == 0 { // alternate which goes first (the page cache, the neighbours' load)
			p, pc = run(false)
			o, oc = run(true)
		} else {
			o, oc = run(true)
			p, pc = run(false)
		}
		plain, observed, plainCPU, observedCPU = plain+p, observed+o, plainCPU+pc, observedCPU+oc
		wallRatios = append(wallRatios, (o.Seconds()/p.Seconds()-1)*100)
		cpuRatios = append(cpuRatios, (oc.Seconds()/pc.Seconds()-1)*100)
		b.Logf("pair %d: plain %s (cpu %s), observed %s (cpu %s): wall %+.1f%%, cpu %+.1f%%", i+1, p.Round(time.Millisecond),
			pc.Round(time.Millisecond), o.Round(time.Millisecond), oc.Round(time.Millisecond), wallRatios[i], cpuRatios[i])
	}
	n := float64(len(wallRatios))
	for _, r := range []struct {
		name string
		v    []float64
	}{{"wall", wallRatios}, {"cpu", cpuRatios}} {
		slices.Sort(r.v)
		b.ReportMetric(median(r.v), r.name+"-overhead-%")
		b.ReportMetric(r.v[0], r.name+"-min-%")
		b.ReportMetric(r.v[len(r.v)-1], r.name+"-max-%")
	}
	b.ReportMetric(plain.Seconds()/n, "plain-s/op")
	b.ReportMetric(observed.Seconds()/n, "observed-s/op")
	b.ReportMetric(plainCPU.Seconds()/n, "plain-cpu-s/op")
	b.ReportMetric(observedCPU.Seconds()/n, "observed-cpu-s/op")
}

// median of sorted values.
func median(v []float64) float64 {
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// observerEnv holds the URLs TestObserverProcess polls.
const observerEnv = "SUPERSTEP_OBSERVER_URLS"

// TestObserverProcess is BenchmarkWordcountObserved's observer when run
// with SUPERSTEP_OBSERVER_URLS set: it fetches every URL (space-separated)
// once a second, like a dashboard tab and a Prometheus scraper, until its
// stdin ends, then prints how many rounds it made. Without the variable
// it does nothing.
func TestObserverProcess(t *testing.T) {
	urls := strings.Fields(os.Getenv(observerEnv))
	if len(urls) == 0 {
		t.Skip("the observer process of BenchmarkWordcountObserved")
	}
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	rounds := 0
	for {
		for _, u := range urls {
			resp, err := client.Get(u)
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", u, resp.Status)
			}
		}
		rounds++
		select {
		case <-done:
			fmt.Printf("rounds %d\n", rounds)
			return
		case <-tick.C:
		}
	}
}

// BenchmarkObserveRound is one round of what BenchmarkWordcountObserved's
// observer fetches each second (version poll, job page, jobs list, the
// coordinator's and both workers' /metrics), against a finished word count
// of the same shape: its time per op over one second bounds the share of a
// core the observation takes.
func BenchmarkObserveRound(b *testing.B) {
	wc := worker.DefaultConfig()
	wc.Slots, wc.HTTP = 1, "127.0.0.1:0"
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	emb, err := cluster.StartEmbedded(context.Background(), cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: b.TempDir(),
		HTTP: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Close()
	in := filepath.Join(b.TempDir(), "in.txt")
	var text []byte
	for i := range 20000 {
		text = fmt.Appendf(text, "w%d w%d w%d\n", i%1009, i%101, i%7)
	}
	if err := os.WriteFile(in, text, 0o644); err != nil {
		b.Fatal(err)
	}
	fs := wordcount.Job.FlagSet()
	fs.Parse([]string{"--input", in, "--out", filepath.Join(b.TempDir(), "out")})
	args := bsp.EncodeArgs(fs)
	plan, err := wordcount.Job.Build(args, 4)
	if err != nil {
		b.Fatal(err)
	}
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	prog, err := bsp.Compile(context.Background(), plan, bsp.CompileOptions{JobID: id, Job: wordcount.Job.Name, Args: args})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := emb.Executor().Execute(context.Background(), prog); err != nil {
		b.Fatal(err)
	}
	base := "http://" + emb.Coordinator.HTTPAddr()
	targets := []string{base + "/api/version", base + "/jobs/" + id + "?fragment=1", base + "/?fragment=1", base + "/metrics"}
	for _, w := range emb.Workers {
		targets = append(targets, "http://"+w.HTTPAddr()+"/metrics")
	}
	for b.Loop() {
		for _, u := range targets {
			resp, err := http.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}
