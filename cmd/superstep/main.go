// Command superstep is the Superstep command line with the example jobs.
package main

import (
	"os"

	"github.com/superstep/superstep/cli"
	_ "github.com/superstep/superstep/examples/graph"
	_ "github.com/superstep/superstep/examples/rmat"
	_ "github.com/superstep/superstep/examples/terasort"
	_ "github.com/superstep/superstep/examples/webindex"
	_ "github.com/superstep/superstep/examples/wordcount"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
