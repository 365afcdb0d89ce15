package wordcount_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/bsp/local"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/parts"
	"github.com/superstep/superstep/internal/testcorpus"
)

// corpus returns real text that travels with the repository (the bundled
// SQLite documentation pages), up to about limit bytes.
func corpus(t *testing.T, limit int64) []string {
	t.Helper()
	files := testcorpus.Files(t, limit)
	t.Logf("%d files", len(files))
	return files
}

// coreutils runs the reference pipeline and turns `uniq -c` lines into
// word<TAB>count.
func coreutils(t *testing.T, files []string) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-c", `for f; do cat "$f"; echo; done | LC_ALL=C tr -s ' \t\n\r\v\f' '\n' | LC_ALL=C sort | LC_ALL=C uniq -c`, "sh")
	cmd.Args = append(cmd.Args, files...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("coreutils pipeline: %v", err)
	}
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		line = strings.TrimLeft(line, " ")
		count, word, ok := strings.Cut(line, " ")
		if !ok || word == "" { // tr leaves one empty line when input starts with whitespace
			continue
		}
		fmt.Fprintf(&b, "%s\t%s\n", word, count)
	}
	return b.Bytes()
}

func runWordcount(t *testing.T, files []string, partitions, slots int, memBudget int64, extra ...string) []byte {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg := local.DefaultConfig()
	cfg.Slots, cfg.Memory, cfg.Mem, cfg.WorkDir = slots, memBudget, mem, t.TempDir()
	ex, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	flags := append([]string{"--input", strings.Join(files, ","), "--out", out}, extra...)
	if _, err := ex.RunJob(context.Background(), wordcount.Job, flags, partitions); err != nil {
		t.Fatal(err)
	}
	all, err := parts.Concat(out)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func TestWordcountEqualsCoreutils(t *testing.T) {
	files := corpus(t, 16<<20)
	want := coreutils(t, files)
	var first []byte
	for _, l := range []struct{ parts, slots int }{{1, 1}, {3, 4}, {8, 1}, {8, 4}} {
		got := runWordcount(t, files, l.parts, l.slots, 4<<20)
		if !bytes.Equal(got, want) {
			t.Fatalf("partitions %d slots %d: output differs from coreutils (%d vs %d bytes)", l.parts, l.slots, len(got), len(want))
		}
		if first == nil {
			first = got
		} else if !bytes.Equal(first, got) {
			t.Fatalf("partitions %d slots %d: output not byte-identical", l.parts, l.slots)
		}
	}
}

func TestWordcountLowerLetters(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("Héllo, hello! HELLO-world\tñandú 42 ñandú\n"), 0o644)
	got := runWordcount(t, []string{in}, 2, 2, 4<<20, "--lower", "--letters")
	want := "hello\t2\nhéllo\t1\nworld\t1\nñandú\t2\n"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestFieldsMatchesTr(t *testing.T) {
	var got []string
	wordcount.Fields("  a\tb\r\n\vc\fd  é\x00x ", func(w string) { got = append(got, w) })
	if strings.Join(got, "|") != "a|b|c|d|é\x00x" {
		t.Fatalf("fields = %q", got)
	}
}

// TestWordcountLatin1: words are bytes; invalid UTF-8 counts like any word.
func TestWordcountLatin1(t *testing.T) {
	in := filepath.Join(t.TempDir(), "latin1.txt")
	os.WriteFile(in, []byte("caf\xe9 caf\xe9 na\xefve\n\xff\n"), 0o644)
	got := runWordcount(t, []string{in}, 3, 2, 4<<20)
	if want := "caf\xe9\t2\nna\xefve\t1\n\xff\t1\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
