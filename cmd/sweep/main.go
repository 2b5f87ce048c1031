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
//	sweep status    show a round, live with --watch
//	sweep version   print the version
//
// Later subcommands (import, missed) join this list as they are built.
package main

import (
	"fmt"
	"os"
	// The operator's image is distroless, without /usr/share/zoneinfo:
	// TestingSchedules read their timeZone from the database built in.
	_ "time/tzdata"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		usage()
		return fmt.Errorf("a subcommand is required")
	}
	switch args[0] {
	case "manager":
		return runManager(args[1:])
	case "collect":
		return runCollect(args[1:])
	case "status":
		return runStatus(args[1:])
	case "version":
		fmt.Println(version)
		return nil
	case "help", "-h", "--help":
		usage()
		return nil
	default:
		usage()
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
}

// newClient is a client for the cluster of the kubeconfig (KUBECONFIG, or
// the pod's service account in a cluster).
func newClient() (client.Client, error) {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	return client.New(cfg, client.Options{Scheme: newScheme()})
}

func usage() {
	fmt.Fprint(os.Stderr, `Usage: sweep <subcommand> [flags]

Subcommands:
  manager   run the Sweep controllers
  collect   run one visit of a building (in a visit Job's pod)
  status    show a round: progress, buildings by phase, lagging buildings (--watch)
  version   print the version

Run "sweep <subcommand> -h" for the flags of one subcommand.
`)
}
