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
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/statusview"
)

// runStatus shows a round as a tree: once, or refreshed until it ends
// (--watch), then its summary with the missed households of each building.
func (c *cli) runStatus(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("status", pflag.ContinueOnError)
	kf := addKubeFlags(fs)
	watch := fs.BoolP("watch", "w", false, "refresh until the round ends, then print its summary")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval with --watch")
	timeout := fs.Duration("timeout", 0, "with --watch, give up after this long (0: never)")
	all := fs.Bool("all", false, "list every building (default: at most 10 per community, those under way and with missed residents first)")
	color := fs.String("color", "auto", "colour: auto (on a terminal, unless NO_COLOR is set), always or never")
	fs.Usage = func() {
		fmt.Fprintf(c.errOut, "Usage: %s status ROUND [-n namespace] [--watch] [--all]\n", c.prog)
		fs.PrintDefaults()
	}
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("status needs exactly one round name")
	}
	var useColor bool
	switch *color {
	case "auto":
		useColor = c.tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	case "always":
		useColor = true
	case "never":
	default:
		return fmt.Errorf("--color=%q: want auto, always or never", *color)
	}
	name := fs.Arg(0)
	cl, ns, err := kf.client()
	if err != nil {
		return err
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	for {
		var tr sweepv1alpha1.TestingRound
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &tr); err != nil {
			return fmt.Errorf("reading round %s/%s: %w", ns, name, err)
		}
		var jobs sweepv1alpha1.CollectionJobList
		if err := cl.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{sweepv1alpha1.LabelRound: round.LabelValue(name)}); err != nil {
			return fmt.Errorf("listing the round's jobs: %w", err)
		}
		// The label finds them; the controller reference's UID says which
		// are the round's, as the operator counts them.
		jobs.Items = round.Controlled(&tr, jobs.Items)
		pools, err := roundPools(ctx, cl, &tr)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		statusview.Tree(&buf, &tr, jobs.Items, statusview.Options{Now: time.Now(), Color: useColor, All: *all, Pools: pools})
		if c.tty && *watch {
			// Redraw in place on a terminal.
			fmt.Fprint(c.out, "\033[H\033[2J")
		} else if *watch {
			fmt.Fprintln(c.out, "----", time.Now().Format("15:04:05"))
		}
		fmt.Fprint(c.out, buf.String())
		final := tr.Status.Phase.Finished()
		if final || !*watch {
			if final {
				fmt.Fprintln(c.out)
				statusview.Summary(c.out, &tr, jobs.Items, pools)
			}
			if tr.Status.Phase == sweepv1alpha1.RoundDeadlineExceeded {
				return fmt.Errorf("round %s/%s exceeded its deadline", ns, name)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("round %s/%s still %s: %w", ns, name, tr.Status.Phase, ctx.Err())
		case <-time.After(*interval):
		}
	}
}

// roundPools lists the PositivePools the round controls (round.Controls,
// the operator's one ownership rule). A round without a lab has none and
// is not asked about them; a user who may not read pools, or a cluster
// whose CRDs predate them, sees the round's status counts alone.
func roundPools(ctx context.Context, cl client.Client, tr *sweepv1alpha1.TestingRound) ([]sweepv1alpha1.PositivePool, error) {
	if tr.Spec.Lab == nil && tr.Status.PositivePools == nil {
		return nil, nil
	}
	var list sweepv1alpha1.PositivePoolList
	if err := cl.List(ctx, &list, client.InNamespace(tr.Namespace)); err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing the round's positive pools: %w", err)
	}
	var out []sweepv1alpha1.PositivePool
	for i := range list.Items {
		if round.Controls(tr, &list.Items[i]) {
			out = append(out, list.Items[i])
		}
	}
	return out, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
