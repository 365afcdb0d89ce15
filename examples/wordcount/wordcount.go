// Package wordcount is the classic word count as a Superstep job:
//
//	superstep run wordcount --input PATH_OR_GLOB --out DIR [--format tsv|parquet] [--lower] [--letters]
//
// By default a word is a maximal run of bytes other than ASCII whitespace
// (space, \t, \n, \r, \v, \f), compared byte for byte, so the TSV output
// (word<TAB>count, in byte order) equals
// `LC_ALL=C tr -s ' \t\n\r\v\f' '\n' < input | sort | uniq -c`.
package wordcount

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/superstep/superstep/bsp"
)

// Job is the registered wordcount job.
var Job = bsp.Register("wordcount", build,
	bsp.WithDescription("count words in text files; output word<TAB>count sorted by word"),
	bsp.WithFlags(func(fs *pflag.FlagSet) {
		fs.StringSlice("input", nil, "input files, directories or globs (required); "+bsp.ListingHelp)
		fs.String("out", "", "output directory (required)")
		fs.String("format", "tsv", "output format: tsv or parquet")
		fs.Bool("lower", false, "fold words to lower case")
		fs.Bool("letters", false, "words are maximal runs of Unicode letters instead of non-whitespace")
		fs.Bool("overwrite", false, "replace the output directory if it exists")
	}))

// Count is one output record.
type Count = bsp.KV[string, int64]

func build(p *bsp.Plan, a bsp.Args) error {
	if len(a.Strings("input")) == 0 || a.String("out") == "" {
		return fmt.Errorf("wordcount: --input and --out are required")
	}
	counts := Counts(bsp.TextLines(p, a.Strings("input")...), a.Bool("lower"), a.Bool("letters"))
	var opts []bsp.Option
	if a.Bool("overwrite") {
		opts = append(opts, bsp.Overwrite())
	}
	switch a.String("format") {
	case "tsv":
		// Words are written as their bytes are (no TSV escaping): they never
		// hold a tab or newline, and the output must equal coreutils'.
		bsp.WriteText(bsp.Map(counts, func(c Count) string {
			return c.Key + "\t" + strconv.FormatInt(c.Value, 10)
		}), a.String("out"), opts...)
	case "parquet":
		bsp.WriteParquet(counts, a.String("out"), opts...)
	default:
		return fmt.Errorf("wordcount: --format must be tsv or parquet, not %q", a.String("format"))
	}
	return nil
}

// Counts returns the words of lines with their counts, globally sorted by
// word.
func Counts(lines bsp.Dataset[string], lower, letters bool) bsp.Dataset[Count] {
	var words bsp.Dataset[Count]
	if letters || lower {
		split := Fields
		if letters {
			split = LetterRuns
		}
		words = bsp.FlatMap(lines, func(line string, emit func(Count)) {
			split(line, func(w string) {
				if lower {
					w = strings.ToLower(w)
				}
				emit(Count{Key: w, Value: 1})
			})
		})
	} else {
		// The default path loops inline: no closure per line, no allocation.
		words = bsp.FlatMap(lines, func(line string, emit func(Count)) {
			for i := 0; ; {
				w, next := NextField(line, i)
				if next < 0 {
					return
				}
				emit(Count{Key: w, Value: 1})
				i = next
			}
		})
	}
	counts := bsp.ReduceByKey(words, func(a, b int64) int64 { return a + b })
	return bsp.SortBy(counts, func(c Count) string { return c.Key })
}

// asciiSpace marks the bytes that separate words.
var asciiSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\v': true, '\f': true}

// NextField returns the first maximal run of non-ASCII-whitespace bytes of
// s at or after byte i, and the index to continue from; next is -1 when
// there is none.
func NextField(s string, i int) (word string, next int) {
	for i < len(s) && asciiSpace[s[i]] {
		i++
	}
	if i == len(s) {
		return "", -1
	}
	start := i
	for i < len(s) && !asciiSpace[s[i]] {
		i++
	}
	return s[start:i], i
}

// Fields calls emit with every field of s (see NextField), as substrings of
// s (no allocation).
func Fields(s string, emit func(string)) {
	for i := 0; ; {
		w, next := NextField(s, i)
		if next < 0 {
			return
		}
		emit(w)
		i = next
	}
}

// LetterRuns calls emit with every maximal run of Unicode letters of s.
// Invalid UTF-8 bytes separate words.
func LetterRuns(s string, emit func(string)) {
	start := -1
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		letter := r != utf8.RuneError && unicode.IsLetter(r)
		switch {
		case letter && start < 0:
			start = i
		case !letter && start >= 0:
			emit(s[start:i])
			start = -1
		}
		i += n
	}
	if start >= 0 {
		emit(s[start:])
	}
}
