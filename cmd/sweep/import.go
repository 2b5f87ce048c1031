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
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/ledger"
)

// ImportFieldManager is the field manager of `sweep import`: it owns the
// spec and labels it applies, so a later import of the same ledger
// changes only what the ledger changed, and labels ops added by hand stay.
const ImportFieldManager = "sweep-import"

// runImport creates or updates Buildings from a ledger CSV by server-side
// apply. Every row is checked, locally and by a server-side dry run, before
// anything is written: with a bad row nothing is applied, unless
// --skip-bad-rows.
func (c *cli) runImport(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("import", pflag.ContinueOnError)
	kf := addKubeFlags(fs)
	dryRun := fs.Bool("dry-run", false, "show what would be created and updated; change nothing")
	skipBad := fs.Bool("skip-bad-rows", false, "apply the good rows even when some rows are bad (they are still reported)")
	labels := fs.StringArray("label", nil, "a label for every Building, key=value (repeatable), e.g. sweep.masstesting.io/district=pingfang")
	workers := fs.Int("workers", 16, "parallel writes to the API server")
	fs.Usage = func() {
		fmt.Fprintf(c.errOut, "Usage: %s import LEDGER.csv [-n namespace] [--dry-run] [--skip-bad-rows] [--label k=v]\n\nColumns: %s (building and residents required).\n\n",
			c.prog, strings.Join(ledger.Columns, ", "))
		fs.PrintDefaults()
	}
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("import needs exactly one ledger file (- reads standard input)")
	}
	extra := map[string]string{}
	for _, l := range *labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("--label %q: want key=value", l)
		}
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return fmt.Errorf("--label %q: %s", l, strings.Join(errs, "; "))
		}
		extra[k] = v
	}
	path := fs.Arg(0)
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	rows, bad, err := ledger.Parse(in)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range bad {
		fmt.Fprintf(c.errOut, "%s: %v\n", path, e)
	}
	if len(bad) > 0 && !*skipBad {
		return fmt.Errorf("%s: %d bad rows; nothing was applied (fix them, or pass --skip-bad-rows to apply the %d good rows)", path, len(bad), len(rows))
	}

	cl, ns, err := kf.client()
	if err != nil {
		return err
	}
	var have sweepv1alpha1.BuildingList
	if err := cl.List(ctx, &have, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing the Buildings of %s: %w", ns, err)
	}
	existing := make(map[string]*sweepv1alpha1.Building, len(have.Items))
	for i := range have.Items {
		existing[have.Items[i].Name] = &have.Items[i]
	}
	plan := ledger.Plan(rows, existing, extra)
	var changes []ledger.Change
	unchanged := 0
	for _, ch := range plan {
		if ch.Action == "unchanged" {
			unchanged++
			continue
		}
		changes = append(changes, ch)
	}

	// The API server checks every change before any is written: the
	// schema may reject what the ledger's checks let through.
	rejected := make([]error, len(changes))
	err = forEach(ctx, *workers, len(changes), func(ctx context.Context, i int) error {
		rejected[i] = apply(ctx, cl, changes[i].Row, ns, extra, client.DryRunAll)
		return nil
	})
	if err != nil {
		return err
	}
	var ok []ledger.Change
	nbad := 0
	for i, ch := range changes {
		if apierrors.IsForbidden(rejected[i]) || apierrors.IsUnauthorized(rejected[i]) {
			// Not the row's fault: say so once, not once per row.
			return fmt.Errorf("not allowed to apply Buildings in %s (import needs get, list, create and patch on buildings): %w", ns, rejected[i])
		}
		if rejected[i] != nil {
			nbad++
			fmt.Fprintf(c.errOut, "%s: line %d (building %s): rejected by the API server: %v\n", path, ch.Row.Line, ch.Row.Name, rejected[i])
			continue
		}
		ok = append(ok, ch)
	}
	if nbad > 0 && !*skipBad {
		return fmt.Errorf("%s: the API server rejected %d rows; nothing was applied (fix them, or pass --skip-bad-rows)", path, nbad)
	}

	if !*dryRun {
		err := forEach(ctx, *workers, len(ok), func(ctx context.Context, i int) error {
			if err := apply(ctx, cl, ok[i].Row, ns, extra); err != nil {
				return fmt.Errorf("line %d (building %s): %w", ok[i].Row.Line, ok[i].Row.Name, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w (rows before it may have been applied; the import is idempotent, run it again)", path, err)
		}
	}

	sort.Slice(ok, func(a, b int) bool { return ok[a].Row.Line < ok[b].Row.Line })
	created, updated := 0, 0
	for _, ch := range ok {
		if ch.Action == "create" {
			created++
		} else {
			updated++
		}
		line := fmt.Sprintf("%-7s %s (line %d)", ch.Action, ch.Row.Name, ch.Row.Line)
		if len(ch.Fields) > 0 {
			line += ": " + strings.Join(ch.Fields, ", ")
		}
		fmt.Fprintln(c.out, line)
	}
	inLedger := map[string]bool{}
	for _, r := range rows {
		inLedger[r.Name] = true
	}
	var absent []string
	for name := range existing {
		if !inLedger[name] {
			absent = append(absent, name)
		}
	}
	if *dryRun {
		fmt.Fprintf(c.out, "%s: %d rows: %d to create, %d to update, %d unchanged", ns, len(rows)+len(bad), created, updated, unchanged)
	} else {
		fmt.Fprintf(c.out, "%s: %d rows: %d created, %d updated, %d unchanged", ns, len(rows)+len(bad), created, updated, unchanged)
	}
	if skipped := len(bad) + nbad; skipped > 0 {
		fmt.Fprintf(c.out, ", %d bad rows skipped", skipped)
	}
	fmt.Fprintln(c.out)
	if len(absent) > 0 {
		sort.Strings(absent)
		fmt.Fprintf(c.out, "%d Buildings in %s are not in the ledger and were left alone: %s\n", len(absent), ns, strings.Join(absent[:min(len(absent), 10)], ", ")+map[bool]string{true: ", ...", false: ""}[len(absent) > 10])
	}
	if *dryRun {
		fmt.Fprintln(c.out, "dry run: nothing was applied")
	}
	return nil
}

// apply writes one row's Building by server-side apply, as ImportFieldManager.
func apply(ctx context.Context, cl client.Client, r ledger.Row, ns string, extra map[string]string, opts ...client.ApplyOption) error {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ledger.Building(r, ns, extra))
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	// Only what the ledger says: not an empty status or creation time.
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	opts = append(opts, client.FieldOwner(ImportFieldManager), client.ForceOwnership)
	return cl.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), opts...)
}

// forEach calls fn for 0..n-1 with at most workers at once; it stops at
// the first error.
func forEach(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}
