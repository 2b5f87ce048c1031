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
	"sort"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// defaultTubesPerBag is used when a policy has none (an object stored
// before the field existed and read without the schema's default).
const defaultTubesPerBag = 50

// NoCommunity is the community name of jobs whose building has no
// community label.
const NoCommunity = "-"

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

func tubesPerBag(p sweepv1alpha1.SuppliesPolicy) int64 {
	if p.TubesPerBag <= 0 {
		return defaultTubesPerBag
	}
	return int64(p.TubesPerBag)
}

// Forecast is what a building with expected residents needs at poolSize:
// ceil(expected / poolSize) tubes and one swab per resident, each with the
// spare share added (rounded up, so a spare share never forecasts less than
// the residents need), and the bags for those tubes.
func Forecast(expected, poolSize int32, p sweepv1alpha1.SuppliesPolicy) sweepv1alpha1.SupplyCounts {
	pool := int64(max(poolSize, 1))
	spare := int64(max(p.SparePercent, 0))
	tubes := ceilDiv(ceilDiv(int64(max(expected, 0)), pool)*(100+spare), 100)
	swabs := ceilDiv(int64(max(expected, 0))*(100+spare), 100)
	return sweepv1alpha1.SupplyCounts{Tubes: tubes, Swabs: swabs, TubeBags: ceilDiv(tubes, tubesPerBag(p))}
}

// JobForecast is the forecast fixed in the job at expansion, or, for a job
// created before forecasts existed, the forecast without a spare share.
func JobForecast(j *sweepv1alpha1.CollectionJob) sweepv1alpha1.SupplyCounts {
	if j.Spec.Supplies != nil {
		return *j.Spec.Supplies
	}
	return Forecast(j.Spec.Expected, j.Spec.PoolSize, sweepv1alpha1.SuppliesPolicy{})
}

// JobUsed is what a job used so far: the tubes its collector reported, one
// swab per resident sampled, and the bags those tubes fill.
func JobUsed(j *sweepv1alpha1.CollectionJob, p sweepv1alpha1.SuppliesPolicy) sweepv1alpha1.SupplyCounts {
	tubes := int64(max(j.Status.Tubes, 0))
	return sweepv1alpha1.SupplyCounts{Tubes: tubes, Swabs: JobResidents(j, "").Sampled, TubeBags: ceilDiv(tubes, tubesPerBag(p))}
}

func addCounts(a *sweepv1alpha1.SupplyCounts, b sweepv1alpha1.SupplyCounts) {
	a.Tubes += b.Tubes
	a.Swabs += b.Swabs
	a.TubeBags += b.TubeBags
}

// Community is the community label of a job's building, or NoCommunity.
func Community(j *sweepv1alpha1.CollectionJob) string {
	if c := j.Labels[sweepv1alpha1.LabelCommunity]; c != "" {
		return c
	}
	return NoCommunity
}

// suppliesAndCommunities sums supplies over the round and per community,
// the round in phase phase. Communities are sorted by name and capped at
// MaxCommunities (the round's own totals always cover every job).
func suppliesAndCommunities(r *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob, phase sweepv1alpha1.RoundPhase) (sweepv1alpha1.Supplies, []sweepv1alpha1.CommunityStatus) {
	var total sweepv1alpha1.Supplies
	byName := map[string]*sweepv1alpha1.CommunityStatus{}
	for _, j := range jobs {
		fc, used := JobForecast(j), JobUsed(j, r.Spec.Supplies)
		addCounts(&total.Forecast, fc)
		addCounts(&total.Used, used)
		name := Community(j)
		c := byName[name]
		if c == nil {
			c = &sweepv1alpha1.CommunityStatus{Name: name}
			byName[name] = c
		}
		jr := JobResidents(j, phase)
		c.Buildings++
		c.Expected += jr.Expected
		c.Sampled += jr.Sampled
		c.Missed += jr.Missed
		if j.Status.Phase.Finished() {
			c.Finished++
		}
		addCounts(&c.Supplies.Forecast, fc)
		addCounts(&c.Supplies.Used, used)
	}
	if len(byName) == 0 {
		return total, nil
	}
	out := make([]sweepv1alpha1.CommunityStatus, 0, len(byName))
	for _, c := range byName {
		out = append(out, *c)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	if len(out) > sweepv1alpha1.MaxCommunities {
		out = out[:sweepv1alpha1.MaxCommunities]
	}
	return total, out
}
