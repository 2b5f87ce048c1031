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

package collection

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

var fuzzPhases = []sweepv1alpha1.JobPhase{"", sweepv1alpha1.JobQueued, sweepv1alpha1.JobActive, sweepv1alpha1.JobWaiting,
	sweepv1alpha1.JobCompleted, sweepv1alpha1.JobExpired, sweepv1alpha1.JobFailed}

// FuzzDecide feeds Decide a job whose status the operator wrote (so it is
// consistent: what the schema and earlier decisions allow) and a report the
// collector wrote (anything at all: the local executor hands its report over
// in memory, past the schema). Whatever the report says, the status Decide
// returns must stay possible and never lose residents already sampled.
func FuzzDecide(f *testing.F) {
	f.Add(int32(100), int32(40), int32(30), int32(1), byte(2), int32(1), int32(60), int32(40), int32(10), int32(6), uint16(3), true, byte(3), false, int64(600))
	f.Add(int32(100), int32(40), int32(30), int32(2), byte(2), int32(2), int32(20), int32(80), int32(0), int32(2), uint16(0), true, byte(2), true, int64(60))
	f.Add(int32(100), int32(40), int32(0), int32(1), byte(2), int32(1), int32(-5), int32(105), int32(0), int32(0), uint16(0), false, byte(1), false, int64(0))
	f.Add(int32(5000), int32(0), int32(0), int32(1), byte(2), int32(1), int32(0), int32(5000), int32(0), int32(0), uint16(10000), true, byte(2), true, int64(60))
	f.Add(int32(100), int32(40), int32(50), int32(1), byte(2), int32(1), int32(40), int32(60), int32(0), int32(4), uint16(0), true, byte(2), false, int64(60))
	f.Add(int32(100), int32(40), int32(0), int32(1), byte(2), int32(3), int32(100), int32(0), int32(0), int32(10), uint16(0), true, byte(1), false, int64(99999))
	f.Fuzz(func(t *testing.T, expected, households, sampled, visits int32, phase byte,
		rVisit, rSampled, rMissed, rHome, rTubes int32, rHouseholds uint16, rFinal bool,
		state byte, viaObserved bool, offset int64) {
		// The spec and the operator-written status as the schema and the
		// operator keep them.
		expected = max(expected, 0) % 1_000_001
		households = max(households, 0) % 100_001
		sampled = max(sampled, 0) % (expected + 1)
		visits = max(visits, 0) % 11
		cj := newJob(func(cj *sweepv1alpha1.CollectionJob) {
			cj.Spec.Expected, cj.Spec.Households = expected, households
			cj.Status.Phase = fuzzPhases[int(phase)%len(fuzzPhases)]
			switch cj.Status.Phase {
			case "", sweepv1alpha1.JobQueued:
				// Not visited yet (the fuzzer's first find was a queued
				// job with 8 visits behind it, which cannot happen).
				visits, sampled = 0, 0
			default:
				visits = max(visits, 1)
			}
			cj.Status.Visits = visits
			cj.Status.Sampled, cj.Status.Missed = sampled, expected-sampled
			if cj.Status.Phase == sweepv1alpha1.JobActive {
				cj.Status.ActiveJob = VisitName(cj.Name, visits, 0)
			}
			if offset%2 != 0 {
				// Counts by reason that need not add up: an older
				// operator's, or a hand edit of the status subresource.
				// Decide fits them.
				cj.Status.NotSampledByReason = &sweepv1alpha1.MissedReasonCounts{NotHome: households % 50, Refused: sampled % 7, Unknown: -visits}
			}
		})
		ids := make([]string, int(rHouseholds)%20_001)
		for i := range ids {
			ids[i] = fmt.Sprintf("1-%d", i)
		}
		rep := &sweepv1alpha1.VisitReport{Visit: rVisit, Sampled: rSampled, Missed: rMissed, HomeVisited: rHome, Tubes: rTubes,
			MissedHouseholds: ids, Final: rFinal, Time: metav1.Time{Time: t0.Add(time.Minute)}}
		// Counts by reason, from the values above so the seed
		// corpus keeps its shape: none (an older collector), counts that
		// add up to missed, or counts that do not (a buggy or hostile
		// writer), with household reasons good or bad.
		switch rHouseholds % 3 {
		case 1:
			rep.MissedByReason = &sweepv1alpha1.MissedReasonCounts{NotHome: rHome, Refused: rTubes, Unknown: rMissed - rHome - rTubes}
		case 2:
			rep.MissedByReason = &sweepv1alpha1.MissedReasonCounts{Away: rHome, Unknown: rTubes}
		}
		for i, h := range ids[:min(len(ids), int(rTubes&0x3ff))] {
			reason := sweepv1alpha1.MissedReasons[i%len(sweepv1alpha1.MissedReasons)]
			if rSampled%5 == 0 {
				reason = "ZHANG Canary-Wei"
			}
			rep.MissedHouseholdReasons = append(rep.MissedHouseholdReasons, sweepv1alpha1.HouseholdReason{Household: h, Reason: reason})
		}
		obs := Observed{State: VisitState(int(state) % 4), Started: t0}
		if viaObserved {
			obs.Report = rep
			cj.Status.Report = rep // as the reconciler does with the executor's report
		} else {
			cj.Status.Report = rep
		}
		before := cj.DeepCopy()
		now := t0.Add(time.Duration(offset%(24*3600)) * time.Second)

		d := Decide(cj, obs, now)

		st := d.Status
		if st.Sampled < 0 || st.Sampled > expected {
			t.Fatalf("sampled %d of %d expected", st.Sampled, expected)
		}
		if st.Sampled < sampled {
			t.Fatalf("sampled went down from %d to %d", sampled, st.Sampled)
		}
		// Admitted: expected = sampled + outstanding + missed, outstanding
		// while visits remain, missed once finished.
		if st.Missed < 0 || st.Outstanding < 0 || (st.Phase != "" && st.Sampled+st.Outstanding+st.Missed != expected) {
			t.Fatalf("sampled %d + outstanding %d + missed %d with %d expected (phase %q)", st.Sampled, st.Outstanding, st.Missed, expected, st.Phase)
		}
		if st.Phase != "" && !before.Status.Phase.Finished() && (st.Phase.Finished() && st.Outstanding != 0 || !st.Phase.Finished() && st.Missed != 0) {
			t.Fatalf("phase %q with %d outstanding and %d missed", st.Phase, st.Outstanding, st.Missed)
		}
		// Not sampled by reason adds up to outstanding + missed, once
		// admitted, and holds only reasons the schema takes.
		if st.Phase != "" && st.Phase != sweepv1alpha1.JobQueued {
			by := st.NotSampledByReason
			if n := st.Outstanding + st.Missed; (n > 0) != (by != nil) || (by != nil && (by.Total() != int64(n) || *by != by.FitTo(n))) {
				t.Fatalf("not sampled by reason %+v with %d outstanding and %d missed", by, st.Outstanding, st.Missed)
			}
		}
		if len(st.MissedHouseholdReasons) > len(st.MissedHouseholds) {
			t.Fatalf("%d household reasons for %d missed households", len(st.MissedHouseholdReasons), len(st.MissedHouseholds))
		}
		for _, hr := range st.MissedHouseholdReasons {
			if !hr.Reason.Valid() || hr.Reason == sweepv1alpha1.MissedUnknown {
				t.Fatalf("status keeps household reason %q", hr.Reason)
			}
		}
		if st.HomeVisited < 0 || st.HomeVisited > st.Sampled || st.Tubes < 0 {
			t.Fatalf("home-visited %d, tubes %d with %d sampled", st.HomeVisited, st.Tubes, st.Sampled)
		}
		// Missed households are the knock list: capped, and empty once
		// nobody is missed (docs/collector-api.md). Their number is not
		// tied to missed or to the roster's households.
		if n := len(st.MissedHouseholds); n > sweepv1alpha1.MaxMissedHouseholds || (n > 0 && st.Sampled == expected) {
			t.Fatalf("%d missed households kept with everyone sampled", n)
		}
		if st.Report != nil {
			t.Fatal("the decision writes status.report, the collector's field")
		}
		if before.Status.Phase.Finished() && (st.Phase != before.Status.Phase || st.Sampled != before.Status.Sampled) {
			t.Fatalf("a finished job changed: %q/%d to %q/%d", before.Status.Phase, before.Status.Sampled, st.Phase, st.Sampled)
		}
		if st.Sampled != sampled && (rep.Visit != before.Status.Visits || before.Status.Phase != sweepv1alpha1.JobActive) {
			t.Fatalf("a report for visit %d changed sampled while visit %d is %q", rep.Visit, before.Status.Visits, before.Status.Phase)
		}
		if st.Visits < before.Status.Visits || st.Visits > max(before.Status.Visits+1, 1) {
			t.Fatalf("visits went from %d to %d in one decision", before.Status.Visits, st.Visits)
		}
	})
}
