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

package round

import (
	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// IsRetest reports whether a job is the single-tube retest of a positive
// pool rather than a building's sweep. A retest holds a team like any job
// but is not one of the round's buildings: the round's building and
// resident counts, its phase, its supplies and `sweep missed` leave it out,
// and its pool's status shows it instead.
func IsRetest(j *sweepv1alpha1.CollectionJob) bool {
	return j.Spec.Retest != nil
}

// SweepJobs returns the jobs that sweep a building: every job but retests.
func SweepJobs(jobs []*sweepv1alpha1.CollectionJob) []*sweepv1alpha1.CollectionJob {
	out := make([]*sweepv1alpha1.CollectionJob, 0, len(jobs))
	for _, j := range jobs {
		if !IsRetest(j) {
			out = append(out, j)
		}
	}
	return out
}

// RetestsWaiting reports whether a retest waits for a team: the round
// admits it even once its own sweep is over.
func RetestsWaiting(jobs []*sweepv1alpha1.CollectionJob) bool {
	for _, j := range jobs {
		if IsRetest(j) && !Admitted(j) && !j.Status.Phase.Finished() {
			return true
		}
	}
	return false
}

// PoolCounts counts the round's positive pools by phase, and the households
// their retests found to seal; nil when the round has none.
func PoolCounts(pools []*sweepv1alpha1.PositivePool) *sweepv1alpha1.PoolCounts {
	if len(pools) == 0 {
		return nil
	}
	c := &sweepv1alpha1.PoolCounts{}
	for _, p := range pools {
		switch p.Status.Phase {
		case sweepv1alpha1.PoolRetesting:
			c.Retesting++
		case sweepv1alpha1.PoolAwaitingResults:
			c.AwaitingResults++
		case sweepv1alpha1.PoolResolved:
			c.Resolved++
		default:
			c.Open++
		}
		if open := p.Status.Phase == "" || p.Status.Phase == sweepv1alpha1.PoolOpen || p.Status.Phase == sweepv1alpha1.PoolRetesting; open &&
			(c.OldestOpenResultTime == nil || p.Spec.ResultTime.Before(c.OldestOpenResultTime)) {
			c.OldestOpenResultTime = p.Spec.ResultTime.DeepCopy()
		}
		c.HouseholdsToSeal += int32(len(p.Status.HouseholdsToSeal))
	}
	return c
}

// PoolsUnresolved reports whether any of the round's positive pools is not
// resolved yet: the round is kept (its TTL waits) until they are.
func PoolsUnresolved(c *sweepv1alpha1.PoolCounts) bool {
	return c != nil && c.Open+c.Retesting+c.AwaitingResults > 0
}

// RetestSupplies is what the round's retests need and used. The forecast
// reserves, for every tube the round forecasts, poolSize single tubes and
// swabs at the round's positivity so far (positive pools per tube used), and
// never less than the pools found already need; used is the retests' own.
// Nil for a round without a lab.
func RetestSupplies(r *sweepv1alpha1.TestingRound, st *sweepv1alpha1.TestingRoundStatus, jobs []*sweepv1alpha1.CollectionJob, pools []*sweepv1alpha1.PositivePool) *sweepv1alpha1.Supplies {
	if r.Spec.Lab == nil {
		return nil
	}
	out := &sweepv1alpha1.Supplies{}
	var found int64
	for _, p := range pools {
		found += int64(p.Spec.Swabs)
	}
	pool := int64(max(r.Spec.PoolSize, 1))
	var reserve int64
	if used := st.Tubes.Used; used > 0 {
		reserve = ceilDiv(st.Tubes.Forecast*int64(len(pools)), used) * pool
	}
	reserve = max(reserve, found)
	spare := int64(max(r.Spec.Supplies.SparePercent, 0))
	tubes := ceilDiv(reserve*(100+spare), 100)
	out.Forecast = sweepv1alpha1.SupplyCounts{Tubes: tubes, Swabs: tubes, TubeBags: ceilDiv(tubes, tubesPerBag(r.Spec.Supplies))}
	for _, j := range jobs {
		if IsRetest(j) {
			addCounts(&out.Used, JobUsed(j, r.Spec.Supplies))
		}
	}
	return out
}
