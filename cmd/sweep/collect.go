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
	"os"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/masstesting/sweep/internal/collector"
)

// runCollect runs one visit: the assignment comes from the environment the
// operator set on the pod (see internal/collector/assignment.go), the
// report goes to the CollectionJob's status. A non-zero exit tells the
// operator the visit failed.
func runCollect(args []string) (err error) {
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	termLog := fs.String("termination-log", "/dev/termination-log",
		"file the error goes to when the visit fails: the container's terminationMessagePath, which the operator reads into the CollectionJob's condition")
	if err := parseStdFlags(fs, args); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			writeTerminationMessage(*termLog, err)
		}
	}()
	a, err := collector.FromEnv(collector.OSLookup)
	if err != nil {
		return err
	}
	src, err := collector.SourceFor(a)
	if err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	c, err := collector.NewClient(cfg)
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

// maxTerminationMessage is what the kubelet keeps of a termination message
// (4096 bytes); the collector's errors name lines and fields, never a
// resident, and are short.
const maxTerminationMessage = 4096

// writeTerminationMessage writes err where the kubelet picks it up as the
// container's termination message. The file is the kubelet's: outside a
// pod it does not exist and nothing is written.
func writeTerminationMessage(path string, err error) {
	msg := err.Error()
	if len(msg) > maxTerminationMessage {
		msg = strings.ToValidUTF8(msg[:maxTerminationMessage-3], "") + "..."
	}
	f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if ferr != nil {
		return
	}
	_, _ = f.WriteString(msg)
	_ = f.Close()
}
