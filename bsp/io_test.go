package bsp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/bsp"
)

// row exercises every column kind the sinks and sources must carry.
type row struct {
	ID     int64
	Name   string
	Small  int8
	Count  uint32
	Ratio  float32
	OK     bool
	Blob   []byte
	At     time.Time
	Tags   []string
	Nested struct {
		A int16
		B string
	}
}

func sampleRows(n int) []row {
	out := make([]row, n)
	for i := range out {
		r := &out[i]
		r.ID, r.Name, r.Small, r.Count = int64(i)*7-30, fmt.Sprintf("name %d é", i), int8(i%100-50), uint32(i*3)
		r.Ratio, r.OK, r.Blob = float32(i)/3, i%2 == 0, []byte{byte(i), 0, 255}
		r.At = time.Date(2026, 1, 1+i%28, 0, 0, i%60, i, time.UTC)
		r.Tags = []string{fmt.Sprint(i % 3)}[:i%2]
		r.Nested.A, r.Nested.B = int16(i), strings.Repeat("b", i%4)
	}
	return out
}

func TestSinkSourceRoundTrips(t *testing.T) {
	in := sampleRows(3000)
	for _, format := range []string{"parquet", "arrow", "json"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			p := bsp.NewPlan(3)
			d := bsp.FromSlice(p, in, 3)
			switch format {
			case "parquet":
				bsp.WriteParquet(d, out)
			case "arrow":
				bsp.WriteArrow(d, out)
			case "json":
				bsp.WriteJSON(d, out)
			}
			if _, err := execute(t, p, layouts[1]); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
				t.Fatalf("no _SUCCESS marker: %v", err)
			}
			got := collect(t, layouts[1], func(p *bsp.Plan) bsp.Dataset[row] {
				glob := filepath.Join(out, "part-*")
				switch format {
				case "parquet":
					return bsp.Parquet[row](p, glob)
				case "arrow":
					return bsp.ArrowFile[row](p, glob)
				}
				return bsp.JSONLines[row](p, glob)
			})
			if len(got) != len(in) {
				t.Fatalf("read back %d rows, want %d", len(got), len(in))
			}
			for i := range in {
				a, _ := json.Marshal(in[i])
				b, _ := json.Marshal(got[i])
				if string(a) != string(b) {
					t.Fatalf("row %d: got %s, want %s", i, b, a)
				}
			}
		})
	}
}

func TestWriteTSVAndText(t *testing.T) {
	dir := t.TempDir()
	p := bsp.NewPlan(2)
	kv := []bsp.KV[string, int64]{{Key: "a\tb", Value: 1}, {Key: "c", Value: -2}}
	bsp.WriteTSV(bsp.FromSlice(p, kv, 1), filepath.Join(dir, "tsv"), bsp.Header())
	bsp.WriteText(bsp.FromSlice(p, []string{"x", "", "y z"}, 2), filepath.Join(dir, "txt"))
	if _, err := execute(t, p, layouts[0]); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "tsv", "part-00000.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Key\tValue\na\\tb\t1\nc\t-2\n"; string(b) != want {
		t.Fatalf("tsv = %q, want %q", b, want)
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "txt", "part-*"))
	var all []byte
	for _, f := range parts {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	if string(all) != "x\n\ny z\n" {
		t.Fatalf("text = %q", all)
	}
}

func TestTextLinesSplitsAtLineBoundaries(t *testing.T) {
	s := seed(t)
	r := newRand(s)
	dir := t.TempDir()
	var want []string
	// Three files large enough to be cut into byte ranges (splits are at
	// least 1 MiB), with lines of random length, CRLF, empty lines and a
	// last line without newline.
	for f := range 3 {
		var b strings.Builder
		n := 0
		for b.Len() < 2<<20+r.IntN(1<<20) {
			line := fmt.Sprintf("f%d-l%d-%s", f, n, strings.Repeat("q", r.IntN(300)))
			switch r.IntN(10) {
			case 0:
				line = ""
			case 1:
				line += "\r"
			}
			want = append(want, line)
			b.WriteString(line + "\n")
			n++
		}
		if f == 2 {
			want = append(want, "tail without newline")
			b.WriteString("tail without newline")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in%d.txt", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Output markers and hidden files are skipped (see the listing rules).
	os.WriteFile(filepath.Join(dir, "_SUCCESS"), []byte("skip me\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".ignored"), []byte("skip me\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "_temporary"), 0o755)
	os.WriteFile(filepath.Join(dir, "_temporary", "part-0"), []byte("skip me\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o644)
	for _, parts := range []int{1, 3, 8} {
		got := collect(t, layout{parts, 4, 64 << 20}, func(p *bsp.Plan) bsp.Dataset[string] {
			return bsp.TextLines(p, dir)
		})
		if !slices.Equal(got, want) {
			t.Fatalf("partitions %d: %d lines, want %d lines (or different content)", parts, len(got), len(want))
		}
	}
}

func TestCSVSource(t *testing.T) {
	type person struct {
		Name  string
		Age   int
		Score *float64
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "people.csv")
	os.WriteFile(path, []byte("name,age,score\nada,36,1.5\n\"bob, jr\",7,\n"), 0o644)
	got := collect(t, layouts[0], func(p *bsp.Plan) bsp.Dataset[string] {
		return bsp.Map(bsp.CSV[person](p, path), func(x person) string {
			if x.Score == nil {
				return fmt.Sprintf("%s|%d|nil", x.Name, x.Age)
			}
			return fmt.Sprintf("%s|%d|%g", x.Name, x.Age, *x.Score)
		})
	})
	equalOrFatal(t, got, []string{"ada|36|1.5", "bob, jr|7|nil"})
}

// TestBadInput checks that bad input fails the job with an error naming the
// file and line, and that no output directory (or temporary) is left.
func TestBadInput(t *testing.T) {
	type person struct {
		Name string
		Age  int
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badCSV := write("bad.csv", "name,age\nada,36\nbob,seven\n")
	raggedCSV := write("ragged.csv", "name,age\nada,36,extra\n")
	badJSON := write("bad.jsonl", "{\"Name\":\"a\",\"Age\":1}\n\n{\"Name\":\"b\",\"Age\":\"x\"}\n")
	badUTF8 := write("utf8.jsonl", "{\"Name\":\"a\xff\",\"Age\":1}\n")
	badUTF8CSV := write("utf8.csv", "name,age\n\xfe,1\n")
	cases := []struct {
		name  string
		build func(p *bsp.Plan) bsp.Dataset[person]
		want  string
	}{
		{"missing file", func(p *bsp.Plan) bsp.Dataset[person] {
			return bsp.CSV[person](p, filepath.Join(dir, "nope.csv"))
		}, "nope.csv: no such file or directory"},
		{"glob without match", func(p *bsp.Plan) bsp.Dataset[person] {
			return bsp.JSONLines[person](p, filepath.Join(dir, "*.nothing"))
		}, "no file matches"},
		{"csv field", func(p *bsp.Plan) bsp.Dataset[person] { return bsp.CSV[person](p, badCSV) }, "bad.csv:3: "},
		{"csv ragged", func(p *bsp.Plan) bsp.Dataset[person] { return bsp.CSV[person](p, raggedCSV) }, "ragged.csv:2: "},
		{"json type", func(p *bsp.Plan) bsp.Dataset[person] { return bsp.JSONLines[person](p, badJSON) }, "bad.jsonl:3: "},
		{"json utf8", func(p *bsp.Plan) bsp.Dataset[person] { return bsp.JSONLines[person](p, badUTF8) }, "utf8.jsonl:1: invalid UTF-8"},
		{"csv utf8", func(p *bsp.Plan) bsp.Dataset[person] { return bsp.CSV[person](p, badUTF8CSV) }, "utf8.csv:2: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outParent := t.TempDir()
			out := filepath.Join(outParent, "out")
			p := bsp.NewPlan(2)
			bsp.WriteJSON(c.build(p), out)
			_, err := execute(t, p, layouts[1])
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !errors.Is(err, bsp.ErrInput) {
				t.Fatalf("error %v does not match ErrInput", err)
			}
			left, _ := os.ReadDir(outParent)
			if len(left) != 0 {
				t.Fatalf("failed job left %v behind", left)
			}
		})
	}
}

func TestExistingOutputIsRefused(t *testing.T) {
	out := t.TempDir()
	p := bsp.NewPlan(1)
	bsp.WriteText(bsp.FromSlice(p, []string{"a"}, 1), out)
	if _, err := execute(t, p, layouts[0]); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("want an 'already exists' error, got %v", err)
	}
	p = bsp.NewPlan(1)
	bsp.WriteText(bsp.FromSlice(p, []string{"a"}, 1), out, bsp.Overwrite())
	if _, err := execute(t, p, layouts[0]); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "part-00000.txt")); string(b) != "a\n" {
		t.Fatalf("overwritten output = %q", b)
	}
}

func TestSpecRoundTripAndBind(t *testing.T) {
	build := func() *bsp.Plan {
		p := bsp.NewPlan(3)
		words := bsp.FlatMap(bsp.FromSlice(p, []string{"a b", "b c"}, 2), func(s string, emit func(bsp.KV[string, int64])) {
			for _, w := range strings.Fields(s) {
				emit(bsp.KV[string, int64]{Key: w, Value: 1})
			}
		})
		bsp.Collect(bsp.SortBy(bsp.ReduceByKey(words, func(a, b int64) int64 { return a + b }),
			func(kv bsp.KV[string, int64]) string { return kv.Key }))
		return p
	}
	prog, err := bsp.Compile(context.Background(), build(), bsp.CompileOptions{JobID: "j1", Job: "x", Args: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := prog.Spec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := bsp.DecodeSpec(enc)
	if err != nil {
		t.Fatal(err)
	}
	enc2, _ := dec.Encode()
	if string(enc) != string(enc2) {
		t.Fatalf("spec does not round-trip:\n%s\n%s", enc, enc2)
	}
	if _, err := bsp.Bind(build(), dec); err != nil {
		t.Fatalf("bind to identical plan: %v", err)
	}
	other := bsp.NewPlan(3)
	bsp.Collect(bsp.Distinct(bsp.FromSlice(other, []string{"x"}, 1)))
	if _, err := bsp.Bind(other, dec); !errors.Is(err, bsp.ErrPlanMismatch) {
		t.Fatalf("bind to a different plan: %v", err)
	}
	var sb strings.Builder
	if err := prog.Explain(&sb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"superstep 1", "ReduceByKey", "map-side combine", "range", "Collect"} {
		if !strings.Contains(sb.String(), want) {
			t.Fatalf("explain output lacks %q:\n%s", want, sb.String())
		}
	}
}

func FuzzDecodeSpec(f *testing.F) {
	p := bsp.NewPlan(2)
	bsp.Collect(bsp.Sort(bsp.FromSlice(p, []string{"b", "a"}, 2)))
	prog, err := bsp.Compile(context.Background(), p, bsp.CompileOptions{JobID: "f"})
	if err != nil {
		f.Fatal(err)
	}
	enc, _ := prog.Spec.Encode()
	f.Add(enc)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"partitions":1,"stages":[{"id":0,"input":{"kind":"source","node":0},"tasks":1,"output":{"kind":"sink"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := bsp.DecodeSpec(b)
		if err != nil {
			if !errors.Is(err, bsp.ErrBadSpec) {
				t.Fatalf("error %v does not match ErrBadSpec", err)
			}
			return
		}
		if _, err := s.Encode(); err != nil {
			t.Fatal(err)
		}
	})
}
