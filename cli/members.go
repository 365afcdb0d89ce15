package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/superstep/superstep/api/superstep/v1"
)

// envDuration is env for a duration flag.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env(name, "")); err == nil {
		return d
	}
	return def
}

// member is one line of `superstep members --json`.
type member struct {
	ID          string `json:"id"`
	Raft        string `json:"raft"`
	GRPC        string `json:"grpc"`
	Role        string `json:"role"`
	LastContact string `json:"last_contact,omitempty"` // RFC 3339; absent when never heard from
}

func newMembersCmd() *cobra.Command {
	var addr coordFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "members",
		Short: "list the cluster's coordinators: id, raft and gRPC address, role, last contact",
		Long: "List the coordinators of the raft group as the leader sees them (the others redirect to it).\n" +
			"--json prints an array of objects with the keys id, raft, grpc, role and last_contact.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := addr.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.CC.ListMembers(cmd.Context(), &pb.ListMembersRequest{})
			if err != nil {
				return rpcError(err)
			}
			out := []member{}
			for _, m := range resp.GetMembers() {
				row := member{ID: m.GetId(), Raft: m.GetRaftAddress(), GRPC: m.GetGrpcAddress(), Role: m.GetRole()}
				if ms := m.GetLastContactUnixMs(); ms > 0 {
					row.LastContact = time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
				}
				out = append(out, row)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "ID\tRAFT\tGRPC\tROLE\tLAST CONTACT\n")
			for i, m := range out {
				ago := "never"
				if ms := resp.GetMembers()[i].GetLastContactUnixMs(); ms > 0 {
					ago = time.Since(time.UnixMilli(ms)).Round(time.Millisecond).String() + " ago"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Raft, m.GRPC, m.Role, ago)
			}
			fmt.Fprintf(tw, "term %d\n", resp.GetTerm())
			return tw.Flush()
		},
	}
	coordinatorFlag(cmd, &addr)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
