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
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

// The night of the follow-up tests: b-0 was swabbed at fSwab, the lab
// resulted its pooled tube P-1 (10 swabs from 3 households) at fResult,
// the retest ran from fStart to fDone, and the single tubes were resulted
// from fSingle on.
var (
	fSwab    = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	fResult  = fSwab.Add(3 * time.Hour)
	fStart   = fResult.Add(30 * time.Minute)
	fDone    = fStart.Add(time.Hour)
	fSingle  = fDone.Add(2 * time.Hour)
	fNow     = fSingle.Add(time.Hour)
	fHouses  = []string{"2-202", "1-101", "3-303"}
	fSwabs   = int32(10)
	fRetestD = 6 * time.Hour
)

func fRound() *sweepv1alpha1.TestingRound {
	return testobjects.Round("district-7", "night").WithUID("uid-night").
		Teams(2).PoolSize(10).Order(sweepv1alpha1.OrderSealedFirst).
		Deadline(fSwab.Add(12*time.Hour)).Visits(2, 0).Drill().
		Lab(&sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill, RetestDeadline: sweepv1alpha1.NewDuration(fRetestD)}).Obj()
}

// fPositive is a positive pooled tube of b-0.
func fPositive(tube string) TubeResult {
	swab := fSwab
	return TubeResult{Tube: tube, Building: "b-0", Kind: Pooled, Positive: true, Swabs: fSwabs,
		Households: slices.Clone(fHouses), SwabTime: &swab, ResultTime: fResult}
}

// fSingleResult is the i-th single tube of pool P-1.
func fSingleResult(i int, household string, positive bool) TubeResult {
	return TubeResult{Tube: fmt.Sprintf("S-1-%02d", i), Building: "b-0", Kind: Single, Positive: positive,
		Pool: "P-1", Household: household, ResultTime: fSingle.Add(time.Duration(i) * time.Minute)}
}

func fTally(results ...TubeResult) *Tally {
	t := NewTally()
	for _, r := range results {
		t.Add(r)
	}
	return t
}

// fSweep is b-0's job in the round.
func fSweep() *sweepv1alpha1.CollectionJob {
	return testobjects.Job("district-7", round.JobName("night", "uid-night", "b-0")).
		Label(sweepv1alpha1.LabelRound, "night").Label(sweepv1alpha1.LabelBuilding, "b-0").
		Round("night").Building("b-0").Expected(100).Households(40).Layout(2, 10).
		Level(sweepv1alpha1.ControlLevelControlled).PoolSize(10).Phase(sweepv1alpha1.JobCompleted).Sampled(100).Obj()
}

var fPoolName = PoolName("night", "uid-night", "P-1")

// fPool is P-1's pool, stored, with status st.
func fPool(st sweepv1alpha1.PositivePoolStatus) *sweepv1alpha1.PositivePool {
	p := NewPool(fRound(), fPositive("P-1"))
	p.UID = "uid-pool"
	p.Status = st
	return p
}

// fRetest is P-1's retest job as NewRetest makes it, then changed by
// each of set.
func fRetest(set ...func(*sweepv1alpha1.CollectionJob)) *sweepv1alpha1.CollectionJob {
	j := NewRetest(fRound(), fPool(sweepv1alpha1.PositivePoolStatus{}), fSweep())
	for _, s := range set {
		s(j)
	}
	return j
}

// The states a retest job goes through, as the collection controller
// writes them (expected = sampled + outstanding + missed once admitted).
func admitted(j *sweepv1alpha1.CollectionJob) { j.Spec.Suspend = false }

func active(sampled int32) func(*sweepv1alpha1.CollectionJob) {
	return func(j *sweepv1alpha1.CollectionJob) {
		j.Spec.Suspend = false
		j.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Visits: 1, Sampled: sampled,
			Outstanding: j.Spec.Expected - sampled, StartTime: &metav1.Time{Time: fStart}, ActiveJob: j.Name + "-v1"}
	}
}

func finished(phase sweepv1alpha1.JobPhase, sampled int32) func(*sweepv1alpha1.CollectionJob) {
	return func(j *sweepv1alpha1.CollectionJob) {
		j.Spec.Suspend = false
		j.Status = sweepv1alpha1.CollectionJobStatus{Phase: phase, Visits: 1, Sampled: sampled, Missed: j.Spec.Expected - sampled,
			StartTime: &metav1.Time{Time: fStart}, CompletionTime: &metav1.Time{Time: fDone}}
	}
}

func at(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

// TestDecide is a table test of the lab controller's decision: what the
// lab said (tally), the round's pools, retests and sweep jobs, and now;
// the pools and retests to create, the statuses that changed, the events.
func TestDecide(t *testing.T) {
	swab := fSwab
	wantPool := &sweepv1alpha1.PositivePool{
		ObjectMeta: metav1.ObjectMeta{
			Name: fPoolName, Namespace: "district-7",
			Labels: map[string]string{sweepv1alpha1.LabelRound: "night", sweepv1alpha1.LabelBuilding: "b-0"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: sweepv1alpha1.GroupVersion.String(), Kind: "TestingRound",
				Name: "night", UID: "uid-night", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: sweepv1alpha1.PositivePoolSpec{Round: "night", Building: "b-0", Tube: "P-1", Households: fHouses, Swabs: fSwabs,
			SwabTime: &metav1.Time{Time: swab}, ResultTime: metav1.Time{Time: fResult}},
	}
	wantRetest := &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{
			Name: fPoolName, Namespace: "district-7",
			Labels: map[string]string{sweepv1alpha1.LabelRound: "night", sweepv1alpha1.LabelBuilding: "b-0",
				sweepv1alpha1.LabelPool: fPoolName},
			OwnerReferences: wantPool.OwnerReferences,
		},
		Spec: sweepv1alpha1.CollectionJobSpec{
			Round: "night", Building: "b-0",
			Expected: fSwabs, Households: 3, // one swab per resident of the tube
			Units: 2, Floors: 10, ControlLevel: sweepv1alpha1.ControlLevelControlled,
			PoolSize: 1,
			Supplies: ptr.To(round.Forecast(fSwabs, 1, sweepv1alpha1.SuppliesPolicy{})),
			Deadline: metav1.Time{Time: fResult.Add(fRetestD)},
			Suspend:  true,
			Retest:   &sweepv1alpha1.RetestSpec{Pool: fPoolName, Tube: "P-1", Households: fHouses},
		},
	}
	// The seven single tubes of a retest done in full: 1-101 and 3-303
	// positive (1-101 twice, once negative too), 2-202 negative.
	allSingles := []TubeResult{
		fSingleResult(0, "2-202", false), fSingleResult(1, "3-303", true), fSingleResult(2, "1-101", false),
		fSingleResult(3, "1-101", true), fSingleResult(4, "2-202", false), fSingleResult(5, "2-202", false),
		fSingleResult(6, "1-101", true), fSingleResult(7, "3-303", false), fSingleResult(8, "2-202", false),
		fSingleResult(9, "2-202", false),
	}
	last := allSingles[9].ResultTime
	withSingles := func(n int) *Tally { return fTally(append([]TubeResult{fPositive("P-1")}, allSingles[:n]...)...) }
	retesting := sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolRetesting, RetestJob: fPoolName, Retested: 3, RetestStartTime: at(fStart)}
	awaiting := sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolAwaitingResults, RetestJob: fPoolName, Retested: 10,
		RetestStartTime: at(fStart), RetestCompletionTime: at(fDone)}
	resolved := sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolResolved, RetestJob: fPoolName, Retested: 10, Resulted: 10,
		HouseholdsToSeal: []string{"1-101", "3-303"}, RetestStartTime: at(fStart), RetestCompletionTime: at(fDone), ResolvedTime: at(last)}
	incomplete := func(missing int32) []metav1.Condition {
		return []metav1.Condition{{Type: sweepv1alpha1.ConditionIncomplete, Status: metav1.ConditionTrue, Reason: "ResidentsNotRetested",
			LastTransitionTime: metav1.Time{Time: fNow},
			Message:            fmt.Sprintf("%d of the tube's 10 residents were not retested before the retest ended; they are missed.", missing)}}
	}
	deleting := fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolOpen})
	deleting.DeletionTimestamp = at(fNow)
	deleting.Finalizers = []string{"test/keep"}

	cases := []struct {
		name    string
		tally   *Tally
		pools   []*sweepv1alpha1.PositivePool
		retests []*sweepv1alpha1.CollectionJob
		jobs    []*sweepv1alpha1.CollectionJob

		wantPools    []*sweepv1alpha1.PositivePool
		wantRetests  []*sweepv1alpha1.CollectionJob
		wantStatuses map[string]sweepv1alpha1.PositivePoolStatus
		wantResolved []string
		// wantEvents are "<pool> <type> <reason>".
		wantEvents []string
	}{{
		name:         "a new positive tube: its pool and its retest of exactly its households",
		tally:        fTally(fPositive("P-1")),
		jobs:         []*sweepv1alpha1.CollectionJob{fSweep()},
		wantPools:    []*sweepv1alpha1.PositivePool{wantPool},
		wantRetests:  []*sweepv1alpha1.CollectionJob{wantRetest},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolOpen}},
		wantEvents:   []string{fPoolName + " Warning PositivePool"},
	}, {
		name:  "negative pooled tubes and singles of no pool: nothing to do",
		tally: fTally(TubeResult{Tube: "P-2", Building: "b-0", Kind: Pooled, ResultTime: fResult}, fSingleResult(0, "2-202", true)),
		jobs:  []*sweepv1alpha1.CollectionJob{fSweep()},
	}, {
		name:         "no sweep job for the building (not in the cache yet): the pool now, its retest later",
		tally:        fTally(fPositive("P-1")),
		wantPools:    []*sweepv1alpha1.PositivePool{wantPool},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolOpen}},
		wantEvents:   []string{fPoolName + " Warning PositivePool"},
	}, {
		name:        "an existing pool without its retest: the retest is created again, the pool is not",
		tally:       fTally(fPositive("P-1")),
		pools:       []*sweepv1alpha1.PositivePool{fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolOpen})},
		jobs:        []*sweepv1alpha1.CollectionJob{fSweep()},
		wantRetests: []*sweepv1alpha1.CollectionJob{wantRetest},
	}, {
		name:  "a pool being deleted gets no retest",
		tally: fTally(fPositive("P-1")),
		pools: []*sweepv1alpha1.PositivePool{deleting},
		jobs:  []*sweepv1alpha1.CollectionJob{fSweep()},
	}, {
		name:         "retest queued: Open, naming its job",
		tally:        fTally(fPositive("P-1")),
		pools:        []*sweepv1alpha1.PositivePool{fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolOpen})},
		retests:      []*sweepv1alpha1.CollectionJob{fRetest()},
		jobs:         []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolOpen, RetestJob: fPoolName}},
	}, {
		name:    "retest admitted, no visit yet: still Open",
		tally:   fTally(fPositive("P-1")),
		pools:   []*sweepv1alpha1.PositivePool{fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolOpen, RetestJob: fPoolName})},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(admitted)},
		jobs:    []*sweepv1alpha1.CollectionJob{fSweep()},
	}, {
		name:         "retest visiting: Retesting",
		tally:        fTally(fPositive("P-1")),
		pools:        []*sweepv1alpha1.PositivePool{fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolOpen, RetestJob: fPoolName})},
		retests:      []*sweepv1alpha1.CollectionJob{fRetest(active(3))},
		jobs:         []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: retesting},
		wantEvents:   []string{fPoolName + " Normal RetestStarted"},
	}, {
		name:    "singles arriving before the retest ends are counted; the pool is not resolved",
		tally:   withSingles(2),
		pools:   []*sweepv1alpha1.PositivePool{fPool(retesting)},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(active(5))},
		jobs:    []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolRetesting, RetestJob: fPoolName,
			Retested: 5, Resulted: 2, HouseholdsToSeal: []string{"3-303"}, RetestStartTime: at(fStart)}},
	}, {
		name:         "retest done: AwaitingResults",
		tally:        fTally(fPositive("P-1")),
		pools:        []*sweepv1alpha1.PositivePool{fPool(retesting)},
		retests:      []*sweepv1alpha1.CollectionJob{fRetest(finished(sweepv1alpha1.JobCompleted, 10))},
		jobs:         []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: awaiting},
		wantEvents:   []string{fPoolName + " Normal RetestDone"},
	}, {
		name:    "some singles after the retest ended: still AwaitingResults",
		tally:   withSingles(6),
		pools:   []*sweepv1alpha1.PositivePool{fPool(awaiting)},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(finished(sweepv1alpha1.JobCompleted, 10))},
		jobs:    []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolAwaitingResults, RetestJob: fPoolName,
			Retested: 10, Resulted: 6, HouseholdsToSeal: []string{"1-101", "3-303"}, RetestStartTime: at(fStart), RetestCompletionTime: at(fDone)}},
	}, {
		name:         "every single resulted: Resolved, the positive singles' households to seal, sorted, once each",
		tally:        withSingles(10),
		pools:        []*sweepv1alpha1.PositivePool{fPool(awaiting)},
		retests:      []*sweepv1alpha1.CollectionJob{fRetest(finished(sweepv1alpha1.JobCompleted, 10))},
		jobs:         []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: resolved},
		wantResolved: []string{fPoolName},
		wantEvents:   []string{fPoolName + " Normal PoolResolved"},
	}, {
		// The lab controller may never see the job finished before all
		// the singles are in: the pool goes from Retesting to Resolved.
		// (It hears no RetestDone then; the metric of the time to retest
		// still gets its sample from retestCompletionTime.)
		name:         "Retesting to Resolved in one look",
		tally:        withSingles(10),
		pools:        []*sweepv1alpha1.PositivePool{fPool(retesting)},
		retests:      []*sweepv1alpha1.CollectionJob{fRetest(finished(sweepv1alpha1.JobCompleted, 10))},
		jobs:         []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: resolved},
		wantResolved: []string{fPoolName},
		wantEvents:   []string{fPoolName + " Normal PoolResolved"},
	}, {
		name: "a retest that expired having swabbed 4 of 10: Resolved once its 4 singles are in, Incomplete",
		tally: fTally(fPositive("P-1"), fSingleResult(0, "2-202", false), fSingleResult(1, "1-101", false),
			fSingleResult(2, "1-101", false), fSingleResult(3, "3-303", false)),
		pools:   []*sweepv1alpha1.PositivePool{fPool(retesting)},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(finished(sweepv1alpha1.JobExpired, 4))},
		jobs:    []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolResolved, RetestJob: fPoolName,
			Retested: 4, Resulted: 4, RetestStartTime: at(fStart), RetestCompletionTime: at(fDone),
			ResolvedTime: at(fSingle.Add(3 * time.Minute)), Conditions: incomplete(6)}},
		wantResolved: []string{fPoolName},
		wantEvents:   []string{fPoolName + " Normal PoolResolved"},
	}, {
		name:  "a retest that expired in the queue: Resolved at once, nobody retested, Incomplete",
		tally: fTally(fPositive("P-1")),
		pools: []*sweepv1alpha1.PositivePool{fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolOpen, RetestJob: fPoolName})},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(func(j *sweepv1alpha1.CollectionJob) {
			j.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobExpired, Missed: fSwabs, CompletionTime: at(fDone)}
		})},
		jobs: []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolResolved, RetestJob: fPoolName,
			RetestCompletionTime: at(fDone), ResolvedTime: at(fNow), Conditions: incomplete(10)}},
		wantResolved: []string{fPoolName},
		wantEvents:   []string{fPoolName + " Normal PoolResolved"},
	}, {
		// After a restart the tally is read again from the start, and
		// until the lab answers it is empty; the cache may show an older
		// job. What the status says stays.
		name:  "restart: an empty tally and an older job keep retested 10, resulted 10 and the households to seal",
		tally: NewTally(),
		pools: []*sweepv1alpha1.PositivePool{fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolRetesting, RetestJob: fPoolName,
			Retested: 10, Resulted: 10, HouseholdsToSeal: []string{"1-101"}, RetestStartTime: at(fStart)})},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(active(6))},
	}, {
		name:  "restart after the retest ended: the results kept resolve the pool",
		tally: NewTally(),
		pools: []*sweepv1alpha1.PositivePool{fPool(sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolRetesting, RetestJob: fPoolName,
			Retested: 10, Resulted: 10, HouseholdsToSeal: []string{"1-101", "3-303"}, RetestStartTime: at(fStart)})},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(finished(sweepv1alpha1.JobCompleted, 10))},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolResolved, RetestJob: fPoolName,
			Retested: 10, Resulted: 10, HouseholdsToSeal: []string{"1-101", "3-303"}, RetestStartTime: at(fStart),
			RetestCompletionTime: at(fDone), ResolvedTime: at(fNow)}},
		wantResolved: []string{fPoolName},
		wantEvents:   []string{fPoolName + " Normal PoolResolved"},
	}, {
		name: "a resolved pool never changes, whatever the lab says later",
		tally: fTally(append([]TubeResult{fPositive("P-1"), fSingleResult(20, "2-202", true), fSingleResult(21, "2-202", true)},
			allSingles...)...),
		pools:   []*sweepv1alpha1.PositivePool{fPool(resolved)},
		retests: []*sweepv1alpha1.CollectionJob{fRetest(finished(sweepv1alpha1.JobCompleted, 10))},
		jobs:    []*sweepv1alpha1.CollectionJob{fSweep()},
	}, {
		name:  "a resolved pool whose retest job was deleted is not retested again",
		tally: fTally(fPositive("P-1")),
		pools: []*sweepv1alpha1.PositivePool{fPool(resolved)},
		jobs:  []*sweepv1alpha1.CollectionJob{fSweep()},
	}, {
		name:  "a pool awaiting results whose retest job was deleted: no new retest, the phase does not go back",
		tally: withSingles(4),
		pools: []*sweepv1alpha1.PositivePool{fPool(awaiting)},
		jobs:  []*sweepv1alpha1.CollectionJob{fSweep()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolAwaitingResults, RetestJob: fPoolName,
			Retested: 10, Resulted: 4, HouseholdsToSeal: []string{"1-101", "3-303"}, RetestStartTime: at(fStart), RetestCompletionTime: at(fDone)}},
	}, {
		name:  "two new tubes: pools and retests in tube order",
		tally: fTally(fPositive("P-2"), fPositive("P-1")),
		jobs:  []*sweepv1alpha1.CollectionJob{fSweep()},
		wantPools: []*sweepv1alpha1.PositivePool{wantPool, func() *sweepv1alpha1.PositivePool {
			p := wantPool.DeepCopy()
			p.Name, p.Spec.Tube = PoolName("night", "uid-night", "P-2"), "P-2"
			return p
		}()},
		wantRetests: []*sweepv1alpha1.CollectionJob{wantRetest, func() *sweepv1alpha1.CollectionJob {
			j := wantRetest.DeepCopy()
			name := PoolName("night", "uid-night", "P-2")
			j.Name, j.Labels[sweepv1alpha1.LabelPool], j.Spec.Retest.Pool, j.Spec.Retest.Tube = name, name, name, "P-2"
			return j
		}()},
		wantStatuses: map[string]sweepv1alpha1.PositivePoolStatus{fPoolName: {Phase: sweepv1alpha1.PoolOpen},
			PoolName("night", "uid-night", "P-2"): {Phase: sweepv1alpha1.PoolOpen}},
		wantEvents: []string{fPoolName + " Warning PositivePool", PoolName("night", "uid-night", "P-2") + " Warning PositivePool"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(Observed{Round: fRound(), Tally: c.tally, Pools: c.pools, Retests: c.retests, Jobs: c.jobs, Now: fNow})
			if !equality.Semantic.DeepEqual(d.NewPools, c.wantPools) {
				t.Errorf("new pools (-want +got):\n%s", diff.Diff(c.wantPools, d.NewPools))
			}
			if !equality.Semantic.DeepEqual(d.NewRetests, c.wantRetests) {
				t.Errorf("new retests (-want +got):\n%s", diff.Diff(c.wantRetests, d.NewRetests))
			}
			if c.wantStatuses == nil {
				c.wantStatuses = map[string]sweepv1alpha1.PositivePoolStatus{}
			}
			if !equality.Semantic.DeepEqual(d.Statuses, c.wantStatuses) {
				t.Errorf("statuses (-want +got):\n%s", diff.Diff(c.wantStatuses, d.Statuses))
			}
			var resolvedNames []string
			for _, p := range d.Resolved {
				resolvedNames = append(resolvedNames, p.Name)
			}
			if !slices.Equal(resolvedNames, c.wantResolved) {
				t.Errorf("resolved %v, want %v", resolvedNames, c.wantResolved)
			}
			var events []string
			for _, e := range d.Events {
				events = append(events, e.Pool+" "+e.Type+" "+e.Reason)
				if e.Message == "" {
					t.Errorf("event %s %s has no message", e.Pool, e.Reason)
				}
			}
			if !slices.Equal(events, c.wantEvents) {
				t.Errorf("events %q, want %q", events, c.wantEvents)
			}
			// Deciding again on what this decision wrote changes nothing.
			var again []*sweepv1alpha1.PositivePool
			for _, p := range append(slices.Clone(c.pools), d.NewPools...) {
				p = p.DeepCopy()
				if st, ok := d.Statuses[p.Name]; ok {
					p.Status = st
				}
				again = append(again, p)
			}
			if d2 := Decide(Observed{Round: fRound(), Tally: c.tally, Pools: again, Retests: c.retests, Jobs: c.jobs, Now: fNow.Add(time.Minute)}); len(d2.NewPools) != 0 || len(d2.Statuses) != 0 || len(d2.Events) != 0 {
				t.Errorf("deciding again: %d new pools, statuses %+v, events %+v", len(d2.NewPools), d2.Statuses, d2.Events)
			}
		})
	}
}

// TestDecideEventsNameNoResident checks the events' messages: tubes,
// buildings, households and counts only.
func TestDecideEventsNameNoResident(t *testing.T) {
	d := Decide(Observed{Round: fRound(), Tally: fTally(fPositive("P-1")), Jobs: []*sweepv1alpha1.CollectionJob{fSweep()}, Now: fNow})
	if len(d.Events) != 1 || d.Events[0].Type != corev1.EventTypeWarning ||
		d.Events[0].Message != "Pooled tube P-1 of building b-0 is positive: 10 swabs from 3 households to retest one by one." {
		t.Errorf("events %+v", d.Events)
	}
}

func TestPoolName(t *testing.T) {
	long := strings.Repeat("x", 63)
	longTube := strings.Repeat("T1.", 21) + "T"
	names := map[string]string{}
	for _, c := range []struct{ round, uid, tube string }{
		{"night", "uid-1", "P-1"}, {"night", "uid-2", "P-1"}, {"night", "uid-1", "P-2"},
		{"night", "uid-1", "P_1"}, {"night", "uid-1", "P.1"}, {"night", "uid-1", "p-1"},
		{long, "uid-1", longTube}, {long, "uid-2", longTube}, {long, "uid-1", longTube + "2"},
		{"a", "uid-1", "b-P-1"}, {"a-b", "uid-1", "P-1"},
	} {
		name := PoolName(c.round, c.uid, c.tube)
		if again := PoolName(c.round, c.uid, c.tube); again != name {
			t.Errorf("PoolName(%q, %q, %q) is %q, then %q", c.round, c.uid, c.tube, name, again)
		}
		if len(name) > round.MaxJobNameLength {
			t.Errorf("PoolName(%q, %q, %q) = %q: %d characters, more than %d", c.round, c.uid, c.tube, name, len(name), round.MaxJobNameLength)
		}
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			t.Errorf("PoolName(%q, %q, %q) = %q: not a DNS label: %v", c.round, c.uid, c.tube, name, errs)
		}
		key := c.round + "/" + c.uid + "/" + c.tube
		for other, n := range names {
			if n == name {
				t.Errorf("%s and %s both name their pool %q", key, other, name)
			}
		}
		names[key] = name
		// A building named as the tube has another job name.
		if name == round.JobName(c.round, "uid-1", c.tube) || name == round.JobName(c.round, "uid-1", strings.ToLower(c.tube)) {
			t.Errorf("PoolName(%q, %q, %q) = %q is a building's job name", c.round, c.uid, c.tube, name)
		}
	}
}

var poolPhases = []sweepv1alpha1.PositivePoolPhase{sweepv1alpha1.PoolOpen, sweepv1alpha1.PoolRetesting,
	sweepv1alpha1.PoolAwaitingResults, sweepv1alpha1.PoolResolved}

// FuzzPoolStatus runs a pool's retest through the collection controller's
// own decision (admission, visits with reports, failed attempts, re-knocks,
// the deadline), with single-tube results arriving at any time, manager
// restarts that empty the tally, a cache that shows an older job, and the
// job deleted; after every step it checks:
//   - the retest job: sampled + outstanding + missed = the pool's swabs once
//     admitted;
//   - the pool: retested ≤ swabs and never down, resulted ≥ 0 and never
//     down, households to seal sorted, unique, among the pool's households
//     and never fewer, the phase never back, Resolved only once the job
//     finished and every single tube taken is resulted (Incomplete exactly
//     when residents were not retested), and a resolved pool unchanged.
func FuzzPoolStatus(f *testing.F) {
	f.Add(uint8(9), uint8(3), []byte{0, 2 | 10<<3, 4, 12, 20, 2 | 31<<3, 1 | 10<<3, 2 | 31<<3, 1 | 31<<3, 4, 12, 20, 28, 4, 12})
	f.Add(uint8(19), uint8(20), []byte{0, 2 | 3<<3, 5, 6, 7, 3, 1 | 31<<3, 4 | 8, 1 | 31<<3, 1 | 31<<3})
	f.Add(uint8(0), uint8(1), []byte{1 | 31<<3, 1 | 31<<3, 1 | 31<<3, 4, 5})
	f.Add(uint8(4), uint8(2), []byte{0, 3, 1 | 2<<3, 2 | 1<<3, 7, 6, 1 | 31<<3, 4 | 1<<3, 4 | 2<<3, 5, 4, 4, 4, 4})
	f.Fuzz(func(t *testing.T, swabs, households uint8, steps []byte) {
		if len(steps) > 300 {
			steps = steps[:300]
		}
		r := fRound()
		res := fPositive("P-1")
		res.Swabs = 1 + int32(swabs)%MaxSwabs
		n := 1 + int(households)%min(int(res.Swabs), sweepv1alpha1.MaxPoolHouseholds)
		res.Households = nil
		for i := range n {
			res.Households = append(res.Households, fmt.Sprintf("%d-%d", 1+i%3, 101+i))
		}
		p := NewPool(r, res)
		job := NewRetest(r, p, fSweep())
		if job.Spec.Expected != p.Spec.Swabs || int(job.Spec.Households) != n || job.Spec.PoolSize != 1 {
			t.Fatalf("retest of %d swabs from %d households: %+v", p.Spec.Swabs, n, job.Spec)
		}
		now := fResult
		var results []TubeResult // every single the lab resulted so far
		tally := fTally(res)
		prevJob := job.DeepCopy()
		jobDone := false

		for i, b := range steps {
			arg := int32(b >> 3)
			obs := collection.Observed{State: collection.VisitRunning, Started: now}
			decide := true
			view := job // the job the lab controller sees
			switch b % 8 {
			case 0: // the round admits it
				job.Spec.Suspend = false
			case 1: // time passes
				now = now.Add(time.Duration(arg) * 15 * time.Minute)
			case 2: // the visit reports
				if job.Status.Phase == sweepv1alpha1.JobActive && job.Status.ActiveJob != "" {
					sampled := min(job.Status.Sampled+arg, job.Spec.Expected)
					obs.State = collection.VisitSucceeded
					obs.Report = &sweepv1alpha1.VisitReport{Visit: job.Status.Visits, Sampled: sampled,
						Missed: job.Spec.Expected - sampled, Final: true, Time: metav1.Time{Time: now}}
				}
			case 3: // the visit's pod fails
				obs.State, obs.Cause = collection.VisitFailed, "OOMKilled"
			case 4: // the lab results a single tube
				h := res.Households[int(arg)%n]
				results = append(results, TubeResult{Tube: fmt.Sprintf("S-%d", i), Building: "b-0", Kind: Single,
					Positive: arg&1 == 1, Pool: "P-1", Household: h, ResultTime: now})
				tally.Add(results[len(results)-1])
				decide = false
			case 5: // the manager restarts: the tally is read again, partly
				tally = fTally(res)
				for _, s := range results[:min(int(arg), len(results))] {
					tally.Add(s)
				}
				decide = false
			case 6: // the cache shows the job as it was
				view, decide = prevJob, false
			case 7: // the job is gone (deleted by hand)
				view, decide = nil, false
			}
			if decide {
				prevJob = job.DeepCopy()
				d := collection.Decide(job, obs, now)
				job.Status = d.Status
			}
			if js := job.Status; js.Phase != "" && js.Phase != sweepv1alpha1.JobQueued && js.Sampled+js.Outstanding+js.Missed != p.Spec.Swabs {
				t.Fatalf("step %d: retest job %s: sampled %d + outstanding %d + missed %d != %d swabs", i, js.Phase, js.Sampled, js.Outstanding, js.Missed, p.Spec.Swabs)
			}
			jobDone = jobDone || job.Status.Phase.Finished()

			old := p.Status
			st, _ := PoolStatus(p, view, tally, now)
			where := fmt.Sprintf("step %d (op %d): %+v -> %+v (job %s, %d sampled)", i, b%8, old, st, job.Status.Phase, job.Status.Sampled)
			switch {
			case st.Retested < old.Retested || st.Retested > p.Spec.Swabs:
				t.Fatalf("%s: retested out of bounds or down", where)
			case st.Resulted < old.Resulted || st.Resulted < 0:
				t.Fatalf("%s: resulted down", where)
			case slices.Index(poolPhases, st.Phase) < slices.Index(poolPhases, old.Phase) || slices.Index(poolPhases, st.Phase) < 0:
				t.Fatalf("%s: phase went back", where)
			case !slices.IsSorted(st.HouseholdsToSeal) || len(slices.Compact(slices.Clone(st.HouseholdsToSeal))) != len(st.HouseholdsToSeal):
				t.Fatalf("%s: households to seal not sorted and unique", where)
			case old.Phase == sweepv1alpha1.PoolResolved && !equality.Semantic.DeepEqual(st, old):
				t.Fatalf("%s: a resolved pool changed", where)
			case st.Phase == sweepv1alpha1.PoolResolved && old.Phase != sweepv1alpha1.PoolResolved && (!jobDone || st.Resulted < st.Retested || st.ResolvedTime == nil):
				t.Fatalf("%s: resolved before the retest ended and every single tube was resulted", where)
			case st.Phase == sweepv1alpha1.PoolResolved && meta.IsStatusConditionTrue(st.Conditions, sweepv1alpha1.ConditionIncomplete) != (st.Retested < p.Spec.Swabs):
				t.Fatalf("%s: Incomplete with %d of %d retested", where, st.Retested, p.Spec.Swabs)
			case view != nil && view.Status.Phase.Finished() && slices.Index(poolPhases, st.Phase) < 2:
				t.Fatalf("%s: the retest finished and the pool is not past it", where)
			case view != nil && st.Retested < view.Status.Sampled:
				t.Fatalf("%s: retested below the job's sampled", where)
			}
			for _, h := range old.HouseholdsToSeal {
				if !slices.Contains(st.HouseholdsToSeal, h) {
					t.Fatalf("%s: household %s no longer to seal", where, h)
				}
			}
			for _, h := range st.HouseholdsToSeal {
				if !slices.Contains(p.Spec.Households, h) {
					t.Fatalf("%s: household %s to seal did not swab into the tube", where, h)
				}
			}
			p.Status = st
		}
	})
}
