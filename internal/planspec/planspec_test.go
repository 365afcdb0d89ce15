package planspec

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func goodSpec() Spec {
	return Spec{Version: Version, Partitions: 2, Stages: []StageSpec{
		{ID: 0, Input: InputSpec{Kind: InputSource, Splits: []Split{{Start: 0, End: 3}, {Start: 3, End: 5}}}, Tasks: 2,
			Output: OutputSpec{Kind: OutputShuffle, Node: 5, Partitions: 2}},
		{ID: 1, Input: InputSpec{Kind: InputShuffle, Node: 5, Sides: 1}, Tasks: 2,
			Output: OutputSpec{Kind: OutputSink, Node: 6}},
	}, Sinks: []SinkSpec{{Node: 6, Dir: "/out", Ext: "txt", Stage: 1}}}
}

func TestDecodeRejects(t *testing.T) {
	good := goodSpec()
	b, _ := good.Encode()
	if _, err := Decode(b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(s *Spec)
	}{
		{"version", func(s *Spec) { s.Version = 2 }},
		{"partitions", func(s *Spec) { s.Partitions = 0 }},
		{"no stages", func(s *Spec) { s.Stages = nil }},
		{"splits", func(s *Spec) { s.Stages[0].Input.Splits = s.Stages[0].Input.Splits[:1] }},
		{"split range", func(s *Spec) { s.Stages[0].Input.Splits = []Split{{Start: 4, End: 1}, {}} }},
		{"file range", func(s *Spec) { s.Stages[0].Input.Splits = []Split{{Files: []FileRange{{Path: ""}}}, {}} }},
		{"sink dir", func(s *Spec) { s.Sinks[0].Dir = "" }},
		{"sink stage", func(s *Spec) { s.Sinks[0].Stage = 7 }},
		{"sides", func(s *Spec) { s.Stages[1].Input.Sides = 2 }},
		{"iterate source", func(s *Spec) { s.Stages[0].Iterate = &IterateSpec{MaxSupersteps: 2} }},
		{"bounds from", func(s *Spec) { s.Stages[1].Output.BoundsFrom = []int{0} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodSpec()
			tc.edit(&s)
			b, _ := s.Encode()
			if _, err := Decode(b); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("err %v, want ErrBadSpec", err)
			}
		})
	}
	for _, b := range []string{`{`, `{"version":1,"nope":1}`, string(b) + `{}`} {
		if _, err := Decode([]byte(b)); !errors.Is(err, ErrBadSpec) {
			t.Fatalf("%q: err %v, want ErrBadSpec", b, err)
		}
	}
}

// TestRangeBoundsQuantiles checks the bounds against a hand-computed
// fixture and against the definition on seeded random samples.
func TestRangeBoundsQuantiles(t *testing.T) {
	var samples [][]byte
	for _, k := range []string{"j", "a", "e", "c", "h", "b", "d", "g", "f", "i"} {
		samples = append(samples, []byte(k))
	}
	// sorted a..j; n=4 picks positions 2, 5, 7: c, f, h.
	if got := RangeBounds(samples, 4); !slices.EqualFunc(got, [][]byte{[]byte("c"), []byte("f"), []byte("h")}, bytes.Equal) {
		t.Fatalf("bounds %q", got)
	}
	if RangeBounds(samples, 1) != nil || RangeBounds(nil, 4) != nil {
		t.Fatal("bounds without samples or partitions")
	}
	if got := RangeBounds([][]byte{[]byte("x"), []byte("x"), []byte("x")}, 3); len(got) != 1 {
		t.Fatalf("repeated keys: %q", got)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for range 100 {
		var s [][]byte
		for range r.IntN(50) {
			s = append(s, []byte{byte(r.IntN(8))})
		}
		n := 1 + r.IntN(6)
		before := slices.Clone(s)
		got := RangeBounds(s, n)
		if !slices.EqualFunc(before, s, bytes.Equal) {
			t.Fatal("RangeBounds modified its samples")
		}
		shuffled := slices.Clone(s)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if !slices.EqualFunc(got, RangeBounds(shuffled, n), bytes.Equal) {
			t.Fatal("bounds depend on the order of the samples")
		}
		if !slices.IsSortedFunc(got, bytes.Compare) || len(got) > max(n-1, 0) {
			t.Fatalf("bounds %q for %d partitions", got, n)
		}
		for i := 1; i < len(got); i++ {
			if bytes.Equal(got[i-1], got[i]) {
				t.Fatalf("repeated bound in %q", got)
			}
		}
	}
}

func TestFinal(t *testing.T) {
	it := &IterateSpec{MaxSupersteps: 5}
	for _, tc := range []struct {
		step             int
		active, messages int64
		want             bool
	}{{1, 3, 2, false}, {5, 3, 2, true}, {2, 0, 0, true}, {2, 0, 1, false}, {2, 1, 0, false}} {
		if got := it.Final(tc.step, tc.active, tc.messages); got != tc.want {
			t.Errorf("Final(%d, %d, %d) = %v", tc.step, tc.active, tc.messages, got)
		}
	}
}

// TestOnePlace ties the callers to this package: no other package of the
// module declares its own RangeBounds function or plan validator, or
// writes the final-superstep rule (a comparison with MaxSupersteps).
func TestOnePlace(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if filepath.Base(filepath.Dir(path)) == "planspec" {
			return nil // this package
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if n.Recv == nil && n.Name.Name == "RangeBounds" {
					t.Errorf("%s: a second RangeBounds; call planspec.RangeBounds", fset.Position(n.Pos()))
				}
				if n.Recv != nil && len(n.Recv.List) == 1 && recvName(n.Recv.List[0].Type) == "Spec" && strings.EqualFold(n.Name.Name, "validate") {
					t.Errorf("%s: a second plan validator; call planspec.Decode", fset.Position(n.Pos()))
				}
			case *ast.BinaryExpr:
				if sel, ok := n.Y.(*ast.SelectorExpr); ok && sel.Sel.Name == "MaxSupersteps" &&
					(n.Op == token.GEQ || n.Op == token.GTR) {
					t.Errorf("%s: the final-superstep rule written again; call IterateSpec.Final", fset.Position(n.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func recvName(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func FuzzDecode(f *testing.F) {
	good := goodSpec()
	b, _ := good.Encode()
	f.Add(b)
	f.Add([]byte(`{"version":1,"partitions":1,"stages":[{"id":0,"input":{"kind":"shuffle","node":3,"sides":1},"tasks":1,"output":{"kind":"collect"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("error %v does not match ErrBadSpec", err)
			}
			return
		}
		for i := range s.Stages {
			_ = s.Producers(i)
			_ = s.Consumers(i)
		}
	})
}
