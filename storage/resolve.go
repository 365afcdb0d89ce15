package storage

import (
	"fmt"
	"sync"
)

// Opener makes the FS of a URL scheme (see Register).
type Opener func() (FS, error)

var schemes struct {
	mu sync.Mutex
	// guarded by mu:
	openers map[string]Opener
	opened  map[string]FS
}

// Register makes For serve names with the URL scheme through the FS open
// returns, made on first use. It is called at init time (the S3 FS
// registers "s3") or by a process's configuration before any job runs.
func Register(scheme string, open Opener) {
	schemes.mu.Lock()
	defer schemes.mu.Unlock()
	if schemes.openers == nil {
		schemes.openers, schemes.opened = map[string]Opener{}, map[string]FS{}
	}
	schemes.openers[scheme] = open
	delete(schemes.opened, scheme)
}

// For returns the FS that serves name: Local for a path, the registered FS
// for a URL.
func For(name string) (FS, error) {
	sc := Scheme(name)
	if sc == "" {
		return Local{}, nil
	}
	schemes.mu.Lock()
	defer schemes.mu.Unlock()
	if fsys, ok := schemes.opened[sc]; ok {
		return fsys, nil
	}
	open, ok := schemes.openers[sc]
	if !ok {
		return nil, fmt.Errorf("%w: %s: no filesystem serves %s:// URLs", ErrBadName, name, sc)
	}
	fsys, err := open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	schemes.opened[sc] = fsys
	return fsys, nil
}
