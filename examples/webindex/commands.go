package webindex

import "github.com/superstep/superstep/cli"

// The commands that read an index are the example's own: a binary that
// links webindex in gets them, as it gets the job.
func init() {
	cli.RegisterCommand(newSearchCmd)
	cli.RegisterCommand(newServeCmd)
	cli.RegisterCommand(newIndexCmd)
}
