package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// The output-commit contract. A job's tasks write their parts to
// attempt-scoped names below the output's staging directory (Output.Temp);
// the committer moves exactly one attempt per task into the staging
// directory (CommitPart) and, once every task has committed, publishes the
// output (Commit). Both verify every part at its destination, existence and
// size, and Commit writes SuccessName, the manifest of the parts, last.
// Readers trust a directory only when its SuccessName is present (see
// ReadManifest). Both steps may be repeated after a crash: work already
// done is recognised, never assumed.

// SuccessName is the file written last into a committed output. It holds
// the output's Manifest.
const SuccessName = "_SUCCESS"

// AttemptsDir is the directory below Output.Temp that holds the attempts'
// files; it is removed when the output is published.
const AttemptsDir = "_attempts"

// ManifestVersion is the version of the encoded Manifest.
const ManifestVersion = 1

// Output is one output directory being committed.
type Output struct {
	Dir       string // where the output appears
	Temp      string // where the committed parts wait; attempts write below Temp/_attempts
	Overwrite bool   // an existing Dir is replaced (otherwise ErrOutputExists)
}

// Part is one task's part of an output.
type Part struct {
	Src  string // the attempt-scoped file the task wrote (CommitPart only)
	Name string // the file's name in the output directory
	Size int64  // the bytes the task reported writing
}

// Manifest lists the parts of a committed output.
type Manifest struct {
	Version int            `json:"version"`
	Parts   []ManifestPart `json:"parts"`
}

// ManifestPart is one file of a committed output.
type ManifestPart struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

func checkPartName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") || name == SuccessName {
		return fmt.Errorf("%w: part name %q", ErrBadName, name)
	}
	return nil
}

// CommitPart moves the attempt's file p.Src into o.Temp as p.Name,
// replacing an earlier committed attempt of the same part, and verifies it
// there. p.Src must lie below o.Temp/_attempts: it names a file that came
// over the network. When p.Src is gone, the part counts as moved only if it
// is verifiably at its destination (in o.Temp, or in the published o.Dir);
// otherwise the error is a *PartError matching ErrPartMissing.
func CommitPart(ctx context.Context, fsys FS, o Output, p Part) error {
	if err := checkPartName(p.Name); err != nil {
		return err
	}
	if attempts := Join(o.Temp, AttemptsDir); !Within(attempts, p.Src) || Clean(p.Src) == Clean(attempts) {
		return fmt.Errorf("%w: attempt file %s is not below %s", ErrBadName, p.Src, attempts)
	}
	dst := Join(o.Temp, p.Name)
	src, err := fsys.Stat(ctx, p.Src)
	switch {
	case err == nil:
		if src.Size != p.Size {
			return &PartError{Name: dst, Src: p.Src, Want: p.Size, Got: src.Size, Err: ErrPartSize}
		}
		if err := fsys.Rename(ctx, p.Src, dst); err != nil {
			return &PartError{Name: dst, Src: p.Src, Want: p.Size, Err: err}
		}
		return verify(ctx, fsys, dst, p)
	case !errors.Is(err, fs.ErrNotExist):
		return &PartError{Name: dst, Src: p.Src, Want: p.Size, Err: err}
	}
	// Moved by an earlier try, or lost. Only what is found counts.
	if err := verify(ctx, fsys, dst, p); !errors.Is(err, ErrPartMissing) {
		return err
	}
	if m, err := ReadManifest(ctx, fsys, o.Dir); err == nil && m.has(p.Name, p.Size) {
		return verify(ctx, fsys, Join(o.Dir, p.Name), p)
	}
	return &PartError{Name: dst, Src: p.Src, Want: p.Size, Got: -1, Err: ErrPartMissing}
}

// verify checks that name exists with p's size.
func verify(ctx context.Context, fsys FS, name string, p Part) error {
	info, err := fsys.Stat(ctx, name)
	if errors.Is(err, fs.ErrNotExist) || err == nil && info.IsDir {
		return &PartError{Name: name, Src: p.Src, Want: p.Size, Got: -1, Err: ErrPartMissing}
	}
	if err != nil {
		return &PartError{Name: name, Src: p.Src, Want: p.Size, Err: err}
	}
	if info.Size != p.Size {
		return &PartError{Name: name, Src: p.Src, Want: p.Size, Got: info.Size, Err: ErrPartSize}
	}
	return nil
}

// Commit publishes o once all of its parts were committed: it verifies that
// every part is in o.Temp with its size, removes the attempts, and makes
// o.Dir hold exactly the parts with SuccessName, holding their manifest,
// written last. On a filesystem that renames directories (DirRenamer) the
// output appears by one rename; on others the parts are moved into o.Dir
// and SuccessName is written after all of them were verified there.
// (The copies leave the staged parts in place until then.)
//
// Repeating Commit after it succeeded, even partly, is safe; a published
// output is recognised by its manifest (the same parts and sizes; the
// manifest names no job, so that outputs stay byte-identical across runs).
func Commit(ctx context.Context, fsys FS, o Output, parts []Part) error {
	parts = slices.Clone(parts)
	slices.SortFunc(parts, func(a, b Part) int { return strings.Compare(a.Name, b.Name) })
	m := &Manifest{Version: ManifestVersion}
	for i, p := range parts {
		if err := checkPartName(p.Name); err != nil {
			return err
		}
		if i > 0 && parts[i-1].Name == p.Name {
			return fmt.Errorf("%w: part %s listed twice", ErrBadName, p.Name)
		}
		m.Parts = append(m.Parts, ManifestPart{Name: p.Name, Size: p.Size})
	}
	_, tempErr := fsys.Stat(ctx, o.Temp)
	if got, err := ReadManifest(ctx, fsys, o.Dir); err == nil && got.equal(m) &&
		(errors.Is(tempErr, fs.ErrNotExist) || !o.Overwrite) {
		// Published by an earlier try (which may have failed cleaning up):
		// the staging directory was renamed into place, or an output that
		// may not be replaced appeared with exactly these parts. (With
		// Overwrite and the parts still staged, they are published again.)
		if err := verifyAll(ctx, fsys, o.Dir, parts); err != nil {
			return err
		}
		return fsys.RemoveAll(ctx, o.Temp)
	}
	if err := tempErr; errors.Is(err, fs.ErrNotExist) {
		if len(parts) > 0 {
			return verifyAll(ctx, fsys, o.Temp, parts) // names the first missing part
		}
		if err := fsys.MkdirAll(ctx, o.Temp); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if err := verifyAll(ctx, fsys, o.Temp, parts); err != nil {
		return err
	}
	if err := fsys.RemoveAll(ctx, Join(o.Temp, AttemptsDir)); err != nil {
		return err
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if dr, ok := dirRenamer(fsys); ok {
		return publishByRename(ctx, fsys, dr, o, manifest)
	}
	return publishByCopy(ctx, fsys, o, parts, manifest)
}

func verifyAll(ctx context.Context, fsys FS, dir string, parts []Part) error {
	for _, p := range parts {
		if err := verify(ctx, fsys, Join(dir, p.Name), p); err != nil {
			return err
		}
	}
	return nil
}

func publishByRename(ctx context.Context, fsys FS, dr DirRenamer, o Output, manifest []byte) error {
	if err := WriteFile(ctx, fsys, Join(o.Temp, SuccessName), manifest); err != nil {
		return err
	}
	old := o.Temp + ".old"
	if _, err := fsys.Stat(ctx, o.Dir); err == nil {
		if !o.Overwrite {
			return fmt.Errorf("%w: %s appeared while the job ran", ErrOutputExists, o.Dir)
		}
		if err := fsys.RemoveAll(ctx, old); err != nil {
			return err
		}
		if err := dr.RenameDir(ctx, o.Dir, old); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := dr.RenameDir(ctx, o.Temp, o.Dir); err != nil {
		return err
	}
	return fsys.RemoveAll(ctx, old)
}

func publishByCopy(ctx context.Context, fsys FS, o Output, parts []Part, manifest []byte) error {
	existing, err := fsys.List(ctx, o.Dir)
	if err != nil {
		return err
	}
	if len(existing) > 0 && !ourCopies(o.Dir, existing, parts) {
		if !o.Overwrite {
			return fmt.Errorf("%w: %s appeared while the job ran", ErrOutputExists, o.Dir)
		}
		// The old output stops being trusted before any of it changes.
		if err := fsys.Remove(ctx, Join(o.Dir, SuccessName)); err != nil {
			return err
		}
		keep := map[string]bool{}
		for _, p := range parts {
			keep[Join(o.Dir, p.Name)] = true
		}
		for _, f := range existing {
			if !keep[f.Name] && Within(o.Dir, f.Name) {
				if err := fsys.Remove(ctx, f.Name); err != nil {
					return err
				}
			}
		}
	}
	if err := fsys.MkdirAll(ctx, o.Dir); err != nil {
		return err
	}
	// Copies, not moves: until SuccessName is written the staged parts stay
	// where a repeated commit finds them.
	for _, p := range parts {
		dst := Join(o.Dir, p.Name)
		if err := fsys.Copy(ctx, Join(o.Temp, p.Name), dst); err != nil {
			return &PartError{Name: dst, Src: Join(o.Temp, p.Name), Want: p.Size, Err: err}
		}
	}
	if err := verifyAll(ctx, fsys, o.Dir, parts); err != nil {
		return err
	}
	if err := WriteFile(ctx, fsys, Join(o.Dir, SuccessName), manifest); err != nil {
		return err
	}
	return fsys.RemoveAll(ctx, o.Temp)
}

// ourCopies reports whether the files of dir are copies of parts an
// earlier try of the commit made (the right names and sizes, no _SUCCESS).
func ourCopies(dir string, files []FileInfo, parts []Part) bool {
	want := map[string]int64{}
	for _, p := range parts {
		want[Join(dir, p.Name)] = p.Size
	}
	for _, f := range files {
		if size, ok := want[f.Name]; !ok || size != f.Size {
			return false
		}
	}
	return true
}

// Abort removes o's staging directory and every attempt below it; o.Dir is
// left as it was.
func Abort(ctx context.Context, fsys FS, o Output) error {
	return fsys.RemoveAll(ctx, o.Temp)
}

// ReadManifest reads the manifest of the committed output in dir. A
// directory without SuccessName is not an output: the error matches
// fs.ErrNotExist. An empty SuccessName (an output committed before
// manifests) is an empty manifest.
func ReadManifest(ctx context.Context, fsys FS, dir string) (*Manifest, error) {
	b, err := ReadFile(ctx, fsys, Join(dir, SuccessName))
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%s: bad manifest: %w", Join(dir, SuccessName), err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("%s: manifest version %d, want %d", Join(dir, SuccessName), m.Version, ManifestVersion)
	}
	return m, nil
}

func (m *Manifest) has(name string, size int64) bool {
	for _, p := range m.Parts {
		if p.Name == name {
			return p.Size == size
		}
	}
	return false
}

func (m *Manifest) equal(o *Manifest) bool {
	return m.Version == o.Version && slices.Equal(m.Parts, o.Parts)
}

// WriteFile writes data to name (visible whole, or not at all).
func WriteFile(ctx context.Context, fsys FS, name string, data []byte) error {
	w, err := fsys.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

// ReadFile reads all of name.
func ReadFile(ctx context.Context, fsys FS, name string) ([]byte, error) {
	r, err := fsys.OpenRange(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
