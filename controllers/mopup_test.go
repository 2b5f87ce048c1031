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

package controllers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/schedule"
)

func localExecutor(mgr ctrl.Manager) Executor { return NewLocalExecutor(mgr.GetClient(), 16, 0) }

// roundJobs lists the CollectionJobs the round stored as ns/name controls,
// by building.
func roundJobs(t *testing.T, ns, name string) map[string]sweepv1alpha1.CollectionJob {
	t.Helper()
	tr := getRound(t, ns, name)
	out := map[string]sweepv1alpha1.CollectionJob{}
	for _, j := range round.Controlled(tr, listJobs(t, ns)) {
		out[j.Spec.Building] = j
	}
	return out
}

// checkMopUpOf checks what the issue asks of mop-up round mopUp of round
// main: one job per building main missed residents in, expecting exactly
// those residents and knocking exactly the households main missed there,
// and its expected count main's missed.
func checkMopUpOf(t *testing.T, ns, main, mopUp string) {
	t.Helper()
	mainJobs, mopUpJobs := roundJobs(t, ns, main), roundJobs(t, ns, mopUp)
	var missedBuildings []string
	for b, j := range mainJobs {
		mj, ok := mopUpJobs[b]
		switch missed := j.Spec.Expected - j.Status.Sampled; {
		case missed == 0 && ok:
			t.Errorf("building %s missed nobody in %s, yet %s knocks it", b, main, mopUp)
		case missed == 0:
		case !ok:
			t.Errorf("building %s missed %d in %s, but %s has no job for it", b, missed, main, mopUp)
		case mj.Spec.MopUp == nil || mj.Spec.Expected != missed || mj.Spec.MopUp.Job != j.Name || mj.Spec.MopUp.Round != main ||
			!slices.Equal(mj.Spec.MopUp.Households, j.Status.MissedHouseholds):
			t.Errorf("building %s: the mop-up expects %d knocking %+v; %s missed %d in %v (job %s)",
				b, mj.Spec.Expected, mj.Spec.MopUp, main, missed, j.Status.MissedHouseholds, j.Name)
		default:
			missedBuildings = append(missedBuildings, b)
		}
	}
	if len(mopUpJobs) != len(missedBuildings) {
		t.Errorf("%s has %d jobs for %d buildings with residents missed", mopUp, len(mopUpJobs), len(missedBuildings))
	}
	await(t, mopUp+" counts its expected residents", func() (bool, error) {
		return getRound(t, ns, mopUp).Status.Buildings.Total == int32(len(missedBuildings)), nil
	})
	if m, e := getRound(t, ns, main).Status.Residents.Missed, getRound(t, ns, mopUp).Status.Residents.Expected; m != e || m == 0 {
		t.Errorf("%s expects %d residents, %s missed %d", mopUp, e, main, m)
	}
}

// A drill round with missed residents runs to its end under a
// TestingSchedule with mopUp.after 2h; the fake clock moves to 2h past its
// end, and the mop-up round is created then, not before, targets exactly
// the missed households, expects exactly the missed residents, and runs to
// its own end knocking only those doors.
func TestScheduleCreatesTheMopUpRoundAfterTheRound(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	createBuildings(t, ns, 24, street)
	at := nextShanghai(6)
	clk := clocktesting.NewFakeClock(at.Add(-time.Minute))
	startManagerWith(t, ns, clk, nil, localExecutor)
	startScheduleManager(t, ns, clk)

	s := newTestSchedule(ns, "baoguo", "0 6 * * *", func(s *sweepv1alpha1.TestingSchedule) {
		tpl := &s.Spec.RoundTemplate.Spec
		tpl.Teams = 8
		tpl.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
		tpl.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 20221126, AbsentPercent: ptr.To[int32](15), StillAbsentPercent: ptr.To[int32](40)}
		s.Spec.MopUp = &sweepv1alpha1.MopUpPolicy{After: sweepv1alpha1.Duration{Duration: 2 * time.Hour}, Duration: sweepv1alpha1.NewDuration(4 * time.Hour)}
	})
	if err := k8s.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(at.Add(10 * time.Second))
	pokeSchedule(t, ns, s.Name)
	main := schedule.RoundName(s.Name, at, shanghai)
	awaitRounds(t, ns, main)
	await(t, main+" Completed", func() (bool, error) {
		return getRound(t, ns, main).Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	mr := getRound(t, ns, main)
	if mr.Status.Residents.Missed == 0 || mr.Status.CompletionTime == nil {
		t.Fatalf("the round missed nobody (%+v): the test proves nothing", mr.Status.Residents)
	}
	t.Logf("%s: %d of %d residents missed in %s buildings", main, mr.Status.Residents.Missed, mr.Status.Residents.Expected, mr.Status.BuildingProgress)

	// The schedule saw the round end and knows when its mop-up is due; the
	// reconcile that wrote it decided, with the clock before then, not to
	// create the mop-up yet (the second before is schedule.Decide's table
	// test).
	due := mr.Status.CompletionTime.Add(2 * time.Hour)
	await(t, "status.nextMopUpTime", func() (bool, error) {
		st := getSchedule(t, ns, s.Name).Status
		return st.NextMopUpTime != nil && st.NextMopUpTime.Time.Equal(due), nil
	})
	if got := roundNames(t, ns); !slices.Equal(got, []string{main}) {
		t.Fatalf("rounds before the mop-up is due: %v", got)
	}

	clk.SetTime(due)
	pokeSchedule(t, ns, s.Name)
	mopUp := schedule.MopUpRoundName(main, 1)
	awaitRounds(t, ns, main, mopUp)
	if got := roundNames(t, ns); !slices.Equal(got, []string{main, mopUp}) {
		t.Fatalf("rounds %v", got)
	}
	mu := getRound(t, ns, mopUp)
	if mu.Spec.MopUpOf != main || !mu.Spec.Start.Time.Equal(due) || !mu.Spec.Deadline.Time.Equal(due.Add(4*time.Hour)) ||
		!metav1.IsControlledBy(mu, getSchedule(t, ns, s.Name)) || mu.Spec.BuildingSelector != nil {
		t.Fatalf("mop-up round %s: %+v, owners %+v", mopUp, mu.Spec, mu.OwnerReferences)
	}
	awaitScheduleEvent(t, ns, s.Name, "CreatedMopUpRound", mopUp)

	await(t, mopUp+" expanded", func() (bool, error) {
		return len(roundJobs(t, ns, mopUp)) > 0, nil
	})
	await(t, mopUp+" finished", func() (bool, error) {
		return getRound(t, ns, mopUp).Status.Phase.Finished(), nil
	})
	checkMopUpOf(t, ns, main, mopUp)
	st := getRound(t, ns, mopUp).Status
	res := st.Residents
	if st.Phase != sweepv1alpha1.RoundCompleted || res.Expected != res.Sampled+res.Outstanding+res.Missed || res.Sampled == 0 {
		t.Errorf("mop-up %s: %+v", st.Phase, res)
	}
	for b, j := range roundJobs(t, ns, mopUp) {
		for _, h := range j.Status.MissedHouseholds {
			if !slices.Contains(j.Spec.MopUp.Households, h) {
				t.Errorf("building %s: the mop-up missed household %s, which %s did not: it knocked a door it was not sent to", b, h, main)
			}
		}
		if j.Status.HomeVisited != 0 || j.Status.Sampled+j.Status.Missed != j.Spec.Expected {
			t.Errorf("building %s: %+v", b, j.Status)
		}
	}
	t.Logf("%s: %d of %d sampled, %d still missed", mopUp, res.Sampled, res.Expected, res.Missed)
	// One mop-up is what the policy allows: none follows, and the
	// schedule expects none.
	await(t, "no next mop-up", func() (bool, error) {
		return getSchedule(t, ns, s.Name).Status.NextMopUpTime == nil, nil
	})
}

// A mop-up round made by hand waits, saying why, for the round it names to
// exist and to finish, and then takes its buildings.
func TestMopUpRoundWaitsForItsEarlierRound(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	createBuildings(t, ns, 6, street)
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, localExecutor)

	mu := newRound(ns, "again", clk.Now(), 4, nil)
	mu.Spec.MopUpOf = "first"
	mu.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	if err := k8s.Create(ctx, mu); err != nil {
		t.Fatal(err)
	}
	awaitProgressing := func(reason string) {
		t.Helper()
		await(t, "mop-up waiting: "+reason, func() (bool, error) {
			tr := getRound(t, ns, "again")
			c := meta.FindStatusCondition(tr.Status.Conditions, sweepv1alpha1.ConditionProgressing)
			return tr.Status.Phase == sweepv1alpha1.RoundPending && c != nil && c.Reason == reason, nil
		})
	}
	awaitProgressing(sweepv1alpha1.ReasonEarlierRoundNotFound)
	awaitRoundEvents(t, ns, "again", sweepv1alpha1.ReasonEarlierRoundNotFound)

	// The round it names: held back by suspend, so the mop-up is seen to
	// wait for it to finish.
	first := newRound(ns, "first", clk.Now(), 2, street)
	first.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	first.Spec.Suspend = true
	first.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 3, AbsentPercent: ptr.To[int32](30)}
	if err := k8s.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	awaitProgressing(sweepv1alpha1.ReasonEarlierRoundNotFinished)
	if n := len(roundJobs(t, ns, "again")); n != 0 {
		t.Fatalf("the mop-up has %d jobs before its earlier round finished", n)
	}
	if err := k8s.Patch(ctx, first, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"suspend":false}}`))); err != nil {
		t.Fatal(err)
	}
	await(t, "both rounds finished", func() (bool, error) {
		return getRound(t, ns, "first").Status.Phase == sweepv1alpha1.RoundCompleted && getRound(t, ns, "again").Status.Phase.Finished(), nil
	})
	if getRound(t, ns, "first").Status.Residents.Missed == 0 {
		t.Fatal("the first round missed nobody: the test proves nothing")
	}
	checkMopUpOf(t, ns, "first", "again")
	if p := getRound(t, ns, "again").Status.Phase; p != sweepv1alpha1.RoundCompleted {
		t.Errorf("mop-up %s", p)
	}
	// mopUpOf is fixed once the round exists.
	err := k8s.Patch(ctx, mu, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"mopUpOf":"other"}}`)))
	if err == nil || !strings.Contains(err.Error(), "mopUpOf cannot change") {
		t.Errorf("changing mopUpOf: %v", err)
	}
	err = k8s.Patch(ctx, first, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"mopUpOf":"again"}}`)))
	if err == nil || !strings.Contains(err.Error(), "mopUpOf cannot change") {
		t.Errorf("adding mopUpOf to a round: %v", err)
	}
	bad := newRound(ns, "bad", clk.Now(), 1, street)
	bad.Spec.MopUpOf = "first"
	err = k8s.Create(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "leave buildingSelector out when mopUpOf is set") {
		t.Errorf("a mop-up with a selector: %v", err)
	}
}
