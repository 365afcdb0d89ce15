// Package parts reads a job's output directory back: its part files in
// partition order, as one stream.
package parts

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/superstep/superstep/storage"
)

// Concat returns the contents of dir's part-* files, concatenated in name
// (partition) order. dir may be a URL (s3://bucket/prefix).
func Concat(dir string) ([]byte, error) {
	if storage.Scheme(dir) != "" {
		return concatURL(dir)
	}
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

func concatURL(dir string) ([]byte, error) {
	ctx := context.Background()
	fsys, err := storage.For(dir)
	if err != nil {
		return nil, err
	}
	files, err := fsys.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	var all []byte
	for _, f := range files { // in name order
		if storage.Dir(f.Name) != storage.Clean(dir) || !strings.HasPrefix(storage.Base(f.Name), "part-") {
			continue
		}
		b, err := storage.ReadFile(ctx, fsys, f.Name)
		if err != nil {
			return nil, err
		}
		all = append(all, b...)
	}
	return all, nil
}
