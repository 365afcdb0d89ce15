package local

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneDriver fails if this package makes the cluster's decisions itself
// again instead of leaving them to package coordinator: the barrier and
// range bounds (Output.BoundsFrom, RangeBounds), the Pregel iteration
// (StageSpec.Iterate, IterateSpec.Final, MaxSupersteps, checkpoints), the
// retry limit (MaxAttempts, other than passing Config.MaxAttempts on in the
// job's submission) and the commit (Program.CommitTask, CommitJob). It also
// checks that the package does drive coordinator.Leader.Step and
// State.Apply.
func TestOneDriver(t *testing.T) {
	banned := map[string]string{
		"BoundsFrom":      "range bounds are the state's (Job.Bounds)",
		"RangeBounds":     "range bounds are the state's (Job.Bounds)",
		"Iterate":         "the Pregel iteration is the state's (coordinator/iterate.go)",
		"MaxSupersteps":   "the final-superstep rule is the state's",
		"CheckpointEvery": "checkpoints and rollback are the state's",
		"CommitTask":      "the commit is Ready.Commit's (bsp.CommitSinkParts)",
		"CommitJob":       "the commit is Ready.Commit's (bsp.CommitSinkParts)",
		"Failures":        "retries are the state's (Task.Failures)",
	}
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := map[string]bool{}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, _ := decl.(*ast.FuncDecl)
			ast.Inspect(decl, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.KeyValueExpr:
					// SubmitJob{MaxAttempts: d.cfg.MaxAttempts}: the limit goes
					// to the state, which applies it.
					if k, ok := n.Key.(*ast.Ident); ok && k.Name == "MaxAttempts" {
						return false
					}
				case *ast.CallExpr:
					// Copying an iteration's Final flag into a task is fine;
					// deciding it (IterateSpec.Final) is not.
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Final" {
						t.Errorf("%s: Final(): the final-superstep rule is the state's (IterateSpec.Final in endSuperstep)", fset.Position(n.Pos()))
					}
				case *ast.SelectorExpr:
					name := n.Sel.Name
					calls[name] = true
					if why, ok := banned[name]; ok {
						t.Errorf("%s: %s: %s", fset.Position(n.Pos()), name, why)
					}
					if name == "MaxAttempts" && (fn == nil || fn.Name.Name != "Validate") {
						t.Errorf("%s: MaxAttempts outside Config.Validate and the job's submission: retries are the state's", fset.Position(n.Pos()))
					}
				}
				return true
			})
		}
	}
	for _, name := range []string{"Step", "Apply", "NewLeader", "NewState"} {
		if !calls[name] {
			t.Errorf("the package never calls coordinator's %s", name)
		}
	}
}
