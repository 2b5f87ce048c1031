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
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/report"
)

// runReport prints one day's campaign figures of every district the caller
// may read: the city's daily report. It only reads (list on rounds, and on
// namespaces and schedules where allowed).
func (c *cli) runReport(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	kf := addKubeFlags(fs)
	date := fs.String("date", "", "the day to report, YYYY-MM-DD (default: today in --time-zone)")
	zone := fs.String("time-zone", "Local", `IANA time zone of the day and of the times shown, e.g. Asia/Shanghai ("Local": this computer's, or $TZ)`)
	output := fs.StringP("output", "o", "table", "output format: table or csv (one line per round)")
	only := fs.StringSlice("districts", nil, "report only these districts (namespaces), comma-separated (default: every district you may read; with -n, that one)")
	fs.Usage = func() {
		fmt.Fprintf(c.errOut, "Usage: %s report [--date YYYY-MM-DD] [--time-zone ZONE] [-o table|csv] [--districts a,b | -n district]\n", c.prog)
		fs.PrintDefaults()
	}
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("report takes no arguments, got %q", fs.Args())
	}
	switch *output {
	case "table", "csv":
	default:
		return fmt.Errorf("-o %q: want table or csv", *output)
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return fmt.Errorf("--time-zone %q is not a known IANA time zone: %w", *zone, err)
	}
	now := c.clock()
	day := now.In(loc).Format(report.DateLayout)
	if *date != "" {
		d, err := time.ParseInLocation(report.DateLayout, *date, loc)
		if err != nil {
			return fmt.Errorf("--date %q: want a day as YYYY-MM-DD", *date)
		}
		day = d.Format(report.DateLayout)
	}
	cl, ns, err := kf.client()
	if err != nil {
		return err
	}
	asked := *only
	if len(asked) == 0 && fs.Changed("namespace") {
		asked = []string{ns}
	}
	found, err := readDistricts(ctx, cl, asked)
	if err != nil {
		return err
	}
	if len(found.skipped) > 0 {
		fmt.Fprintf(c.errOut, "note: skipped %d namespaces whose rounds you may not list: %s\n", len(found.skipped), strings.Join(found.skipped, ", "))
	}
	r := report.Build(day, loc, found.districts, found.forbidden, found.rounds)
	if *output == "csv" {
		return report.WriteCSV(c.out, r)
	}
	return report.WriteTable(c.out, r, now)
}

// clock is the time now; tests fix it.
func (c *cli) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// readable is what readDistricts found.
type readable struct {
	// districts are the namespaces reported: those asked for, or every
	// namespace with rounds or schedules the caller may read.
	districts []string
	// forbidden are districts asked for whose rounds the caller may not
	// list: the report says so.
	forbidden []string
	// skipped are namespaces not asked for whose rounds the caller may not
	// list (most are not districts at all): only a note on stderr.
	skipped []string
	rounds  []sweepv1alpha1.TestingRound
}

// readDistricts lists the rounds of the districts asked for, or of every
// district the caller may read. A city command centre with read access to
// every namespace lists all rounds at once. A caller with access to some
// districts only (RoleBindings in their namespaces) may not list rounds
// across namespaces; then each namespace is tried in turn, those it may
// not read skipped, which needs list on namespaces. Without that either,
// only the districts it names (--districts, -n) can be reported.
func readDistricts(ctx context.Context, cl client.Client, asked []string) (readable, error) {
	var out readable
	if len(asked) > 0 {
		for _, ns := range dedupe(asked) {
			rounds, err := listRounds(ctx, cl, ns)
			if apierrors.IsForbidden(err) {
				out.forbidden = append(out.forbidden, ns)
				continue
			}
			if err != nil {
				return out, err
			}
			out.districts = append(out.districts, ns)
			out.rounds = append(out.rounds, rounds...)
		}
		return out, nil
	}
	rounds, err := listRounds(ctx, cl, "")
	switch {
	case err == nil:
		out.rounds = rounds
		seen := map[string]bool{}
		for _, r := range rounds {
			seen[r.Namespace] = true
		}
		// A district whose schedule has not made a round yet is still a
		// district, with no round that day.
		var schedules sweepv1alpha1.TestingScheduleList
		if err := cl.List(ctx, &schedules); err == nil {
			for _, s := range schedules.Items {
				seen[s.Namespace] = true
			}
		}
		for ns := range seen {
			out.districts = append(out.districts, ns)
		}
		sort.Strings(out.districts)
		return out, nil
	case !apierrors.IsForbidden(err):
		return out, err
	}
	var namespaces corev1.NamespaceList
	if err := cl.List(ctx, &namespaces); err != nil {
		if apierrors.IsForbidden(err) {
			return out, errors.New("you may list rounds neither across namespaces nor namespace by namespace (list on namespaces is forbidden): name your districts with --districts a,b or -n district")
		}
		return out, fmt.Errorf("listing namespaces: %w", err)
	}
	for _, n := range namespaces.Items {
		rounds, err := listRounds(ctx, cl, n.Name)
		if apierrors.IsForbidden(err) {
			out.skipped = append(out.skipped, n.Name)
			continue
		}
		if err != nil {
			return out, err
		}
		district := len(rounds) > 0
		if !district {
			var schedules sweepv1alpha1.TestingScheduleList
			district = cl.List(ctx, &schedules, client.InNamespace(n.Name), client.Limit(1)) == nil && len(schedules.Items) > 0
		}
		if district {
			out.districts = append(out.districts, n.Name)
			out.rounds = append(out.rounds, rounds...)
		}
	}
	return out, nil
}

// listRounds lists the rounds of one namespace, or of all ("").
func listRounds(ctx context.Context, cl client.Client, ns string) ([]sweepv1alpha1.TestingRound, error) {
	var list sweepv1alpha1.TestingRoundList
	var opts []client.ListOption
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	err := cl.List(ctx, &list, opts...)
	if meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("this cluster has no TestingRounds: is Sweep installed? %w", err)
	}
	if err != nil && !apierrors.IsForbidden(err) {
		where := "all namespaces"
		if ns != "" {
			where = "namespace " + ns
		}
		return nil, fmt.Errorf("listing rounds in %s: %w", where, err)
	}
	return list.Items, err
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if x = strings.TrimSpace(x); x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
