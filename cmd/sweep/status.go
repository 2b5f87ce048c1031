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
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/statusview"
)

// runStatus shows a round: once, or refreshed until it ends (--watch), then
// its summary with the missed households of each building.
func runStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	ns := fs.String("n", "default", "namespace of the round")
	watch := fs.Bool("watch", false, "refresh until the round ends, then print its summary")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval with --watch")
	timeout := fs.Duration("timeout", 0, "with --watch, give up after this long (0: never)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: sweep status [-n namespace] [--watch] ROUND")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("status needs exactly one round name")
	}
	name := fs.Arg(0)
	c, err := newClient()
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	tty := isTerminal(os.Stdout)
	for {
		var tr sweepv1alpha1.TestingRound
		if err := c.Get(ctx, client.ObjectKey{Namespace: *ns, Name: name}, &tr); err != nil {
			return fmt.Errorf("reading round %s/%s: %w", *ns, name, err)
		}
		var jobs sweepv1alpha1.CollectionJobList
		if err := c.List(ctx, &jobs, client.InNamespace(*ns), client.MatchingLabels{sweepv1alpha1.LabelRound: round.LabelValue(name)}); err != nil {
			return fmt.Errorf("listing the round's jobs: %w", err)
		}
		var buf bytes.Buffer
		statusview.Render(&buf, &tr, jobs.Items, time.Now())
		if tty && *watch {
			fmt.Print("\033[H\033[2J")
		} else if *watch {
			fmt.Println("----", time.Now().Format("15:04:05"))
		}
		fmt.Print(buf.String())
		if round.Final(tr.Status.Phase) || !*watch {
			if round.Final(tr.Status.Phase) {
				fmt.Println()
				statusview.Summary(os.Stdout, &tr, jobs.Items)
			}
			if tr.Status.Phase == sweepv1alpha1.RoundDeadlineExceeded {
				return fmt.Errorf("round %s/%s exceeded its deadline", *ns, name)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("round %s/%s still %s: %w", *ns, name, tr.Status.Phase, ctx.Err())
		case <-time.After(*interval):
		}
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
