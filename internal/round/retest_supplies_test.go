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
	"testing"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func TestRetestSupplies(t *testing.T) {
	withLab := func(pool, spare int32) *sweepv1alpha1.TestingRound {
		return &sweepv1alpha1.TestingRound{Spec: sweepv1alpha1.TestingRoundSpec{PoolSize: pool,
			Supplies: sweepv1alpha1.SuppliesPolicy{SparePercent: spare, TubesPerBag: 50},
			Lab:      &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill}}}
	}
	pools := func(swabs ...int32) []*sweepv1alpha1.PositivePool {
		var out []*sweepv1alpha1.PositivePool
		for _, s := range swabs {
			out = append(out, &sweepv1alpha1.PositivePool{Spec: sweepv1alpha1.PositivePoolSpec{Swabs: s}})
		}
		return out
	}
	retest := &sweepv1alpha1.CollectionJob{Spec: sweepv1alpha1.CollectionJobSpec{Expected: 10, PoolSize: 1, Retest: &sweepv1alpha1.RetestSpec{}},
		Status: sweepv1alpha1.CollectionJobStatus{Sampled: 7, Tubes: 7}}
	sweep := &sweepv1alpha1.CollectionJob{Spec: sweepv1alpha1.CollectionJobSpec{Expected: 100, PoolSize: 10}, Status: sweepv1alpha1.CollectionJobStatus{Sampled: 100, Tubes: 10}}
	for _, c := range []struct {
		name          string
		r             *sweepv1alpha1.TestingRound
		forecast, use int64
		pools         []*sweepv1alpha1.PositivePool
		jobs          []*sweepv1alpha1.CollectionJob
		want          *sweepv1alpha1.Supplies
	}{
		{"no lab: nothing", &sweepv1alpha1.TestingRound{}, 100, 50, nil, nil, nil},
		{"nothing used yet: nothing to go by", withLab(10, 0), 100, 0, nil, nil, &sweepv1alpha1.Supplies{}},
		{"one pool in 50 tubes, 100 forecast: two pools of 10 single tubes", withLab(10, 0), 100, 50, pools(10), nil,
			&sweepv1alpha1.Supplies{Forecast: sweepv1alpha1.SupplyCounts{Tubes: 20, Swabs: 20, TubeBags: 1}}},
		{"the spare share applies", withLab(10, 10), 100, 50, pools(10), nil,
			&sweepv1alpha1.Supplies{Forecast: sweepv1alpha1.SupplyCounts{Tubes: 22, Swabs: 22, TubeBags: 1}}},
		{"never less than the pools found need", withLab(10, 0), 10, 10, pools(10, 10, 10), nil,
			&sweepv1alpha1.Supplies{Forecast: sweepv1alpha1.SupplyCounts{Tubes: 30, Swabs: 30, TubeBags: 1}}},
		{"used is the retests' own, not the sweep's", withLab(10, 0), 100, 50, pools(10), []*sweepv1alpha1.CollectionJob{sweep, retest},
			&sweepv1alpha1.Supplies{Forecast: sweepv1alpha1.SupplyCounts{Tubes: 20, Swabs: 20, TubeBags: 1}, Used: sweepv1alpha1.SupplyCounts{Tubes: 7, Swabs: 7, TubeBags: 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &sweepv1alpha1.TestingRoundStatus{Tubes: sweepv1alpha1.TubeCounts{Forecast: c.forecast, Used: c.use}}
			got := RetestSupplies(c.r, st, c.jobs, c.pools)
			if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
