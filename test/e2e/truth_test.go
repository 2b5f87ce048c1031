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

package e2e

import (
	"slices"
	"testing"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness"
)

// truth is what a building's sweep must end with.
type truth struct {
	expected, sampled int32
	visits            int32
	missedHouseholds  []string
}

// groundTruth computes each building's final numbers from the roster and
// the round's drill settings alone, without the operator
// (testharness.RosterAssignment and DrillTruth; the deadline is far away
// in these tests). Buildings are keyed by name.
func groundTruth(t *testing.T, buildings []sweepv1alpha1.Building, tr *sweepv1alpha1.TestingRound, maxVisits int32) map[string]truth {
	t.Helper()
	out := map[string]truth{}
	for i := range buildings {
		a := testharness.RosterAssignment(&buildings[i], tr)
		r, err := testharness.DrillTruth(a, maxVisits)
		if err != nil {
			t.Fatal(err)
		}
		out[buildings[i].Name] = truth{expected: a.Expected, sampled: r.Sampled, visits: r.Visit, missedHouseholds: slices.Clone(r.MissedHouseholds)}
	}
	return out
}

// checkAgainstTruth compares every job's final numbers with the ground
// truth, and the round's totals with their sums.
func checkAgainstTruth(t *testing.T, jobs []sweepv1alpha1.CollectionJob, want map[string]truth, st sweepv1alpha1.TestingRoundStatus) {
	t.Helper()
	var sampled, missed int64
	for _, cj := range jobs {
		w, ok := want[cj.Spec.Building]
		if !ok {
			t.Errorf("job %s is for building %q, which is not on the roster", cj.Name, cj.Spec.Building)
			continue
		}
		s := cj.Status
		got := slices.Clone(s.MissedHouseholds)
		slices.Sort(got)
		wantHH := slices.Clone(w.missedHouseholds)
		slices.Sort(wantHH)
		if s.Sampled != w.sampled || s.Missed != w.expected-w.sampled || !slices.Equal(got, wantHH) {
			t.Errorf("building %s: sampled %d missed %d households %v; ground truth: sampled %d missed %d households %v",
				cj.Spec.Building, s.Sampled, s.Missed, got, w.sampled, w.expected-w.sampled, wantHH)
		}
		sampled += int64(w.sampled)
		missed += int64(w.expected - w.sampled)
	}
	if st.Residents.Sampled != sampled || st.Residents.Missed != missed {
		t.Errorf("round status: sampled %d missed %d; ground truth: sampled %d missed %d",
			st.Residents.Sampled, st.Residents.Missed, sampled, missed)
	}
}
