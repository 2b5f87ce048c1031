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

package main

import (
	"errors"
	"flag"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kubeFlags are kubectl's own connection flags (-n/--namespace, --context,
// --kubeconfig, --as, --server, ...), so that `kubectl sweep` behaves like
// every other kubectl command and plugin.
type kubeFlags struct {
	cf *genericclioptions.ConfigFlags
}

func addKubeFlags(fs *pflag.FlagSet) *kubeFlags {
	cf := genericclioptions.NewConfigFlags(true)
	cf.AddFlags(fs)
	return &kubeFlags{cf: cf}
}

// client returns a client and the namespace: -n, or the kubeconfig
// context's namespace, or "default", as kubectl picks it.
func (k *kubeFlags) client() (client.Client, string, error) {
	cfg, err := k.cf.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w", err)
	}
	// client-go's default of 5 requests/s would take half an hour to import
	// a district of 5,000 buildings (a dry run and an apply per row). As for
	// the manager, API Priority and Fairness on the server, not this client,
	// protects the cluster.
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 500, 1000
	}
	ns, _, err := k.cf.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	// The ops commands report every error they meet themselves; without a
	// logger controller-runtime would print a stack trace after 30 s.
	quietLogs.Do(func() { ctrl.SetLogger(logr.Discard()) })
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

var quietLogs sync.Once

// parseFlags parses args, printing usage for -h; errHelp says the user
// asked for help, which is not a failure.
func (c *cli) parseFlags(fs *pflag.FlagSet, args []string) error {
	fs.SetOutput(c.errOut)
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return errHelp
	}
	return err
}

var errHelp = errors.New("help requested")

// parseStdFlags is parseFlags for the commands whose flags are the standard
// library's (manager and collect, for zap's and controller-runtime's flag
// bindings): -h prints their usage and is not a failure either.
func parseStdFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return err
}
