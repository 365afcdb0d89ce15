package security

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// TokenRole is what a bearer token lets a client do.
type TokenRole string

// The token roles. A submit token submits jobs and sees, watches and
// cancels the jobs it submitted; an admin token does everything.
const (
	TokenSubmit TokenRole = "submit"
	TokenAdmin  TokenRole = "admin"
)

// ParseTokenRole parses a token --role value.
func ParseTokenRole(s string) (TokenRole, error) {
	switch TokenRole(s) {
	case TokenSubmit, TokenAdmin:
		return TokenRole(s), nil
	}
	return "", fmt.Errorf("unknown token role %q (submit or admin)", s)
}

// Tokens are created by `superstep certs init` (one admin token, in
// DIR/token) and `superstep certs token --role submit|admin --name NAME`
// (printed once). A token is "sst_" and 64 hex digits of randomness; the
// coordinator keeps only its SHA-256, in DIR/tokens, one line per token:
// "HASH ROLE NAME". NAME identifies the token's holder: the jobs a submit
// token creates belong to it. Deleting a line revokes the token (the file
// is reread when it changes).

// ErrBadToken means a request carried no token or one the coordinator
// does not know.
var ErrBadToken = errors.New("unknown or missing bearer token")

const tokenPrefix = "sst_"

// NewToken returns a fresh random token.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return tokenPrefix + hex.EncodeToString(b[:]), nil
}

func hashToken(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// AddToken appends tok's hash, role and holder name to the tokens file
// (created mode 0600).
func AddToken(path, tok string, role TokenRole, name string) error {
	if _, err := ParseTokenRole(string(role)); err != nil {
		return err
	}
	if err := ValidName("token holder", name); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s %s %s\n", hashToken(tok), role, name); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadToken reads a token file (DIR/token, --token-file): its first line.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%s: empty token file", path)
	}
	return tok, nil
}

// Principal is who a token belongs to.
type Principal struct {
	Name string
	Role TokenRole
}

// TokenStore checks tokens against a tokens file, rereading it when its
// modification time or size changes.
type TokenStore struct {
	path string

	mu    sync.Mutex // guards the fields below
	stamp fileStamp
	byHas map[string]Principal
	err   error
}

// NewTokenStore reads the tokens file at path.
func NewTokenStore(path string) (*TokenStore, error) {
	s := &TokenStore{path: path}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Lookup returns the holder of tok.
func (s *TokenStore) Lookup(tok string) (Principal, error) {
	m, err := s.load()
	if err != nil {
		return Principal{}, err
	}
	if p, ok := m[hashToken(tok)]; ok && tok != "" {
		return p, nil
	}
	return Principal{}, ErrBadToken
}

func (s *TokenStore) load() (map[string]Principal, error) {
	st := stampOf(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byHas != nil && st == s.stamp {
		return s.byHas, s.err
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		if s.byHas != nil {
			return s.byHas, nil // keep the last good list while the file is being replaced
		}
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	m := map[string]Principal{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || len(f[0]) != 64 {
			return nil, fmt.Errorf("%s:%d: want HASH ROLE NAME", s.path, n)
		}
		role, err := ParseTokenRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", s.path, n, err)
		}
		m[f[0]] = Principal{Name: f[2], Role: role}
	}
	s.byHas, s.stamp = m, st
	return m, nil
}

// fileStamp tells whether a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}
