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
	"flag"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/masstesting/sweep/internal/collector"
)

// runCollect runs one visit: the assignment comes from the environment the
// operator set on the pod (see internal/collector/assignment.go), the
// report goes to the CollectionJob's status. A non-zero exit tells the
// operator the visit failed.
func runCollect(args []string) error {
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := collector.FromEnv(collector.OSLookup)
	if err != nil {
		return err
	}
	src, err := collector.SourceFor(a)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	if err := collector.Run(ctx, a, src, collector.StatusReporter{Client: c}); err != nil {
		return err
	}
	fmt.Printf("visit %d of %s/%s reported\n", a.Visit, a.Namespace, a.Building)
	return nil
}
