package bsp_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/superstep/superstep/bsp"
)

// listingTree makes a tree with every kind of entry the listing rules name
// and returns its root.
func listingTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string) {
		t.Helper()
		p := filepath.Join(root, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(rel+"\n"), 0o644))
	}
	for _, rel := range []string{"a b.txt", "_x.txt", ".y.txt", "_SUCCESS", "_temporary/t.txt", "_attempts/u.txt",
		".hidden/h.txt", "sub/z.txt", "sub/deep/w.txt"} {
		write(rel)
	}
	must(os.Symlink("sub/z.txt", filepath.Join(root, "zlink.txt")))       // a link to a file
	must(os.Symlink("..", filepath.Join(root, "sub", "up")))              // a loop
	must(os.Symlink("sub/deep", filepath.Join(root, "deeplink")))         // a link to a directory
	must(os.Symlink("sub/deep", filepath.Join(root, "deeplink2")))        // the same directory again
	must(os.Symlink("does-not-exist", filepath.Join(root, "broken.txt"))) // broken
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))              // not regular
	return root
}

func TestListingRules(t *testing.T) {
	root := listingTree(t)
	rel := func(p string) string {
		r, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	for _, l := range []layout{layouts[0], layouts[2]} {
		t.Run(l.String(), func(t *testing.T) {
			got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] {
				return bsp.Map(bsp.WholeFiles(p, root), func(path string) string { return rel(path) })
			})
			slices.Sort(got)
			// Hand-computed from the listing rules: hidden names and output
			// markers skipped, links followed, loops and non-files left out.
			want := []string{"_x.txt", "a b.txt", "deeplink/w.txt", "sub/deep/w.txt", "sub/z.txt", "zlink.txt"}
			if !slices.Equal(got, want) {
				t.Fatalf("WholeFiles:\n got %q\nwant %q", got, want)
			}

			all := collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] {
				return bsp.Map(bsp.AllFiles(p, root), func(e bsp.FileEntry) string {
					if e.Skipped != "" {
						return rel(e.Path) + " " + e.Skipped
					}
					return rel(e.Path)
				})
			})
			slices.Sort(all)
			want = []string{".hidden/h.txt", ".y.txt", "_SUCCESS", "_attempts/u.txt", "_temporary/t.txt", "_x.txt", "a b.txt",
				"broken.txt " + bsp.SkipBrokenSymlink, "deeplink/w.txt", "deeplink2 " + bsp.SkipSymlinkDuplicate,
				"fifo " + bsp.SkipNotRegular, "sub/deep/w.txt", "sub/up " + bsp.SkipSymlinkLoop, "sub/z.txt", "zlink.txt"}
			if !slices.Equal(all, want) {
				t.Fatalf("AllFiles:\n got %q\nwant %q", all, want)
			}
		})
	}
}

// TestListingNamedFileAlwaysRead: a hidden name given explicitly is read.
func TestListingNamedFileAlwaysRead(t *testing.T) {
	root := listingTree(t)
	got := collect(t, layouts[0], func(p *bsp.Plan) bsp.Dataset[string] {
		return bsp.TextLines(p, filepath.Join(root, "_SUCCESS"), filepath.Join(root, "_x.txt"))
	})
	if s := strings.Join(got, ","); s != "_SUCCESS,_x.txt" {
		t.Fatalf("lines %q", s)
	}
}
