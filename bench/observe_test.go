package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/worker"
)

// BenchmarkWordcountObserved measures what watching a job costs: the
// word count of BenchmarkWordcount on an embedded cluster of two workers,
// alternately unobserved and with the dashboard open and Prometheus
// scraping, both once a second (as a browser tab and a scraper would: the
// version poll, the job page and the jobs list, the coordinator's and
// every worker's /metrics). Each iteration runs one of each, in alternating
// order; it reports the median per-pair overhead in percent (target: at
// most 2) and its range.
func BenchmarkWordcountObserved(b *testing.B) {
	path := corpusOrSkip(b)
	wc := worker.DefaultConfig()
	wc.Slots, wc.HTTP = 1, "127.0.0.1:0"
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	emb, err := cluster.StartEmbedded(context.Background(), cluster.EmbeddedConfig{Workers: 2, Worker: wc, WorkDir: b.TempDir(),
		HTTP: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Close()
	run := func(observe bool) time.Duration {
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
		var wg sync.WaitGroup
		stop := make(chan struct{})
		if observe {
			urls := []string{"/api/version", "/jobs/" + id + "?fragment=1", "/?fragment=1", "/metrics"}
			base := "http://" + emb.Coordinator.HTTPAddr()
			targets := []string{}
			for _, u := range urls {
				targets = append(targets, base+u)
			}
			for _, w := range emb.Workers {
				targets = append(targets, "http://"+w.HTTPAddr()+"/metrics")
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for {
					for _, u := range targets {
						if resp, err := http.Get(u); err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					}
					select {
					case <-stop:
						return
					case <-t.C:
					}
				}
			}()
		}
		start := time.Now()
		_, err = emb.Executor().Execute(context.Background(), prog)
		d := time.Since(start)
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	var ratios []float64
	var plain, observed time.Duration
	for i := 0; b.Loop(); i++ {
		var p, o time.Duration
		if i%2 == 0 { // alternate which goes first (the page cache, the neighbours' load)
			p, o = run(false), run(true)
		} else {
			o, p = run(true), run(false)
		}
		plain += p
		observed += o
		ratios = append(ratios, (o.Seconds()/p.Seconds()-1)*100)
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "overhead-%")
	b.ReportMetric(ratios[0], "min-overhead-%")
	b.ReportMetric(ratios[len(ratios)-1], "max-overhead-%")
	b.ReportMetric(plain.Seconds()/float64(len(ratios)), "plain-s/op")
	b.ReportMetric(observed.Seconds()/float64(len(ratios)), "observed-s/op")
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
