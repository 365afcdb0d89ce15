// Command bench (package main, run as `go run ./bench`) holds Superstep's benchmarks: each workload runs the
// single-threaded baseline from bench/baseline and Superstep on the same
// input in one process, checks that the outputs are equal, and reports the
// times side by side.
package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// TextCorpus writes a file of at least size bytes of real text, assembled
// from the text files under /usr/share (licenses, documentation) repeated
// in a fixed order, and returns its path. The same machine gives the same
// file.
func TextCorpus(dir string, size int64) (string, error) {
	var sources []string
	for _, pat := range []string{"/usr/share/common-licenses/*", "/usr/share/doc/*/copyright", "/usr/share/doc/*/*.txt", "/usr/share/doc/*/README*"} {
		m, _ := filepath.Glob(pat)
		for _, f := range m {
			if info, err := os.Stat(f); err == nil && info.Mode().IsRegular() && info.Size() > 0 {
				sources = append(sources, f)
			}
		}
	}
	sort.Strings(sources)
	if len(sources) == 0 {
		return "", fmt.Errorf("bench: no text files under /usr/share")
	}
	path := filepath.Join(dir, fmt.Sprintf("text-utf8-%d.txt", size))
	if info, err := os.Stat(path); err == nil && info.Size() >= size {
		return path, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var written int64
	for written < size {
		for _, src := range sources {
			b, err := os.ReadFile(src)
			if err != nil || !utf8.Valid(b) {
				continue // Superstep's string columns are UTF-8: skip Latin-1 files
			}
			n, _ := w.Write(b)
			w.WriteByte('\n')
			written += int64(n) + 1
			if written >= size {
				break
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// Text sources of the wordcount input (--text).
const (
	TextReal      = "real"
	TextGenerated = "generated"
)

// Generated text: the seed of its generator, its vocabulary size and the
// Zipf parameters of word choice (s = 1.1, v = 1: a few words are very
// common, most rare, as in natural text).
const (
	GeneratedSeed  = 1
	generatedVocab = 50_000
	zipfS, zipfV   = 1.1, 1.0
)

// GeneratedText writes a file of exactly size bytes of synthetic text and
// returns its path: lines of 5 to 15 words drawn from a Zipf distribution
// over a vocabulary of pronounceable made-up words (consonant-vowel
// syllables). The generator has a fixed seed, so every machine writes the
// same bytes for the same size.
func GeneratedText(dir string, size int64) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("text-generated-%d.txt", size))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := writeGenerated(w, size); err != nil {
		f.Close()
		return "", err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// writeGenerated writes size bytes of generated text to w; the last line
// is cut at size (and ends in a newline when there is room for one).
func writeGenerated(w *bufio.Writer, size int64) error {
	rng := rand.New(rand.NewPCG(GeneratedSeed, 0))
	vocab := make([]string, generatedVocab)
	for i := range vocab {
		vocab[i] = syntheticWord(rng)
	}
	zipf := rand.NewZipf(rng, zipfS, zipfV, generatedVocab-1)
	var line []byte
	var written int64
	for written < size {
		line = line[:0]
		for j := range 5 + rng.IntN(11) {
			if j > 0 {
				line = append(line, ' ')
			}
			line = append(line, vocab[zipf.Uint64()]...)
		}
		line = append(line, '\n')
		if rest := size - written; int64(len(line)) > rest {
			line = line[:rest]
			if rest > 1 {
				line[rest-1] = '\n'
			}
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		written += int64(len(line))
	}
	return nil
}

var (
	consonants = []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh", "th", "st", "tr", "br"}
	vowels     = []string{"a", "e", "i", "o", "u", "ai", "ou", "ee"}
)

// syntheticWord is one to four consonant-vowel syllables, sometimes with a
// closing consonant. Words may repeat in the vocabulary; the counts then
// add up, as they would for any text.
func syntheticWord(rng *rand.Rand) string {
	var b strings.Builder
	for range 1 + rng.IntN(4) {
		b.WriteString(consonants[rng.IntN(len(consonants))])
		b.WriteString(vowels[rng.IntN(len(vowels))])
	}
	if rng.IntN(3) == 0 {
		b.WriteString(consonants[rng.IntN(len(consonants))])
	}
	return b.String()
}
