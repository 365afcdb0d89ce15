package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/superstep/superstep/internal/security"
)

func newCertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "make the cluster's CA, role certificates and tokens",
		Long: "A cluster is closed by default: every process speaks mutual TLS 1.3 with a certificate from the cluster's CA\n" +
			"whose role (coordinator, worker or client) says what it may do, and clients also send a bearer token.\n" +
			"`certs init --dir D` makes all of it; give every command --tls-dir D (or only its role's files).",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCertsInitCmd(), newCertsIssueCmd(), newCertsTokenCmd())
	return cmd
}

// certFlags are the options of the certificates written.
type certFlags struct {
	dir   string
	hosts string
	days  int
}

func (c *certFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.dir, "dir", env("tls-dir", ""), "directory of the CA and certificates [SUPERSTEP_TLS_DIR]")
	cmd.Flags().StringVar(&c.hosts, "hosts", "", "comma-separated DNS names and IPs the certificates are valid for (loopback is always included)")
	cmd.Flags().IntVar(&c.days, "days", 365, "days the certificates are valid")
}

func (c *certFlags) options() (security.CertOptions, error) {
	if c.dir == "" {
		return security.CertOptions{}, usagef("--dir is required")
	}
	if c.days < 1 {
		return security.CertOptions{}, usagef("--days must be at least 1, got %d", c.days)
	}
	var hosts []string
	for _, h := range strings.Split(c.hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return security.CertOptions{Hosts: hosts, Valid: time.Duration(c.days) * 24 * time.Hour}, nil
}

func newCertsInitCmd() *cobra.Command {
	var cf certFlags
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--hosts h1,h2,...] [--days N]",
		Short: "make a CA, a certificate per role and an admin token",
		Long: "Write DIR/ca.pem and ca-key.pem, DIR/coordinator.pem, worker.pem and client.pem (each with its -key.pem),\n" +
			"DIR/token (an admin token) and DIR/tokens (the hashes the coordinator accepts). Keys are mode 0600.\n" +
			"Keep ca-key.pem off the cluster's machines; hand each machine only its role's files.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := cf.options()
			if err != nil {
				return err
			}
			if err := security.Init(cf.dir, o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the CA, coordinator, worker and client certificates and an admin token to %s\n", cf.dir)
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}

func newCertsIssueCmd() *cobra.Command {
	var cf certFlags
	var role, name, out string
	cmd := &cobra.Command{
		Use:   "issue --dir DIR --role worker|coordinator|client [--name NAME] [--hosts ...] [--days N] [--out DIR]",
		Short: "add one certificate signed by the CA in DIR",
		Long: "Write DIR/NAME.pem and DIR/NAME-key.pem (NAME defaults to the role). A worker's ID is bound to the\n" +
			"certificate it first registers with: give each worker its own --name to keep them apart.\n" +
			"With --out, the certificate, its key and a copy of ca.pem go to that directory instead, and the CA\n" +
			"key stays in DIR (a Kubernetes init container issuing a worker's certificate for its pod IP).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := cf.options()
			if err != nil {
				return err
			}
			r, err := security.ParseRole(role)
			if err != nil {
				return usagef("--role: %v", err)
			}
			if name == "" {
				name = role
			}
			if out == "" {
				out = cf.dir
			}
			if err := security.IssueTo(cf.dir, out, r, name, o); err != nil {
				return err
			}
			f := security.Files{Dir: out}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", f.Cert(name), f.Key(name))
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&role, "role", "", "worker, coordinator or client (required)")
	cmd.Flags().StringVar(&name, "name", "", "file name and certificate common name (default: the role)")
	cmd.Flags().StringVar(&out, "out", "", "write the certificate, its key and ca.pem to this directory (default: --dir)")
	return cmd
}

func newCertsTokenCmd() *cobra.Command {
	var dir, role, name string
	cmd := &cobra.Command{
		Use:   "token --dir DIR --role submit|admin --name NAME",
		Short: "make a bearer token and add its hash to DIR/tokens",
		Long: "Print a new token once and append its SHA-256, role and holder NAME to DIR/tokens, which the coordinator\n" +
			"rereads when it changes (delete the line to revoke). A submit token submits jobs and sees, watches and\n" +
			"cancels only the jobs it submitted; an admin token does everything.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("--dir is required")
			}
			r, err := security.ParseTokenRole(role)
			if err != nil {
				return usagef("--role: %v", err)
			}
			tok, err := security.NewToken()
			if err != nil {
				return err
			}
			if err := security.AddToken(security.Files{Dir: dir}.Tokens(), tok, r, name); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", env("tls-dir", ""), "directory holding the coordinator's tokens file [SUPERSTEP_TLS_DIR]")
	cmd.Flags().StringVar(&role, "role", "submit", "submit or admin")
	cmd.Flags().StringVar(&name, "name", "", "who holds the token (required; owns the jobs it submits)")
	return cmd
}
