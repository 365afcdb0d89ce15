//go:build !unix

package worker

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// lockFile creates path; without flock, two workers on one data dir are
// not detected on this platform.
func lockFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
