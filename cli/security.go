package cli

import (
	"github.com/spf13/pflag"

	"github.com/superstep/superstep/internal/security"
)

// tlsFlags are --tls-dir, --token-file and --insecure. Every command given
// --tls-dir DIR uses its own role's files from DIR (DIR/ROLE.pem,
// DIR/ROLE-key.pem, DIR/ca.pem); a client also reads DIR/token unless
// --token-file names another, and a coordinator reads DIR/tokens.
type tlsFlags struct {
	dir       string
	tokenFile string
	insecure  bool
}

func (t *tlsFlags) register(fs *pflag.FlagSet, server bool) {
	fs.StringVar(&t.dir, "tls-dir", env("tls-dir", ""), "`DIR` of the cluster's certificates, made by superstep certs init [SUPERSTEP_TLS_DIR]")
	if server {
		fs.BoolVar(&t.insecure, "insecure", env("insecure", "") == "true",
			"allow listening on a non-loopback address without TLS [SUPERSTEP_INSECURE]")
		return
	}
	fs.StringVar(&t.tokenFile, "token-file", env("token-file", ""), "file holding the bearer token (default TLS_DIR/token) [SUPERSTEP_TOKEN_FILE]")
}

// load returns the TLS material of role (nil without --tls-dir).
func (t *tlsFlags) load(role security.Role) (*security.TLS, error) {
	if t.dir == "" {
		return nil, nil
	}
	return security.LoadTLS(t.dir, role)
}

// tokens is the coordinator's tokens file (nil without --tls-dir).
func (t *tlsFlags) tokens() (*security.TokenStore, error) {
	if t.dir == "" {
		return nil, nil
	}
	return security.NewTokenStore(security.Files{Dir: t.dir}.Tokens())
}

// client returns the client certificate and token named by the flags:
// TLS_DIR/client.pem and TLS_DIR/token unless --token-file names another.
func (t *tlsFlags) client() (*security.TLS, string, error) {
	tl, err := t.load(security.RoleClient)
	if err != nil {
		return nil, "", err
	}
	tokFile := t.tokenFile
	if tokFile == "" && t.dir != "" {
		tokFile = security.Files{Dir: t.dir}.Token()
	}
	if tokFile == "" {
		return tl, "", nil
	}
	tok, err := security.ReadToken(tokFile)
	if err != nil {
		return nil, "", usagef("--token-file: %v", err)
	}
	return tl, tok, nil
}

// anyRole loads the files of the first role found in --tls-dir (client,
// worker, coordinator): a probe runs on a machine that holds only its
// own role's files.
func (t *tlsFlags) anyRole() (*security.TLS, error) {
	if t.dir == "" {
		return nil, nil
	}
	var first error
	for _, r := range []security.Role{security.RoleClient, security.RoleWorker, security.RoleCoordinator} {
		tl, err := security.LoadTLS(t.dir, r)
		if err == nil {
			return tl, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}
