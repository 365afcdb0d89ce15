// Package baseline holds the single-threaded programs Superstep is measured
// against (the COST test): what a user could write in plain Go, with no
// framework, reading the same input and producing the same output.
package baseline

import (
	"bufio"
	"io"
	"os"
	"slices"
	"strconv"
)

var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\v': true, '\f': true}

// WordCount counts the ASCII-whitespace-separated words of the files and
// writes word<TAB>count lines in byte order to w.
func WordCount(files []string, w io.Writer) error {
	counts := map[string]int64{}
	buf := make([]byte, 1<<20)
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		var carry []byte // a word cut by the chunk boundary
		for {
			n, err := f.Read(buf)
			chunk := buf[:n]
			start := 0
			if len(carry) > 0 {
				i := 0
				for i < len(chunk) && !space[chunk[i]] {
					i++
				}
				carry = append(carry, chunk[:i]...)
				if i < len(chunk) {
					counts[string(carry)]++
					carry = carry[:0]
				}
				start = i
			}
			wordStart := -1
			for i := start; i < len(chunk); i++ {
				if space[chunk[i]] {
					if wordStart >= 0 {
						counts[string(chunk[wordStart:i])]++
						wordStart = -1
					}
				} else if wordStart < 0 {
					wordStart = i
				}
			}
			if wordStart >= 0 {
				carry = append(carry, chunk[wordStart:]...)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
		if len(carry) > 0 {
			counts[string(carry)]++
		}
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	slices.Sort(words)
	bw := bufio.NewWriterSize(w, 1<<20)
	var line []byte
	for _, word := range words {
		line = append(append(line[:0], word...), '\t')
		line = strconv.AppendInt(line, counts[word], 10)
		bw.Write(append(line, '\n'))
	}
	return bw.Flush()
}
