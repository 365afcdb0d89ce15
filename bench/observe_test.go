package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
// every worker's /metrics). Each iteration runs one of each; it reports the
// median per-pair overhead in percent (target: at most 2).
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
	for b.Loop() {
		p := run(false)
		o := run(true)
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
