package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHarnessTiny runs every workload at tiny sizes through the baseline,
// the in-process executor and the embedded cluster (and, without -short,
// separate processes), and checks that the report files are written.
func TestHarnessTiny(t *testing.T) {
	modes := []string{ModeBaseline, ModeLocal, ModeEmbedded, ModeProcess}
	if testing.Short() {
		modes = modes[:3]
	}
	out := t.TempDir()
	runs, err := Run(context.Background(), Config{Workloads: []string{"wordcount", "terasort", "shuffle"},
		Size: "tiny", Workers: []int{1, 2}, Runs: 1, Out: out, Modes: modes, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if !r.Validated || r.WallS <= 0 {
			t.Errorf("bad run %+v", r)
		}
		seen[r.Workload+"/"+r.Mode] = true
		// Process mode reads the shuffle bytes from the coordinator.
		if r.Mode == ModeProcess && r.Workload != "shuffle" && (r.ShuffleRaw <= 0 || r.ShuffleBytes <= 0) {
			t.Errorf("%s process: shuffle raw %d, compressed %d; want both > 0", r.Workload, r.ShuffleRaw, r.ShuffleBytes)
		}
	}
	for _, wl := range []string{"wordcount", "terasort", "shuffle"} {
		for _, m := range modes {
			if m == ModeLocal && wl == "shuffle" {
				continue
			}
			if !seen[wl+"/"+m] {
				t.Errorf("no run of %s in mode %s", wl, m)
			}
		}
	}
	for _, f := range []string{"report.md", "results.csv", "results.json", "wordcount.svg", "terasort.svg", "shuffle.svg"} {
		if info, err := os.Stat(filepath.Join(out, f)); err != nil || info.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}

// TestValidationCatchesWrongOutput corrupts each workload's output and
// expects its validator to reject it.
func TestValidationCatchesWrongOutput(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"wordcount", "terasort", "shuffle"} {
		t.Run(name, func(t *testing.T) {
			wl, err := newWorkload(name)
			if err != nil {
				t.Fatal(err)
			}
			size, _ := parseSize("tiny", name)
			if err := wl.Prepare(ctx, t.TempDir(), size); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			if err := wl.Baseline(ctx, out); err != nil {
				t.Fatal(err)
			}
			if err := wl.Validate(ctx, out); err != nil {
				t.Fatalf("baseline output rejected: %v", err)
			}
			part := filepath.Join(out, "part-00000")
			b, err := os.ReadFile(part)
			if err != nil {
				t.Fatal(err)
			}
			b[0]++ // one changed byte (a count digit, a record byte)
			if err := os.WriteFile(part, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := wl.Validate(ctx, out); err == nil {
				t.Fatal("corrupted output accepted")
			}
		})
	}
}

// TestWorkloadNames checks that every workload the issue names exists
// (webindex included, now that its job does) and that others are refused.
func TestWorkloadNames(t *testing.T) {
	for _, name := range []string{"wordcount", "terasort", "shuffle", "pagerank", "webindex"} {
		if _, err := newWorkload(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := newWorkload("grep"); err == nil {
		t.Error("unknown workload grep: no error")
	}
	if _, err := parseSize("64MB", "wordcount"); err != nil {
		t.Error(err)
	}
}

// TestInterleavedRounds: with Interleave, the modes of a worker count run
// round by round on clusters started once, the order reversed every
// round, and every run is validated and recorded.
func TestInterleavedRounds(t *testing.T) {
	var log strings.Builder
	modes := []string{ModeEmbedded, ModeEmbeddedTLS}
	runs, err := Run(context.Background(), Config{Workloads: []string{"shuffle"}, Size: "tiny", Workers: []int{1},
		Runs: 3, Out: t.TempDir(), Modes: modes, Log: &log, Interleave: true})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range runs {
		if !r.Validated {
			t.Errorf("run not validated: %+v", r)
		}
		order = append(order, fmt.Sprintf("%s/%d", r.Mode, r.Run))
	}
	// The warm-up round is embedded then embedded-tls, so round 1 is
	// reversed, round 2 not, round 3 reversed.
	want := []string{"embedded-tls/1", "embedded/1", "embedded/2", "embedded-tls/2", "embedded-tls/3", "embedded/3"}
	if !slices.Equal(order, want) {
		t.Fatalf("runs in order %q, want %q\nlog:\n%s", order, want, log.String())
	}
}
