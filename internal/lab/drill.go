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

package lab

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collector"
	sweepround "github.com/masstesting/sweep/internal/round"
)

// Drill invents a round's lab results for exercises, from its own jobs, so
// that the same seed and round give the same results on any machine:
//   - each tube a finished building used is resulted turnaround after the
//     building finished; positivePermille of them are positive, each holding
//     the swabs of two to four of the building's households;
//   - each resident a finished retest swabbed gets a single tube, resulted
//     turnaround after the retest finished; in every pool exactly one
//     household's tubes are positive (a pool is positive because someone in
//     it is).
//
// The ids are made up ("D" and a hash), like the drill's households.
func Drill(r *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob, now time.Time) []TubeResult {
	d := r.Spec.Lab.Drill
	if d == nil {
		d = &sweepv1alpha1.LabDrill{}
	}
	permille := int32(sweepv1alpha1.DefaultPositivePermille)
	if d.PositivePermille != nil {
		permille = *d.PositivePermille
	}
	turnaround := d.Turnaround.Or(sweepv1alpha1.DefaultDrillTurnaround)
	var out []TubeResult
	for _, j := range jobs {
		done := j.Status.CompletionTime
		if done == nil || !j.Status.Phase.Finished() {
			continue
		}
		swab := done.Time
		result := swab.Add(turnaround)
		if result.After(now) {
			continue
		}
		if j.Spec.Retest != nil {
			out = append(out, drillSingles(d.Seed, r.Name, j, swab, result)...)
			continue
		}
		out = append(out, drillPooled(d.Seed, r, j, permille, swab, result)...)
	}
	return out
}

func drillRand(seed int64, parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprintf(h, "%s/", p)
	}
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

func drillTube(seed int64, parts ...string) string {
	return fmt.Sprintf("D%012x", drillRand(seed, parts...).Uint64()&0xffffffffffff)
}

func drillPooled(seed int64, r *sweepv1alpha1.TestingRound, j *sweepv1alpha1.CollectionJob, permille int32, swab, result time.Time) []TubeResult {
	round, pool := r.Name, sweepround.PoolSize(r, j)
	households := collector.HouseholdIDs(j.Spec.Households, j.Spec.Units, j.Spec.Floors)
	var out []TubeResult
	for i := range j.Status.Tubes {
		idx := fmt.Sprint(i)
		rng := drillRand(seed, round, j.Spec.Building, idx)
		t := TubeResult{Tube: drillTube(seed, round, j.Spec.Building, idx, "tube"), Building: j.Spec.Building, Kind: Pooled,
			SwabTime: &swab, ResultTime: result}
		if rng.Int32N(1000) < permille && len(households) > 0 {
			swabs := min(pool, j.Status.Sampled-i*pool)
			if swabs < 1 {
				swabs = 1
			}
			n := min(int(2+rng.Int32N(3)), len(households), int(swabs))
			picked := slices.Clone(households)
			rng.Shuffle(len(picked), func(a, b int) { picked[a], picked[b] = picked[b], picked[a] })
			picked = picked[:n]
			slices.Sort(picked)
			t.Positive, t.Swabs, t.Households = true, swabs, picked
		}
		out = append(out, t)
	}
	return out
}

func drillSingles(seed int64, round string, j *sweepv1alpha1.CollectionJob, swab, result time.Time) []TubeResult {
	hh := j.Spec.Retest.Households
	positive := hh[drillRand(seed, round, j.Spec.Retest.Tube, "positive").IntN(len(hh))]
	out := make([]TubeResult, 0, j.Status.Sampled)
	for i := range j.Status.Sampled {
		h := hh[int(i)%len(hh)]
		out = append(out, TubeResult{Tube: drillTube(seed, round, j.Spec.Retest.Tube, fmt.Sprint(i), "single"), Building: j.Spec.Building,
			Kind: Single, Positive: h == positive, SwabTime: &swab, ResultTime: result, Pool: j.Spec.Retest.Tube, Household: h})
	}
	return out
}
