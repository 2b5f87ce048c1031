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

package statusview

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// sweepJobs are the jobs that sweep a building: retests are not buildings.
func sweepJobs(jobs []sweepv1alpha1.CollectionJob) []sweepv1alpha1.CollectionJob {
	out := make([]sweepv1alpha1.CollectionJob, 0, len(jobs))
	for i := range jobs {
		if !round.IsRetest(&jobs[i]) {
			out = append(out, jobs[i])
		}
	}
	return out
}

// retestsByPool are the round's retest jobs by the name of their pool.
func retestsByPool(jobs []sweepv1alpha1.CollectionJob) map[string]*sweepv1alpha1.CollectionJob {
	out := map[string]*sweepv1alpha1.CollectionJob{}
	for i := range jobs {
		if j := &jobs[i]; round.IsRetest(j) {
			out[j.Spec.Retest.Pool] = j
		}
	}
	return out
}

// controlledPools are the pools the round controls, oldest pooled result
// first.
func controlledPools(tr *sweepv1alpha1.TestingRound, pools []sweepv1alpha1.PositivePool) []*sweepv1alpha1.PositivePool {
	var out []*sweepv1alpha1.PositivePool
	for i := range pools {
		if round.Controls(tr, &pools[i]) {
			out = append(out, &pools[i])
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Spec.ResultTime.Equal(&out[b].Spec.ResultTime) {
			return out[a].Spec.ResultTime.Before(&out[b].Spec.ResultTime)
		}
		return out[a].Name < out[b].Name
	})
	return out
}

func poolPhaseColor(ph sweepv1alpha1.PositivePoolPhase) string {
	switch ph {
	case sweepv1alpha1.PoolResolved:
		return ansiGreen
	case sweepv1alpha1.PoolRetesting:
		return ansiCyan
	case sweepv1alpha1.PoolAwaitingResults:
		return ansiYellow
	}
	return ansiRed // open: nobody is on it yet
}

// writePools writes the "Positive pools" block under the round header: the
// counts by phase and the households to seal, then one line per pool. The
// counts come from the pools listed, so that they match the lines; without
// them (not readable), from the round's status.
func writePools(w io.Writer, p painter, tr *sweepv1alpha1.TestingRound, all []sweepv1alpha1.PositivePool,
	retests map[string]*sweepv1alpha1.CollectionJob, now time.Time) {
	pools := controlledPools(tr, all)
	c := tr.Status.PositivePools
	if len(pools) > 0 {
		c = round.PoolCounts(pools)
	}
	if c == nil {
		return
	}
	total := c.Open + c.Retesting + c.AwaitingResults + c.Resolved
	fmt.Fprintf(w, "%s %d: %s, %d retesting, %d awaiting results, %d resolved; %s\n", p.paint(ansiBold, "Positive pools"), total,
		p.paintIf(c.Open > 0, ansiRed, fmt.Sprintf("%d open", c.Open)), c.Retesting, c.AwaitingResults, c.Resolved,
		p.paintIf(c.HouseholdsToSeal > 0, ansiRed, fmt.Sprintf("%d households to seal", c.HouseholdsToSeal)))
	if len(pools) == 0 {
		return
	}
	t := &table{p: p}
	t.add(cell{s: "  BUILDING"}, cell{s: "TUBE"}, cell{s: "PHASE"}, cell{s: "RETESTED"}, cell{s: "AGE"}, cell{s: "RETEST"}, cell{s: "TO SEAL"})
	for _, pool := range pools {
		ph := pool.Status.Phase
		if ph == "" {
			ph = sweepv1alpha1.PoolOpen
		}
		age := "-"
		if d := now.Sub(pool.Spec.ResultTime.Time).Round(time.Second); d >= 0 && !now.IsZero() {
			age = shortDuration(d)
		}
		t.add(cell{s: "  " + pool.Spec.Building}, cell{s: pool.Spec.Tube}, cell{s: string(ph), color: poolPhaseColor(ph)},
			cell{s: fmt.Sprintf("%d/%d", pool.Status.Retested, pool.Spec.Swabs)}, cell{s: age},
			cell{s: retestState(retests[pool.Name], now)}, sealCell(pool))
	}
	t.write(w)
}

// retestState is where a pool's retest job stands: its phase, visits, and
// when it goes back or whom it missed.
func retestState(j *sweepv1alpha1.CollectionJob, now time.Time) string {
	if j == nil {
		return "-"
	}
	s := string(round.EffectivePhase(j))
	if j.Status.Visits > 0 {
		s += fmt.Sprintf(", visit %d", j.Status.Visits)
	}
	switch {
	case j.Status.Phase.Finished() && round.JobResidents(j, "").Missed > 0:
		s += fmt.Sprintf(", %d missed", round.JobResidents(j, "").Missed)
		if hh := j.Status.MissedHouseholds; len(hh) > 0 {
			s += " (" + strings.Join(hh[:min(len(hh), 4)], " ")
			if len(hh) > 4 {
				s += fmt.Sprintf(" +%d", len(hh)-4)
			}
			s += ")"
		}
	case j.Status.NextVisitTime != nil && !j.Status.Phase.Finished() && !now.IsZero():
		s += ", next in " + shortDuration(j.Status.NextVisitTime.Sub(now).Round(time.Second))
	}
	return s
}

func sealCell(p *sweepv1alpha1.PositivePool) cell {
	hh := p.Status.HouseholdsToSeal
	if len(hh) == 0 {
		if p.Status.Phase == sweepv1alpha1.PoolResolved {
			return cell{s: "none"}
		}
		return cell{s: "-"}
	}
	return cell{s: strings.Join(hh, " "), color: ansiRed}
}

// writePoolSummary writes the pools of a finished round: counts, then the
// households to seal and the residents not retested, pool by pool.
func writePoolSummary(w io.Writer, tr *sweepv1alpha1.TestingRound, all []sweepv1alpha1.PositivePool, retests map[string]*sweepv1alpha1.CollectionJob) {
	pools := controlledPools(tr, all)
	c := tr.Status.PositivePools
	if len(pools) > 0 {
		c = round.PoolCounts(pools)
	}
	if c == nil {
		return
	}
	total := c.Open + c.Retesting + c.AwaitingResults + c.Resolved
	fmt.Fprintf(w, "  positive   %d pools: %d resolved, %d awaiting results, %d retesting, %d open; %d households to seal\n",
		total, c.Resolved, c.AwaitingResults, c.Retesting, c.Open, c.HouseholdsToSeal)
	if len(pools) == 0 {
		return
	}
	fmt.Fprintf(w, "\nPositive pools (%d):\n", len(pools))
	t := &table{}
	t.add(cell{s: "BUILDING"}, cell{s: "TUBE"}, cell{s: "PHASE"}, cell{s: "RETESTED"}, cell{s: "NOT RETESTED"}, cell{s: "TO SEAL"})
	for _, p := range pools {
		ph := p.Status.Phase
		if ph == "" {
			ph = sweepv1alpha1.PoolOpen
		}
		missed := "-"
		if j := retests[p.Name]; j != nil && j.Status.Phase.Finished() {
			missed = fmt.Sprint(round.JobResidents(j, "").Missed)
			if hh := j.Status.MissedHouseholds; len(hh) > 0 {
				missed += " (" + strings.Join(hh, " ") + ")"
			}
		}
		t.add(cell{s: p.Spec.Building}, cell{s: p.Spec.Tube}, cell{s: string(ph)},
			cell{s: fmt.Sprintf("%d/%d", p.Status.Retested, p.Spec.Swabs)}, cell{s: missed}, sealCell(p))
	}
	t.write(w)
}
