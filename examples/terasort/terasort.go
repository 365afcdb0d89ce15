// Package terasort generates, sorts and validates gensort-style ASCII
// records as Superstep jobs:
//
//	superstep run terasort --generate N --out DIR   # N records of 100 bytes
//	superstep run terasort --input DIR --out DIR    # sort whole records
//	superstep run terasort --validate DIR           # check order and checksum
//
// A record is a 10-byte printable key, two spaces, the record number as 32
// hex digits, two spaces, 52 filler bytes and CRLF: 100 bytes. Sorting
// compares whole records byte by byte, so the concatenated output equals
// `LC_ALL=C sort` of the input.
package terasort

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/superstep/superstep/bsp"
)

// RecordSize is the length of one record including CRLF.
const RecordSize = 100

// Job is the registered terasort job.
var Job = bsp.Register("terasort", build,
	bsp.WithDescription("generate (--generate N), sort (--input) or validate (--validate) 100-byte records"),
	bsp.WithFlags(func(fs *pflag.FlagSet) {
		fs.Int64("generate", 0, "generate this many records into --out")
		fs.StringSlice("input", nil, "records to sort (files, directories or globs); "+bsp.ListingHelp)
		fs.String("out", "", "output directory")
		fs.String("validate", "", "check that the part files of this directory are sorted; print count and checksum")
		fs.Bool("overwrite", false, "replace the output directory if it exists")
	}),
	bsp.WithDriver(func(ctx context.Context, a bsp.Args, w io.Writer) (bool, error) {
		dir := a.String("validate")
		if dir == "" {
			return false, nil
		}
		s, err := Validate(ctx, dir)
		if err != nil {
			return true, err
		}
		fmt.Fprintf(w, "records %d\nchecksum %016x\nduplicates %d\nsorted\n", s.Records, s.Checksum, s.Duplicates)
		return true, nil
	}))

func build(p *bsp.Plan, a bsp.Args) error {
	out := a.String("out")
	if out == "" {
		return errors.New("terasort: --out is required (or --validate DIR)")
	}
	var opts []bsp.Option
	if a.Bool("overwrite") {
		opts = append(opts, bsp.Overwrite())
	}
	switch n, in := a.Int64("generate"), a.Strings("input"); {
	case n > 0 && len(in) == 0:
		bsp.WriteText(Generate(p, n, p.DefaultPartitions()), out, opts...)
	case n == 0 && len(in) > 0:
		bsp.WriteText(bsp.Sort(bsp.TextLines(p, in...)), out, opts...)
	default:
		return errors.New("terasort: give exactly one of --generate N and --input PATH")
	}
	return nil
}

// Generate is a dataset of n records (without the final '\n', like lines
// read back from a file) in `parts` partitions. Record i depends only on i.
func Generate(p *bsp.Plan, n int64, parts int) bsp.Dataset[string] {
	var ranges [][2]int64
	for i := int64(0); i < int64(parts); i++ {
		if a, b := n*i/int64(parts), n*(i+1)/int64(parts); b > a {
			ranges = append(ranges, [2]int64{a, b})
		}
	}
	return bsp.FlatMap(bsp.FromSlice(p, ranges, len(ranges)), func(r [2]int64, emit func(string)) {
		buf := make([]byte, 0, 64*RecordSize)
		for i := r[0]; i < r[1]; i++ {
			buf = AppendRecord(buf, i)
			buf = buf[:len(buf)-1] // drop '\n': lines carry no newline
			emit(string(buf))
			buf = buf[:0]
		}
	})
}

// AppendRecord appends record i, CRLF included.
func AppendRecord(dst []byte, i int64) []byte {
	x := splitmix(uint64(i))
	for k := 0; k < 10; k++ {
		dst = append(dst, byte(' '+x%95))
		x /= 95
		if k == 4 {
			x = splitmix(x ^ uint64(i))
		}
	}
	dst = append(dst, ' ', ' ')
	hex := strconv.FormatUint(uint64(i), 16)
	for k := len(hex); k < 32; k++ {
		dst = append(dst, '0')
	}
	dst = append(dst, hex...)
	dst = append(dst, ' ', ' ')
	fill := byte('A' + i%26)
	for k := 0; k < 52; k++ {
		dst = append(dst, fill)
	}
	return append(dst, '\r', '\n')
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Summary is what Validate found.
type Summary struct {
	Records    int64
	Checksum   uint64 // sum of the CRC-32 of every record: independent of order
	Duplicates int64  // records equal to their predecessor
}

// ErrUnsorted is returned by Validate when a record is smaller than the one
// before it.
var ErrUnsorted = errors.New("terasort: records out of order")

// Validate reads the part files of dir in name order as one stream and
// checks that the records are in non-decreasing byte order.
func Validate(ctx context.Context, dir string) (Summary, error) {
	var s Summary
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		return s, err
	}
	if len(parts) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return s, err
		}
	}
	var prev []byte
	for _, path := range parts {
		f, err := os.Open(path)
		if err != nil {
			return s, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		for line := int64(1); ; line++ {
			rec, err := r.ReadSlice('\n')
			if err == io.EOF && len(rec) == 0 {
				break
			}
			if err != nil && err != io.EOF {
				f.Close()
				return s, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			if c := compareRecords(prev, rec); c > 0 && s.Records > 0 {
				f.Close()
				return s, fmt.Errorf("%w: %s:%d", ErrUnsorted, path, line)
			} else if c == 0 && s.Records > 0 {
				s.Duplicates++
			}
			s.Records++
			s.Checksum += uint64(crc32.ChecksumIEEE(rec))
			prev = append(prev[:0], rec...)
			if s.Records%(1<<16) == 0 && ctx.Err() != nil {
				f.Close()
				return s, ctx.Err()
			}
		}
		f.Close()
	}
	return s, nil
}

// compareRecords compares two lines without their '\n' (as sort does).
func compareRecords(a, b []byte) int {
	return bytes.Compare(bytes.TrimSuffix(a, newline), bytes.TrimSuffix(b, newline))
}

var newline = []byte{'\n'}
