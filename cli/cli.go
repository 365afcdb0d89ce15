// Package cli is the `superstep` command line: the built-in subcommands live
// here so that a user binary with its own jobs can reuse it (its main
// registers jobs and calls Main); a package with jobs of its own may add
// its own commands too (RegisterCommand), as the webindex example adds
// search, serve and index.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// exitInterrupted is the exit code after Ctrl-C (128 + SIGINT).
const exitInterrupted = 130

// interruptedError marks a command stopped by Ctrl-C or SIGTERM.
type interruptedError struct{ error }

func (e interruptedError) Unwrap() error { return e.error }

// usageError marks errors in how the command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot(os.Stdout, os.Stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "superstep: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ie interruptedError
	if errors.As(err, &ie) {
		return exitInterrupted
	}
	return exitError
}

// NewRoot returns the root command writing results to stdout and diagnostics
// to stderr.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "superstep",
		Short: "Superstep: a Bulk Synchronous Parallel compute framework",
		Long: `Superstep runs dataflow jobs as a sequence of supersteps: every task of a
superstep runs over its partition, all meet at a barrier, and data is shuffled
by key into the next superstep.

Start with:
  superstep run wordcount --input README.md,docs --out /tmp/wc
  superstep explain wordcount --input README.md,docs --out /tmp/wc`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCmd(), newExplainCmd(), newCoordinatorCmd(), newWorkerCmd(), newSubmitCmd(),
		newJobsCmd(), newStatusCmd(), newCancelCmd(), newWorkersCmd(), newMembersCmd(), newHealthCmd())
	root.AddCommand(newCertsCmd())
	root.AddCommand(registered()...)
	return root
}
