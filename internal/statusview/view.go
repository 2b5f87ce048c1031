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

// Package statusview renders a round for people at a terminal: a progress
// bar, buildings by phase, the buildings that lag, and a closing summary.
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

// Render writes the live view of a round and its jobs at time now.
func Render(w io.Writer, tr *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob, now time.Time) {
	st := tr.Status
	res := st.Residents
	fmt.Fprintf(w, "Round %s/%s  %s  deadline %s\n", tr.Namespace, tr.Name, orDash(string(st.Phase)), tr.Spec.Deadline.Local().Format("15:04"))
	fmt.Fprintf(w, "%s %3d%%  %d of %d residents sampled, %d missed, %d outstanding\n",
		bar(st.ProgressPercent, 40), st.ProgressPercent, res.Sampled, res.Expected, res.Missed, res.Outstanding)
	eta := "-"
	if st.EstimatedCompletionTime != nil {
		eta = fmt.Sprintf("%s (in %s)", st.EstimatedCompletionTime.Local().Format("15:04:05"), st.EstimatedCompletionTime.Sub(now).Round(time.Second))
	}
	fmt.Fprintf(w, "Tubes %d used of %d forecast   home-visited %d   ETA %s\n\n", st.Tubes.Used, st.Tubes.Forecast, res.HomeVisited, eta)

	// Buildings by phase.
	type row struct {
		n               int
		sampled, missed int64
	}
	phases := []sweepv1alpha1.JobPhase{sweepv1alpha1.JobQueued, sweepv1alpha1.JobActive, sweepv1alpha1.JobWaiting,
		sweepv1alpha1.JobCompleted, sweepv1alpha1.JobExpired, sweepv1alpha1.JobFailed}
	rows := map[sweepv1alpha1.JobPhase]*row{}
	for _, p := range phases {
		rows[p] = &row{}
	}
	for i := range jobs {
		r := rows[round.EffectivePhase(&jobs[i])]
		if r == nil {
			continue
		}
		r.n++
		r.sampled += int64(jobs[i].Status.Sampled)
		r.missed += int64(jobs[i].Status.Missed)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tBUILDINGS\tSAMPLED\tNOT YET / MISSED")
	for _, p := range phases {
		r := rows[p]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", p, r.n, r.sampled, r.missed)
	}
	_ = tw.Flush()

	// The unfinished buildings with the most residents still to find.
	var lag []sweepv1alpha1.CollectionJob
	for _, j := range jobs {
		if !round.Finished(&j) && round.EffectivePhase(&j) != sweepv1alpha1.JobQueued {
			lag = append(lag, j)
		}
	}
	sort.Slice(lag, func(a, b int) bool {
		oa, ob := lag[a].Spec.Expected-lag[a].Status.Sampled, lag[b].Spec.Expected-lag[b].Status.Sampled
		if oa != ob {
			return oa > ob
		}
		return lag[a].Spec.Building < lag[b].Spec.Building
	})
	if len(lag) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BUILDING\tLEVEL\tPHASE\tVISIT\tSAMPLED\tEXPECTED\tNEXT VISIT")
		for _, j := range lag[:min(len(lag), 10)] {
			next := "-"
			if j.Status.NextVisitTime != nil {
				next = "in " + j.Status.NextVisitTime.Sub(now).Round(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", j.Spec.Building, j.Spec.ControlLevel, round.EffectivePhase(&j), j.Status.Visits, j.Status.Sampled, j.Spec.Expected, next)
		}
		_ = tw.Flush()
		if len(lag) > 10 {
			fmt.Fprintf(w, "... and %d more buildings under way\n", len(lag)-10)
		}
	}
}

// Summary writes the end-of-round report: duration, counts, tubes, and the
// missed households of every building that has any (the mop-up list).
func Summary(w io.Writer, tr *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob) {
	st := tr.Status
	res := st.Residents
	dur := "-"
	if st.StartTime != nil && st.CompletionTime != nil {
		dur = st.CompletionTime.Sub(st.StartTime.Time).Round(time.Second).String()
	}
	fmt.Fprintf(w, "Round %s/%s %s in %s\n", tr.Namespace, tr.Name, st.Phase, dur)
	fmt.Fprintf(w, "  buildings  %d: %d completed, %d expired, %d failed\n", st.Buildings.Total, st.Buildings.Completed, st.Buildings.Expired, st.Buildings.Failed)
	pct := 0.0
	if res.Expected > 0 {
		pct = float64(res.Sampled) * 100 / float64(res.Expected)
	}
	fmt.Fprintf(w, "  residents  %d expected, %d sampled (%.1f%%), %d missed, %d home-visited, %d exempt\n",
		res.Expected, res.Sampled, pct, res.Missed, res.HomeVisited, res.Exempt)
	fmt.Fprintf(w, "  tubes      %d used of %d forecast\n", st.Tubes.Used, st.Tubes.Forecast)
	var missed []sweepv1alpha1.CollectionJob
	for _, j := range jobs {
		if j.Status.Missed > 0 {
			missed = append(missed, j)
		}
	}
	sort.Slice(missed, func(a, b int) bool { return missed[a].Spec.Building < missed[b].Spec.Building })
	if len(missed) == 0 {
		fmt.Fprintln(w, "  nobody missed")
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
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", j.Spec.Building, j.Status.Missed, j.Status.Visits, hh)
	}
	_ = tw.Flush()
}

func bar(pct int32, width int) string {
	pct = max(0, min(pct, 100))
	full := int(pct) * width / 100
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
