// Command chaos runs Superstep's jobs on a real multi-process cluster (the
// superstep binary as coordinator and worker processes on loopback) while
// it injects faults on a seeded schedule, and checks every output against
// an in-process run without faults:
//
//	go run ./bench/chaos --seed 7 --duration 3m
//
// Jobs: wordcount (seeded Zipf text), terasort (generated records),
// PageRank (the bundled SQLite link graph) and webindex (the bundled SQLite
// documentation). Faults: SIGKILL and SIGSTOP/SIGCONT of workers and of the
// coordinator (restarted on its data dir and address), a corrupted or
// truncated shuffle file, a full disk (one worker's data dir is a small
// tmpfs that a fault fills; this needs the right to mount, else the fault is
// left out and the report says so) and slow tasks (the internal/faults hook,
// compiled in with -tags faults). Every job must end within --job-timeout.
//
// Run n's schedule depends only on the seed and n: a failure prints both,
// and `--seed S --from n --runs 1` replays that schedule.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg := DefaultConfig()
	var jobs, kinds string
	flag.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "seed of the fault schedule (default: from the clock; printed)")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "start no new job after this long")
	flag.IntVar(&cfg.From, "from", 0, "number of the first run (to replay one run of a seed)")
	flag.IntVar(&cfg.Runs, "runs", 0, "stop after this many runs (0: run until --duration)")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "worker processes")
	flag.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of every job")
	flag.DurationVar(&cfg.JobTimeout, "job-timeout", cfg.JobTimeout, "a job that has not ended by then counts as a hang")
	flag.StringVar(&cfg.Dir, "dir", "", "work directory, kept after the run (default: a temporary one, removed)")
	flag.StringVar(&jobs, "jobs", "", "comma-separated subset of wordcount,terasort,pagerank,webindex")
	flag.StringVar(&kinds, "faults", "", "comma-separated subset of "+strings.Join(kindNames[:], ","))
	flag.BoolVar(&cfg.NoTmpfs, "no-tmpfs", false, "do not mount a tmpfs (leaves out full-disk faults)")
	flag.Parse()
	if jobs != "" {
		cfg.Jobs = strings.Split(jobs, ",")
	}
	if kinds != "" {
		cfg.Faults = strings.Split(kinds, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if rep != nil {
		fmt.Print(rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if !rep.OK() {
		os.Exit(1)
	}
}
