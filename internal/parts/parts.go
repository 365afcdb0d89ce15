// Package parts reads a job's output directory back: its part files in
// partition order, as one stream.
package parts

import (
	"os"
	"path/filepath"
)

// Concat returns the contents of dir's part-* files, concatenated in name
// (partition) order.
func Concat(dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		return nil, err
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, b...)
	}
	return all, nil
}
