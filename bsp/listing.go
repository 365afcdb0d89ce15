package bsp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/superstep/superstep/storage"
)

// Listing rules of the file sources.
//
// Paths given to a file source are files, directories or glob patterns. A
// file named explicitly (or matched by a glob) is always read. Below a
// directory, the generic sources (TextLines, ParseLines, JSONLines, CSV,
// Parquet, ArrowFiles, WholeFiles) skip exactly these names, the output
// markers and temporaries of Hadoop-style jobs and hidden files:
//
//	.*           names starting with '.' (hidden files and directories)
//	_SUCCESS     the commit marker of a job output
//	_temporary   Hadoop's in-progress output directory
//	_attempts    Superstep's in-progress output directory
//
// Every other name is read, "_x.txt" included. AllFiles skips no name.
//
// An s3://bucket/prefix path is listed the same way: the objects below the
// prefix, in name order, without the hidden names above (in any element of
// the key below the prefix); a pattern's wildcards match within one
// element. Object stores have no links or special files.
//
// Symbolic links below a directory are followed: a link to a file is read
// as that file (under the link's path); a link to a directory is walked as
// a directory, unless that directory is one of the directories being walked
// around it (a loop: Skipped "symlink-loop") or was already walked through
// another link (Skipped "symlink-duplicate"), so every walk ends. A link
// whose target does not exist is Skipped "broken-symlink"; sockets, FIFOs
// and devices are Skipped "not-regular". The generic sources leave skipped
// entries out; AllFiles gives them to the job as records.

// Reasons an entry below an input directory is not a file to read
// (FileEntry.Skipped, FileRange.Skipped).
const (
	SkipSymlinkLoop      = "symlink-loop"      // a link to a directory that contains it
	SkipSymlinkDuplicate = "symlink-duplicate" // a link to a directory already walked through another link
	SkipBrokenSymlink    = "broken-symlink"    // a link whose target does not exist or cannot be resolved
	SkipNotRegular       = "not-regular"       // a socket, FIFO or device
	SkipUnreadable       = "unreadable"        // a directory that cannot be listed (AllFiles only; other sources fail)
)

// hiddenName reports whether the generic sources skip name inside a
// directory (see the listing rules above).
func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") || name == "_SUCCESS" || name == "_temporary" || name == "_attempts"
}

// listed is one entry of a listing: a file to read (skip == "") or an entry
// skipped, with the reason.
type listed struct {
	path string
	size int64
	skip string
}

// lister expands input paths into files.
type lister struct {
	all   bool            // AllFiles: no hidden names, unreadable directories are entries
	seen  map[string]bool // paths already listed
	links map[string]bool // real paths of directories walked through a link, or being walked
	stack map[string]bool // real paths of the directories being walked (the current chain)
	out   []listed
}

// listFiles expands paths (files, directories, globs) into regular files in
// a deterministic order, following the listing rules above. With all, no
// name is hidden and skipped entries are listed with their reason;
// otherwise they are left out.
func listFiles(paths []string, all bool) ([]listed, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no input paths", ErrInput)
	}
	l := &lister{all: all, seen: map[string]bool{}, links: map[string]bool{}, stack: map[string]bool{}}
	for _, pat := range paths {
		if storage.Scheme(pat) != "" {
			if err := l.url(pat); err != nil {
				return nil, err
			}
			continue
		}
		matches := []string{pat}
		if strings.ContainsAny(pat, "*?[") {
			m, err := filepath.Glob(pat)
			if err != nil {
				return nil, &InputError{Path: pat, Err: err}
			}
			if len(m) == 0 {
				return nil, &InputError{Path: pat, Err: errors.New("no file matches the pattern")}
			}
			slices.Sort(m)
			matches = m
		}
		for _, path := range matches {
			info, err := os.Stat(path)
			if err != nil {
				return nil, &InputError{Path: path, Err: unwrapPathError(err)}
			}
			if !info.IsDir() {
				l.add(listed{path: path, size: info.Size()})
				continue
			}
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return nil, &InputError{Path: path, Err: unwrapPathError(err)}
			}
			if err := l.dir(path, real, true); err != nil {
				return nil, err
			}
		}
	}
	if !all {
		out := l.out[:0]
		for _, e := range l.out {
			if e.skip == "" {
				out = append(out, e)
			}
		}
		l.out = out
	}
	return l.out, nil
}

// url lists an object-store name (s3://bucket/key): an object, a prefix
// (a "directory": every object below it, hidden names left out by the same
// rules, applied to every element of the name below the prefix), or a
// pattern whose wildcards match within one element, as filepath.Glob.
func (l *lister) url(pat string) error {
	ctx := context.Background() // every request of the FS has its own timeout
	fsys, err := storage.For(pat)
	if err != nil {
		return &InputError{Path: pat, Err: err}
	}
	if strings.ContainsAny(pat, "*?[") {
		if _, err := path.Match(pat, ""); err != nil {
			return &InputError{Path: pat, Err: err}
		}
		base := pat[:strings.IndexAny(pat, "*?[")]
		base = base[:strings.LastIndexByte(base, '/')]
		files, err := fsys.List(ctx, base)
		if err != nil {
			return &InputError{Path: pat, Err: err}
		}
		n := 0
		for _, f := range files {
			if ok, _ := path.Match(pat, f.Name); ok {
				l.add(listed{path: f.Name, size: f.Size})
				n++
			}
		}
		if n == 0 {
			return &InputError{Path: pat, Err: errors.New("no file matches the pattern")}
		}
		return nil
	}
	info, err := fsys.Stat(ctx, pat)
	if err != nil {
		return &InputError{Path: pat, Err: unwrapPathError(err)}
	}
	if !info.IsDir {
		l.add(listed{path: storage.Clean(pat), size: info.Size})
		return nil
	}
	files, err := fsys.List(ctx, pat)
	if err != nil {
		return &InputError{Path: pat, Err: err}
	}
	for _, f := range files {
		rel, err := storage.Rel(pat, f.Name)
		if err != nil {
			return &InputError{Path: f.Name, Err: err}
		}
		if !l.all && slices.ContainsFunc(strings.Split(rel, "/"), hiddenName) {
			continue
		}
		l.add(listed{path: f.Name, size: f.Size})
	}
	return nil
}

func (l *lister) add(e listed) {
	if !l.seen[e.path] {
		l.seen[e.path] = true
		l.out = append(l.out, e)
	}
}

// dir walks directory path, whose real (link-free) path is real, in name
// order.
func (l *lister) dir(path, real string, root bool) error {
	ents, err := os.ReadDir(path)
	if err != nil {
		if l.all && !root {
			l.add(listed{path: path, skip: SkipUnreadable})
			return nil
		}
		return &InputError{Path: path, Err: unwrapPathError(err)}
	}
	l.stack[real] = true
	defer delete(l.stack, real)
	for _, e := range ents {
		name := e.Name()
		if !l.all && hiddenName(name) {
			continue
		}
		p := filepath.Join(path, name)
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			if err := l.link(p); err != nil {
				return err
			}
		case t.IsDir():
			if err := l.dir(p, filepath.Join(real, name), false); err != nil {
				return err
			}
		case t.IsRegular():
			info, err := e.Info()
			if err != nil {
				return &InputError{Path: p, Err: unwrapPathError(err)}
			}
			l.add(listed{path: p, size: info.Size()})
		default:
			l.add(listed{path: p, skip: SkipNotRegular})
		}
	}
	return nil
}

// link lists what the symbolic link p leads to.
func (l *lister) link(p string) error {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		l.add(listed{path: p, skip: SkipBrokenSymlink})
		return nil
	}
	info, err := os.Stat(target)
	switch {
	case err != nil:
		l.add(listed{path: p, skip: SkipBrokenSymlink})
	case info.IsDir() && l.stack[target]:
		l.add(listed{path: p, skip: SkipSymlinkLoop})
	case info.IsDir() && l.links[target]:
		l.add(listed{path: p, skip: SkipSymlinkDuplicate})
	case info.IsDir():
		l.links[target] = true
		return l.dir(p, target, false)
	case info.Mode().IsRegular():
		l.add(listed{path: p, size: info.Size()})
	default:
		l.add(listed{path: p, skip: SkipNotRegular})
	}
	return nil
}

// ListingHelp is what a job's --input flag help says about directories, for
// jobs that read them with the generic sources.
const ListingHelp = "s3://bucket/prefix URLs are listed like directories; below a directory, names starting with '.' and _SUCCESS, _temporary and _attempts are skipped; symbolic links are followed, loops skipped"
