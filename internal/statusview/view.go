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

// Package statusview renders a round for people at a terminal: a tree of
// the round, its communities and their buildings with progress bars,
// phases, sampled, missed, supplies, ETA and deadline; and a closing
// summary with the missed households of each building.
// It reads only what the API holds; `sweep status` and `make demo` use it.
package statusview

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// Summary writes the end-of-round report: duration, counts, tubes, the
// missed households of every building that has any (the mop-up list), and
// the round's positive pools with their households to seal and residents
// not retested. pools may hold other rounds' pools: only the round's own
// are shown; nil shows the round's status counts alone.
func Summary(w io.Writer, tr *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob, pools []sweepv1alpha1.PositivePool) {
	jobs = round.Controlled(tr, jobs) // the round's own, as the operator counts them
	retests := retestsByPool(jobs)
	jobs = sweepJobs(jobs)
	st := tr.Status
	res := st.Residents
	dur := "-"
	if st.StartTime != nil && st.CompletionTime != nil {
		dur = st.CompletionTime.Sub(st.StartTime.Time).Round(time.Second).String()
	}
	fmt.Fprintf(w, "Round %s/%s %s in %s\n", tr.Namespace, tr.Name, st.Phase, dur)
	if tr.Spec.Collector.Source.Simulated() {
		fmt.Fprintln(w, DrillBanner)
	}
	fmt.Fprintf(w, "  buildings  %d: %d completed, %d expired, %d failed\n", st.Buildings.Total, st.Buildings.Completed, st.Buildings.Expired, st.Buildings.Failed)
	pct := 0.0
	if res.Expected > 0 {
		pct = float64(res.Sampled) * 100 / float64(res.Expected)
	}
	fmt.Fprintf(w, "  residents  %d expected, %d sampled (%.1f%%), %d missed, %d home-visited, %d exempt\n",
		res.Expected, res.Sampled, pct, res.Missed, res.HomeVisited, res.Exempt)
	if res.Missed > 0 {
		fmt.Fprintf(w, "  missed     by reason: %s\n", ByReason(res.MissedByReason))
	}
	fmt.Fprintf(w, "  tubes      %d used of %d forecast\n", st.Tubes.Used, st.Tubes.Forecast)
	sup := st.Supplies
	fmt.Fprintf(w, "  supplies   used/forecast with spares: tubes %d/%d, swabs %d/%d, tube bags %d/%d\n",
		sup.Used.Tubes, sup.Forecast.Tubes, sup.Used.Swabs, sup.Forecast.Swabs, sup.Used.TubeBags, sup.Forecast.TubeBags)
	var missed []sweepv1alpha1.CollectionJob
	missedIn := map[string]int64{}
	for i, j := range jobs {
		if m := round.JobResidents(&jobs[i], st.Phase).Missed; m > 0 {
			missed = append(missed, j)
			missedIn[j.Name] = m
		}
	}
	sort.Slice(missed, func(a, b int) bool { return missed[a].Spec.Building < missed[b].Spec.Building })
	if len(missed) == 0 {
		fmt.Fprintln(w, "  nobody missed")
	}
	writePoolSummary(w, tr, pools, retests)
	if len(missed) == 0 {
		return
	}
	fmt.Fprintf(w, "\nMissed households by building (%d buildings):\n", len(missed))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILDING\tMISSED\tVISITS\tHOUSEHOLDS")
	for _, j := range missed {
		hh := strings.Join(j.Status.MissedHouseholds[:min(len(j.Status.MissedHouseholds), 8)], " ")
		if len(j.Status.MissedHouseholds) > 8 {
			hh += fmt.Sprintf(" (+%d)", len(j.Status.MissedHouseholds)-8)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", j.Spec.Building, missedIn[j.Name], j.Status.Visits, hh)
	}
	_ = tw.Flush()
}

// DrillBanner marks a drill's numbers wherever the CLI shows them.
const DrillBanner = "DRILL: simulated results for an exercise; nobody was sampled and the missed households are invented."

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ByReason is residents by the reason their household was missed, as
// people read them: "not-home 2, refused 5, unknown 64", the reasons in
// sweepv1alpha1.MissedReasons order, those with nobody left out; "" when
// nobody is counted.
func ByReason(t sweepv1alpha1.MissedReasonTotals) string {
	var parts []string
	for _, r := range sweepv1alpha1.MissedReasons {
		if n := t.Get(r); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	return strings.Join(parts, ", ")
}

// Totals are one building's counts as MissedReasonTotals, for ByReason.
func Totals(c *sweepv1alpha1.MissedReasonCounts) sweepv1alpha1.MissedReasonTotals {
	var t sweepv1alpha1.MissedReasonTotals
	if c != nil {
		t.AddCounts(*c)
	}
	return t
}
