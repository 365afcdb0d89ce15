package bsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"unsafe"
)

// ErrInput is matched by errors about the job's input: a missing file, an
// unreadable one, a malformed record. The message names the file and line
// (or byte offset).
var ErrInput = errors.New("bad input")

// InputError is an error in one input file.
type InputError struct {
	Path string
	Line int64 // 1-based; 0 when unknown
	Err  error
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}
func (e *InputError) Unwrap() []error { return []error{ErrInput, e.Err} }

// FromSlice is a dataset of the given values, cut into `partitions` splits.
// The plan captures xs: build it deterministically from the job's arguments.
func FromSlice[T any](p *Plan, xs []T, partitions int) Dataset[T] {
	if partitions < 1 {
		partitions = 1
	}
	return newDataset[T](p, &node{kind: kindSource, op: "FromSlice", detail: fmt.Sprintf("%d values", len(xs)),
		src: &sourceOp{
			splits: func(context.Context, int) ([]Split, error) {
				n := int64(len(xs))
				var out []Split
				for i := int64(0); i < int64(partitions) && n > 0; i++ {
					a, b := n*i/int64(partitions), n*(i+1)/int64(partitions)
					if b > a {
						out = append(out, Split{Start: a, End: b})
					}
				}
				return out, nil
			},
			read: func(tc *taskCtx, s Split, down any) error {
				emit := down.(func(T))
				if s.End > int64(len(xs)) {
					return fmt.Errorf("%w: split [%d,%d) of %d values", ErrPlanMismatch, s.Start, s.End, len(xs))
				}
				for _, x := range xs[s.Start:s.End] {
					if tc.stopped() {
						return nil
					}
					tc.report.RecordsIn++
					emit(x)
				}
				return nil
			},
		}})
}

// Split sizes for file sources.
const (
	minSplitBytes = 1 << 20
	maxSplitBytes = 256 << 20
)

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileSplits cuts files into splits of about total/partitions bytes (within
// [minSplitBytes, maxSplitBytes]); small files are packed together. With
// byteRanges false each file stays whole. Empty files get no split unless
// keepEmpty.
func fileSplits(paths []string, partitions int, byteRanges, keepEmpty bool) ([]Split, error) {
	return splitListing(paths, partitions, byteRanges, keepEmpty, false)
}

// splitListing is fileSplits over a listing; with all (AllFiles) no name is
// hidden and skipped entries get a FileRange of their own, with Skipped set.
func splitListing(paths []string, partitions int, byteRanges, keepEmpty, all bool) ([]Split, error) {
	files, err := listFiles(paths, all)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	target := min(max((total+int64(partitions)-1)/int64(partitions), minSplitBytes), maxSplitBytes)
	var (
		out  []Split
		cur  Split
		have int64
	)
	flush := func() {
		if len(cur.Files) > 0 {
			out = append(out, cur)
		}
		cur, have = Split{}, 0
	}
	for _, f := range files {
		size := f.size
		if f.skip != "" || size == 0 && keepEmpty {
			cur.Files = append(cur.Files, FileRange{Path: f.path, Skipped: f.skip}) // read whole: the reader decides
			continue
		}
		for off := int64(0); off < size; {
			n := size - off
			if byteRanges {
				n = min(n, target-have)
			}
			cur.Files = append(cur.Files, FileRange{Path: f.path, Start: off, End: off + n})
			off += n
			have += n
			if have >= target {
				flush()
			}
		}
	}
	flush()
	return out, nil
}

// TextLines is a dataset of the lines of text files: paths may be files,
// directories (all files below but hidden names and output markers: see
// the listing rules in listing.go) or glob patterns. Files are split by byte range at line boundaries. A line
// is the bytes up to '\n', without it; a trailing '\r' is kept; a last line
// without '\n' counts. Lines are not checked for UTF-8.
func TextLines(p *Plan, paths ...string) Dataset[string] {
	return lineSource(p, "TextLines", paths, func(line string, emit func(string)) error {
		emit(line)
		return nil
	})
}

// lineSource is a source of the records parse makes of each line of the
// files, split by byte range. An error from parse fails the task with the
// file name and line number.
func lineSource[T any](p *Plan, op string, paths []string, parse func(line string, emit func(T)) error) Dataset[T] {
	paths = slices.Clone(paths)
	return newDataset[T](p, &node{kind: kindSource, op: op, detail: strings.Join(paths, ","),
		src: &sourceOp{
			splits: func(_ context.Context, parts int) ([]Split, error) { return fileSplits(paths, parts, true, false) },
			read: func(tc *taskCtx, s Split, down any) error {
				emit := down.(func(T))
				for _, fr := range s.Files {
					err := readLines(tc, fr, func(line string, off int64) error {
						tc.report.RecordsIn++
						if err := parse(line, emit); err != nil {
							return &InputError{Path: fr.Path, Line: lineNumber(fr.Path, off), Err: err}
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
				return nil
			},
		}})
}

// WholeFiles is a dataset of file paths, one record per file (paths may be
// files, directories or globs, as for TextLines), for inputs that must be
// read whole: archives, compressed files, one document per file. Files are
// packed into splits of about equal size; empty files are included. Hidden
// names and output markers below directories are skipped (see the listing
// rules in listing.go); AllFiles keeps them.
func WholeFiles(p *Plan, paths ...string) Dataset[string] {
	return Map(fileEntries(p, false, paths...), func(e FileEntry) string { return e.Path })
}

// FileEntry is an entry below an input path: a file to read (Skipped ""),
// or an entry that is not one, with the reason (a Skip constant).
type FileEntry struct {
	Path    string
	Skipped string
}

// AllFiles is a dataset of every entry below the paths, for inputs where no
// file may go unnoticed (a web crawl, where "_index.html" and ".y.html" are
// pages): no name is hidden, symbolic links are followed with loop
// detection, and what is not a regular file (a loop, a broken link, a FIFO,
// an unreadable directory) is a record with Skipped set, for the job to
// count. Files are packed into splits as by WholeFiles.
func AllFiles(p *Plan, paths ...string) Dataset[FileEntry] {
	return fileEntries(p, true, paths...)
}

// fileEntries is AllFiles (all) or the listing of WholeFiles (!all: hidden
// names and skipped entries left out), as FileEntry records.
func fileEntries(p *Plan, all bool, paths ...string) Dataset[FileEntry] {
	paths = slices.Clone(paths)
	op := "WholeFiles"
	if all {
		op = "AllFiles"
	}
	return newDataset[FileEntry](p, &node{kind: kindSource, op: op, detail: strings.Join(paths, ","),
		src: &sourceOp{
			splits: func(_ context.Context, parts int) ([]Split, error) {
				return splitListing(paths, parts, false, true, all)
			},
			read: func(tc *taskCtx, s Split, down any) error {
				emit := down.(func(FileEntry))
				for _, fr := range s.Files {
					if tc.stopped() {
						return nil
					}
					tc.report.RecordsIn++
					emit(FileEntry{Path: fr.Path, Skipped: fr.Skipped})
				}
				return nil
			},
		}})
}

// ParseLines is TextLines with a parser: parse turns each line into zero or
// more records. An error from parse fails the job with the file name and
// line number (an *InputError matching ErrInput).
func ParseLines[T any](p *Plan, parse func(line string, emit func(T)) error, paths ...string) Dataset[T] {
	return lineSource(p, "ParseLines", paths, parse)
}

const lineChunk = 1 << 20

// readLines calls fn for every line that starts in [fr.Start, fr.End) of the
// file, with the line's byte offset. Lines are substrings of freshly
// allocated chunks, never rewritten, so fn may keep them.
func readLines(tc *taskCtx, fr FileRange, fn func(line string, off int64) error) error {
	pos := fr.Start // file offset of data[0]
	skipFirst := false
	if fr.Start > 0 {
		pos = fr.Start - 1 // the line starting at Start is ours iff byte Start-1 is '\n'
		skipFirst = true
	}
	end := int64(-1)
	if fr.End > fr.Start {
		end = fr.End
	}
	f, err := openInput(tc.ctx, fr.Path, pos, end)
	if err != nil {
		return &InputError{Path: fr.Path, Err: unwrapPathError(err)}
	}
	defer f.Close()
	var (
		data string // current chunk, data[i:] unread
		i    int
		eof  bool
	)
	fill := func() error {
		tail := len(data) - i
		buf := make([]byte, tail, max(lineChunk, 2*tail))
		copy(buf, data[i:])
		pos += int64(i)
		n, err := io.ReadFull(f, buf[tail:cap(buf)])
		buf = buf[:tail+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			eof = true
		} else if err != nil {
			return &InputError{Path: fr.Path, Err: err}
		}
		data, i = unsafe.String(unsafe.SliceData(buf), len(buf)), 0
		return nil
	}
	for {
		j := strings.IndexByte(data[i:], '\n')
		if j < 0 {
			if !eof {
				if tc.stopped() {
					return nil
				}
				if err := fill(); err != nil {
					return err
				}
				continue
			}
			if i < len(data) && !skipFirst && pos+int64(i) < fr.End {
				return fn(data[i:], pos+int64(i))
			}
			return nil
		}
		off := pos + int64(i)
		line := data[i : i+j]
		i += j + 1
		if skipFirst {
			skipFirst = false
			continue
		}
		if off >= fr.End {
			return nil
		}
		if err := fn(line, off); err != nil {
			return err
		}
		if tc.err != nil {
			return nil
		}
	}
}

// lineNumber counts the lines before byte offset off of path (for error
// messages about byte-range splits).
func lineNumber(path string, off int64) int64 {
	f, err := openInput(context.Background(), path, 0, off)
	if err != nil {
		return 0
	}
	defer f.Close()
	buf := make([]byte, 1<<16)
	var n, read int64
	for read < off {
		m, err := f.Read(buf[:min(int64(len(buf)), off-read)])
		n += int64(bytes.Count(buf[:m], []byte{'\n'}))
		read += int64(m)
		if err != nil {
			break
		}
	}
	return n + 1
}
