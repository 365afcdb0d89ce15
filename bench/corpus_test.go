package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedTextDeterministic writes the generated text twice and
// expects the same bytes, of exactly the size asked, in lines of 5 to 15
// words.
func TestGeneratedTextDeterministic(t *testing.T) {
	const size = 200_000
	var files [2][]byte
	for i := range files {
		path, err := GeneratedText(t.TempDir(), size)
		if err != nil {
			t.Fatal(err)
		}
		if files[i], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("two generations of the same size differ")
	}
	if len(files[0]) != size {
		t.Fatalf("%d bytes, want %d", len(files[0]), size)
	}
	lines := strings.Split(strings.TrimSuffix(string(files[0]), "\n"), "\n")
	counts := map[string]int{}
	for i, l := range lines[:len(lines)-1] { // the last line may be cut
		n := len(strings.Fields(l))
		if n < 5 || n > 15 {
			t.Fatalf("line %d has %d words, want 5 to 15: %q", i+1, n, l)
		}
		for _, w := range strings.Fields(l) {
			counts[w]++
		}
	}
	// Zipf: the commonest word is far commoner than a typical one.
	top := 0
	for _, c := range counts {
		top = max(top, c)
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if mean := float64(total) / float64(len(counts)); float64(top) < 20*mean {
		t.Errorf("commonest word %d times, mean %.1f: not Zipf-like", top, mean)
	}
}

// TestGeneratedWordcountValidates runs wordcount on generated text in the
// baseline and the in-process executor; the harness checks the outputs
// equal.
func TestGeneratedWordcountValidates(t *testing.T) {
	out := t.TempDir()
	runs, err := Run(context.Background(), Config{Workloads: []string{"wordcount"}, Size: "128KB", Text: TextGenerated,
		Workers: []int{2}, Runs: 1, Out: out, Modes: []string{ModeBaseline, ModeLocal}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	for _, r := range runs {
		if !r.Validated || r.InputBytes != 128<<10 {
			t.Errorf("run %+v: want validated, %d input bytes", r, 128<<10)
		}
	}
	if _, err := Run(context.Background(), Config{Workloads: []string{"wordcount"}, Size: "tiny", Text: "lorem",
		Out: filepath.Join(out, "x"), Log: io.Discard}); err == nil {
		t.Error("--text lorem: no error")
	}
}
