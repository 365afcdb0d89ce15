package bsp_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/internal/s3fake"
	"github.com/superstep/superstep/storage"
)

// TestS3ListingRules: the listing rules apply to s3:// prefixes as to
// directories (hidden names and output markers skipped in every element
// below the prefix, "_x.txt" kept), patterns match within one element, and
// TextLines reads every line of the listed objects, whatever the layout
// (split sizes, and so ranged reads, vary with it).
func TestS3ListingRules(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	srv.Use(t)
	fsys := srv.FS(t)
	ctx := context.Background()
	for _, rel := range []string{"a b.txt", "_x.txt", ".y.txt", "_SUCCESS", "_temporary/t.txt", "_attempts/u.txt",
		".hidden/h.txt", "sub/z.txt", "sub/deep/w.txt", "sub/.q/v.txt", "sub/deep/_SUCCESS"} {
		body := strings.Repeat(rel+"\n", 3)
		if err := storage.WriteFile(ctx, fsys, "s3://bkt/in/"+rel, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.WriteFile(ctx, fsys, "s3://bkt/inx/no.txt", []byte("not below in/\n")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		paths []string
		want  []string
	}{
		{[]string{"s3://bkt/in"}, []string{"_x.txt", "a b.txt", "sub/deep/w.txt", "sub/z.txt"}},
		{[]string{"s3://bkt/in/sub/*.txt"}, []string{"sub/z.txt"}},
		{[]string{"s3://bkt/in/*/*/w.txt", "s3://bkt/in/.y.txt"}, []string{".y.txt", "sub/deep/w.txt"}},
	} {
		var want []string
		for _, w := range c.want {
			want = append(want, w, w, w)
		}
		slices.Sort(want)
		for _, l := range []layout{layouts[0], layouts[2]} {
			got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] { return bsp.TextLines(p, c.paths...) })
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%v under %s: lines %q, want %q", c.paths, l, got, want)
			}
		}
	}
	p := bsp.NewPlan(2)
	bsp.Collect(bsp.TextLines(p, "s3://bkt/in/*.csv"))
	if _, err := bsp.Compile(ctx, p, bsp.CompileOptions{JobID: "x"}); err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Errorf("a pattern matching nothing: %v", err)
	}
	p = bsp.NewPlan(2)
	bsp.Collect(bsp.TextLines(p, "s3://bkt/missing"))
	if _, err := bsp.Compile(ctx, p, bsp.CompileOptions{JobID: "x"}); err == nil || !strings.Contains(err.Error(), "s3://bkt/missing") {
		t.Errorf("a missing prefix: %v", err)
	}
}
