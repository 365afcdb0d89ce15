package cli_test

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/superstep/superstep/cli"
)

// TestRegisterCommand: a registered command is on every new root, each
// root with a command of its own, and its usage errors exit with 2.
func TestRegisterCommand(t *testing.T) {
	made := 0
	cli.RegisterCommand(func() *cobra.Command {
		made++
		var name string
		cmd := &cobra.Command{Use: "hello-test", RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return cli.Usagef("--name is required")
			}
			cmd.Println("hello " + name)
			return nil
		}}
		cmd.Flags().StringVar(&name, "name", "", "who")
		return cmd
	})
	out, _, err := run(t, "hello-test", "--name", "bsp")
	if err != nil || strings.TrimSpace(out) != "hello bsp" {
		t.Fatalf("hello-test: %q, %v", out, err)
	}
	// A second root gets a fresh command: the flag value is not shared.
	if _, _, err := run(t, "hello-test"); err == nil || err.Error() != "--name is required" {
		t.Fatalf("second root: %v", err)
	}
	if made != 2 {
		t.Fatalf("command made %d times for 2 roots", made)
	}
	if code := cli.Main([]string{"hello-test"}); code != 2 {
		t.Fatalf("usage error exit code %d, want 2", code)
	}
}
