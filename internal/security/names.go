package security

import (
	"errors"
	"fmt"
)

// MaxNameLen is the longest job or worker name accepted.
const MaxNameLen = 64

// ErrBadName matches every error of ValidName.
var ErrBadName = errors.New("invalid name")

// ValidName checks a job or worker ID that came from outside the process:
// 1 to 64 characters of [A-Za-z0-9._-], and neither "." nor "..", so that
// the name can be joined to a directory without leaving it. kind ("job",
// "worker") names the field in the error.
func ValidName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s id", ErrBadName, kind)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %s id of %d characters (at most %d): %.20q…", ErrBadName, kind, len(name), MaxNameLen, name)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %s id %q", ErrBadName, kind, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %s id %q has %q at byte %d (allowed: A-Z a-z 0-9 . _ -)", ErrBadName, kind, name, c, i)
		}
	}
	return nil
}
