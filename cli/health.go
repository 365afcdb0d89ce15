package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/superstep/superstep/internal/security"
)

// newHealthCmd is the readiness check of containers and probes: scratch
// images have no shell or curl, so the binary asks the standard gRPC health
// service of a coordinator or worker itself.
func newHealthCmd() *cobra.Command {
	var addr string
	var timeout time.Duration
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:   "health --addr HOST:PORT",
		Short: "exit 0 when the coordinator or worker at --addr answers that it is serving",
		Long: "Ask the gRPC health service (grpc.health.v1) of a coordinator or worker whether it serves.\n" +
			"Exit status 0: serving; 1: not serving, unreachable or no answer within --timeout.\n" +
			"For container health checks and Kubernetes probes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" {
				return usagef("--addr is required")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			tl, err := tf.anyRole()
			if err != nil {
				return err
			}
			status, err := checkHealth(ctx, addr, tl)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", addr, status)
			if status != healthpb.HealthCheckResponse_SERVING {
				return fmt.Errorf("%s is %s", addr, status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", env("health-addr", ""), "address of the coordinator or worker [SUPERSTEP_HEALTH_ADDR]")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	cmd.Flags().StringVar(&tf.dir, "tls-dir", env("tls-dir", ""), "directory of certificates; any role's files found there are used [SUPERSTEP_TLS_DIR]")
	return cmd
}

func checkHealth(ctx context.Context, addr string, tl *security.TLS) (healthpb.HealthCheckResponse_ServingStatus, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(tl.ClientCreds(security.Roles...)),
		grpc.WithDisableServiceConfig()) // no DNS TXT lookup (see redirect.Dial)
	if err != nil {
		return 0, fmt.Errorf("health %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return 0, fmt.Errorf("health %s: %w", addr, rpcError(err))
	}
	return resp.GetStatus(), nil
}
