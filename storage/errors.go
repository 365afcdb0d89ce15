package storage

import (
	"errors"
	"fmt"
)

// Errors of the commit contract. A job whose commit returns one of them has
// not produced its output; it is not safe to retry the commit as is.
var (
	// ErrPartMissing: a committed part is neither at its attempt path nor
	// at its destination (for example, the worker wrote it to a disk the
	// coordinator does not share).
	ErrPartMissing = errors.New("storage: committed part missing")
	// ErrPartSize: a part is not the size its task reported.
	ErrPartSize = errors.New("storage: committed part has the wrong size")
	// ErrOutputExists: the output appeared while the job ran and may not be
	// replaced.
	ErrOutputExists = errors.New("storage: output already exists")
	// ErrBadName: a name is not one this FS serves, or escapes the
	// directory it must stay in.
	ErrBadName = errors.New("storage: bad name")
)

// PartError is a commit failure of one part.
type PartError struct {
	Name string // the destination
	Src  string // the attempt's file
	Want int64  // the size the task reported
	Got  int64  // the size found (-1: missing)
	Err  error  // ErrPartMissing or ErrPartSize, or an I/O error
}

func (e *PartError) Error() string {
	switch {
	case errors.Is(e.Err, ErrPartMissing):
		return fmt.Sprintf("part %s: not at %s nor at its attempt path %s (is the output on storage the coordinator and every worker share?)",
			Base(e.Name), e.Name, e.Src)
	case errors.Is(e.Err, ErrPartSize):
		return fmt.Sprintf("part %s: %d bytes, but its task wrote %d", e.Name, e.Got, e.Want)
	}
	return fmt.Sprintf("part %s: %v", e.Name, e.Err)
}

func (e *PartError) Unwrap() error { return e.Err }
