package cli

import (
	"io"
	"sync"

	"github.com/spf13/cobra"
)

// Commands of packages other than cli: an example registers its own CLI
// commands just as it registers its job (bsp.Register), from a
// package-level var or init, and every root NewRoot builds has them. A
// user binary gets an example's commands exactly when it links the
// example in.
var registry struct {
	mu   sync.Mutex // guards news
	news []func() *cobra.Command
}

// RegisterCommand adds a top-level command to every root that NewRoot
// builds after the call; newCmd makes a fresh command each time (cobra
// commands hold their flag values, so roots must not share one). Commands
// appear in registration order, after the built-in ones. It is safe for
// concurrent use.
func RegisterCommand(newCmd func() *cobra.Command) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	registry.news = append(registry.news, newCmd)
}

// registered makes the registered commands for one root.
func registered() []*cobra.Command {
	registry.mu.Lock()
	news := append([]func() *cobra.Command(nil), registry.news...)
	registry.mu.Unlock()
	cmds := make([]*cobra.Command, len(news))
	for i, f := range news {
		cmds[i] = f()
	}
	return cmds
}

// Usagef is an error in how a command was called: Main prints it and exits
// with the usage status (2) rather than 1.
func Usagef(format string, args ...any) error { return usagef(format, args...) }

// FormatBytes prints a byte count with a binary unit ("1.5 MiB"), as the
// built-in commands do.
func FormatBytes(n int64) string { return formatBytes(n) }

// PrintJSON writes v as indented JSON, as the built-in commands' --json.
func PrintJSON(w io.Writer, v any) error { return printJSON(w, v) }
