// Package buildbin builds the superstep command once per test process, for
// tests that run it as separate processes.
package buildbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	once sync.Once
	path string
	err  error
)

// Superstep returns the path of a freshly built superstep binary (built on
// the first call; later calls reuse it).
func Superstep() (string, error) {
	once.Do(func() {
		dir, e := os.MkdirTemp("", "superstep-bin-")
		if e != nil {
			err = e
			return
		}
		path = filepath.Join(dir, "superstep")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", path, "./cmd/superstep")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("building superstep: %v: %s", e, out)
		}
	})
	return path, err
}
