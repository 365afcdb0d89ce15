//go:build !unix

package index

import "os"

// mapFile reads a file whole where mmap is not available.
func mapFile(path string) ([]byte, func() error, error) {
	b, err := os.ReadFile(path)
	return b, func() error { return nil }, err
}
