package baseline

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"slices"
)

// SortLines is the single-threaded terasort: it reads every line of the
// files into memory, sorts the lines (without their '\n') in byte order and
// writes them, each followed by '\n', to w.
func SortLines(files []string, w io.Writer) error {
	var data []byte
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		data = append(data, b...)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
	}
	lines := make([][]byte, 0, len(data)/100+1)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		lines = append(lines, data[:i])
		data = data[i+1:]
	}
	slices.SortFunc(lines, bytes.Compare)
	bw := bufio.NewWriterSize(w, 1<<20)
	for _, l := range lines {
		bw.Write(l)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
