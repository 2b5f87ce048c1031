/*
Copyright 2026 The Sweep Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command sweep is the Sweep operator and its tools in one binary:
//
//	sweep manager   run the controllers (the operator's Deployment runs this)
//	sweep collect   run one visit (a visit Job's pod runs this)
//	sweep import    create or update Buildings from the district's ledger (CSV)
//	sweep status    show a round as a tree, live with --watch
//	sweep missed    list the missed households of a round (csv, json)
//	sweep report    one day's figures of every district, for the daily report (csv)
//	sweep version   print the version
//
// Installed as kubectl-sweep on the PATH it is a kubectl plugin:
// `kubectl sweep status ROUND -n DISTRICT`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

func main() {
	os.Exit(mainCode())
}

// mainCode runs the command and returns the exit code, so that deferred
// clean-up runs before the process exits.
func mainCode() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &cli{out: os.Stdout, errOut: os.Stderr, prog: progName(os.Args[0]), tty: isTerminal(os.Stdout)}
	if err := app.run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.prog, err)
		return 1
	}
	return 0
}

// progName is how the binary names itself in messages: "kubectl sweep"
// when kubectl runs it as the plugin kubectl-sweep.
func progName(argv0 string) string {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	if base == "kubectl-sweep" {
		return "kubectl sweep"
	}
	return "sweep"
}

// cli is one invocation: where its output goes, so tests capture it.
type cli struct {
	out, errOut io.Writer
	prog        string
	// tty says whether out is a terminal (colour, redrawing with --watch).
	tty bool
	// now is the time, time.Now when nil; tests fix it.
	now func() time.Time
}

func (c *cli) run(ctx context.Context, args []string) error {
	err := c.dispatch(ctx, args)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		c.usage()
		return fmt.Errorf("a subcommand is required")
	}
	switch args[0] {
	case "manager":
		return runManager(args[1:])
	case "collect":
		return runCollect(args[1:])
	case "status":
		return c.runStatus(ctx, args[1:])
	case "import":
		return c.runImport(ctx, args[1:])
	case "missed":
		return c.runMissed(ctx, args[1:])
	case "report":
		return c.runReport(ctx, args[1:])
	case "version":
		fmt.Fprintln(c.out, version)
		return nil
	case "help", "-h", "--help":
		c.usage()
		return nil
	default:
		c.usage()
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
}

func (c *cli) usage() {
	fmt.Fprintf(c.errOut, `Usage: %[1]s <subcommand> [flags]

Subcommands:
  manager   run the Sweep controllers
  collect   run one visit of a building (in a visit Job's pod)
  import    create or update Buildings from the district's ledger (CSV); --dry-run shows the changes
  status    show a round as a tree: communities, buildings, progress, ETA (--watch)
  missed    list a round's missed households per building (-o csv|json)
  report    one day's figures of every district you may read (-o csv, --date)
  version   print the version

Run "%[1]s <subcommand> -h" for the flags of one subcommand. import, status,
missed and report take kubectl's flags: -n/--namespace, --context, --kubeconfig.
`, c.prog)
}
