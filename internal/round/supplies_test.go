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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func TestForecast(t *testing.T) {
	for _, tc := range []struct {
		name           string
		expected, pool int32
		policy         sweepv1alpha1.SuppliesPolicy
		want           sweepv1alpha1.SupplyCounts
	}{
		{"nobody", 0, 10, sweepv1alpha1.SuppliesPolicy{SparePercent: 10, TubesPerBag: 50}, sweepv1alpha1.SupplyCounts{}},
		{"no spare", 106, 10, sweepv1alpha1.SuppliesPolicy{TubesPerBag: 50}, sweepv1alpha1.SupplyCounts{Tubes: 11, Swabs: 106, TubeBags: 1}},
		// 11 tubes * 1.1 = 12.1 -> 13; 106 * 1.1 = 116.6 -> 117.
		{"spare rounds up", 106, 10, sweepv1alpha1.SuppliesPolicy{SparePercent: 10, TubesPerBag: 50}, sweepv1alpha1.SupplyCounts{Tubes: 13, Swabs: 117, TubeBags: 1}},
		// Ruiming community, 6,519 residents, single tubes: 6,519 tubes +
		// 10% = 7,171 (7,170.9 up), 144 bags of 50.
		{"single tubes", 6519, 1, sweepv1alpha1.SuppliesPolicy{SparePercent: 10, TubesPerBag: 50}, sweepv1alpha1.SupplyCounts{Tubes: 7171, Swabs: 7171, TubeBags: 144}},
		{"20-in-1, no bag size", 2300, 20, sweepv1alpha1.SuppliesPolicy{SparePercent: 0}, sweepv1alpha1.SupplyCounts{Tubes: 115, Swabs: 2300, TubeBags: 3}},
		{"negative expected", -5, 10, sweepv1alpha1.SuppliesPolicy{SparePercent: 10}, sweepv1alpha1.SupplyCounts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Forecast(tc.expected, tc.pool, tc.policy); got != tc.want {
				t.Errorf("Forecast(%d, %d, %+v) = %+v, want %+v", tc.expected, tc.pool, tc.policy, got, tc.want)
			}
		})
	}
}

func TestStatusSuppliesByCommunity(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	r.Spec.Deadline = metav1.Time{Time: now.Add(time.Hour)}
	r.Spec.PoolSize = 10
	r.Spec.Supplies = sweepv1alpha1.SuppliesPolicy{SparePercent: 10, TubesPerBag: 2}
	mk := func(b, community string, expected, sampled, tubes int32, phase sweepv1alpha1.JobPhase) sweepv1alpha1.CollectionJob {
		bl := &sweepv1alpha1.Building{ObjectMeta: metav1.ObjectMeta{Name: b, Labels: map[string]string{}}}
		if community != "" {
			bl.Labels[sweepv1alpha1.LabelCommunity] = community
		}
		bl.Spec.Residents = expected
		j := *NewJob(r, bl)
		j.Status = sweepv1alpha1.CollectionJobStatus{Phase: phase, Sampled: sampled, Tubes: tubes}
		return j
	}
	jobs := []sweepv1alpha1.CollectionJob{
		mk("a", "ruiming", 100, 100, 10, sweepv1alpha1.JobCompleted), // forecast 11 tubes, 110 swabs, 6 bags
		mk("b", "ruiming", 50, 20, 2, sweepv1alpha1.JobActive),       // 6 tubes, 55 swabs, 3 bags
		mk("c", "", 10, 5, 1, sweepv1alpha1.JobExpired),              // 2 tubes, 11 swabs, 1 bag
	}
	st := Status(r, ptrs(jobs), 0, now)
	want := sweepv1alpha1.Supplies{
		Forecast: sweepv1alpha1.SupplyCounts{Tubes: 19, Swabs: 176, TubeBags: 10},
		Used:     sweepv1alpha1.SupplyCounts{Tubes: 13, Swabs: 125, TubeBags: 7},
	}
	if st.Supplies != want {
		t.Errorf("round supplies = %+v, want %+v", st.Supplies, want)
	}
	if len(st.Communities) != 2 || st.Communities[0].Name != NoCommunity || st.Communities[1].Name != "ruiming" {
		t.Fatalf("communities = %+v, want - and ruiming, sorted", st.Communities)
	}
	rm := st.Communities[1]
	if rm.Buildings != 2 || rm.Finished != 1 || rm.Expected != 150 || rm.Sampled != 120 || rm.Missed != 0 ||
		rm.Supplies.Forecast.Tubes != 17 || rm.Supplies.Used.Swabs != 120 {
		t.Errorf("ruiming = %+v", rm)
	}
	if none := st.Communities[0]; none.Missed != 5 || none.Finished != 1 {
		t.Errorf("buildings without a community = %+v, want 5 missed in 1 finished building", none)
	}
}
