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
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

var street = map[string]string{sweepv1alpha1.LabelStreet: "baoguo"}

// oneJobPerBuilding checks that every building has exactly one job, named
// deterministically, owned by the round, with the building's counts.
func oneJobPerBuilding(t *testing.T, ns string, tr *sweepv1alpha1.TestingRound, buildings []sweepv1alpha1.Building) {
	t.Helper()
	jobs := listJobs(t, ns)
	perBuilding := map[string]int{}
	for i := range jobs {
		j := &jobs[i]
		perBuilding[j.Spec.Building]++
		if j.Name != round.JobName(tr.Name, tr.UID, j.Spec.Building) {
			t.Errorf("job %s is not named from its round and building", j.Name)
		}
		if ref := metav1.GetControllerOf(j); ref == nil || ref.UID != tr.UID {
			t.Errorf("job %s is not controlled by round %s", j.Name, tr.Name)
		}
	}
	for _, b := range buildings {
		if perBuilding[b.Name] != 1 {
			t.Errorf("building %s has %d jobs, want 1", b.Name, perBuilding[b.Name])
		}
	}
	if len(jobs) != len(buildings) {
		t.Errorf("%d jobs for %d buildings", len(jobs), len(buildings))
	}
}

func TestRoundExpandsAdmitsByTeamsSealedFirstAndCompletes(t *testing.T) {
	ns := newNamespace(t)
	const n, teams = 200, 7
	buildings := createBuildings(t, ns, n, street)
	// One building outside the selector never joins.
	createOther := testobjects.Building(ns, "elsewhere").Residents(5).Obj()
	if err := k8s.Create(context.Background(), createOther); err != nil {
		t.Fatal(err)
	}
	field := startFieldTeams(t, ns, teams, true)
	clk := clocktesting.NewFakeClock(time.Now())
	startManager(t, ns, clk, nil)
	writes := watchRoundStatus(t, ns, "today")

	tr := newRound(ns, "today", clk.Now(), teams, street)
	if err := k8s.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "today").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	tr = getRound(t, ns, "today")
	oneJobPerBuilding(t, ns, tr, buildings)

	admitted, peak := field.snapshot()
	if len(admitted) != n {
		t.Errorf("%d admissions, want %d", len(admitted), n)
	}
	if peak != teams {
		t.Errorf("at most %d jobs ran at once, want the round's %d teams busy at its peak", peak, teams)
	}
	// Sealed first, then Controlled, then the rest; by name within each.
	level := map[string]sweepv1alpha1.ControlLevel{}
	for _, b := range buildings {
		level[b.Name] = b.Spec.ControlLevel
	}
	rank := func(l sweepv1alpha1.ControlLevel) int {
		return map[sweepv1alpha1.ControlLevel]int{sweepv1alpha1.ControlLevelSealed: 0, sweepv1alpha1.ControlLevelControlled: 1}[l] + 2*btoi(l == sweepv1alpha1.ControlLevelPrecaution)
	}
	for i := 1; i < len(admitted); i++ {
		if rank(level[admitted[i]]) < rank(level[admitted[i-1]]) {
			t.Fatalf("admission %d (%s, %s) came after %s (%s): not sealed first", i, admitted[i], level[admitted[i]], admitted[i-1], level[admitted[i-1]])
		}
	}

	// The status adds up from the jobs.
	var want sweepv1alpha1.ResidentCounts
	for _, b := range buildings {
		e := int64(b.Spec.Residents - b.Spec.Exempt)
		want.Expected += e
		want.Sampled += e - e/20
		want.Missed += e / 20
		want.Exempt += int64(b.Spec.Exempt)
		want.HomeVisited += int64(b.Spec.HomeVisit)
	}
	// This test's collector gives no reasons: everyone missed is unknown.
	want.MissedByReason.Unknown = want.Missed
	st := tr.Status
	if st.Residents != want {
		t.Errorf("residents = %+v, want %+v", st.Residents, want)
	}
	if st.Buildings.Total != n || st.Buildings.Completed != n || st.BuildingProgress != fmt.Sprintf("%d/%d", n, n) || st.ProgressPercent != 100 {
		t.Errorf("buildings = %+v (%s, %d%%)", st.Buildings, st.BuildingProgress, st.ProgressPercent)
	}
	if st.StartTime == nil || st.CompletionTime == nil || st.ObservedGeneration != tr.Generation {
		t.Errorf("times or observedGeneration missing: %+v", st)
	}
	if c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionComplete); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Complete condition: %+v", c)
	}
	awaitRoundEvents(t, ns, "today", "Started", "Progress", "Completed")
	t.Logf("%d buildings, %d teams: peak %d busy, %d round status writes for %d job completions", n, teams, peak, writes(), n)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRoundWindowSuspendAndDeadline(t *testing.T) {
	ns := newNamespace(t)
	const n, teams = 30, 4
	createBuildings(t, ns, n, street)
	field := startFieldTeams(t, ns, teams, false)
	clk := clocktesting.NewFakeClock(time.Now())
	startManager(t, ns, clk, nil)
	watchRoundStatus(t, ns, "window")
	ctx := context.Background()

	tr := newRound(ns, "window", clk.Now(), teams, street)
	tr.Spec.Start = &metav1.Time{Time: clk.Now().Add(time.Hour)}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}

	// Before start: Pending, every job created and queued, none admitted.
	await(t, "Pending with 30 queued jobs", func() (bool, error) {
		st := getRound(t, ns, "window").Status
		return st.Phase == sweepv1alpha1.RoundPending && st.Buildings.Total == n && st.Buildings.Queued == n, nil
	})
	if a, _ := field.snapshot(); len(a) != 0 {
		t.Fatalf("%d jobs admitted before the round's start", len(a))
	}

	// At start: Running, teams busy.
	clk.SetTime(tr.Spec.Start.Time)
	poke(t, ns, "window")
	await(t, "Running with every team busy", func() (bool, error) {
		st := getRound(t, ns, "window").Status
		return st.Phase == sweepv1alpha1.RoundRunning && st.Buildings.Active == teams, nil
	})

	// Suspend: nothing new is admitted even when teams free up.
	suspend := func(on bool) {
		p := fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, on)
		if err := k8s.Patch(ctx, &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "window"}}, client.RawPatch(types.MergePatchType, p)); err != nil {
			t.Fatal(err)
		}
	}
	suspend(true)
	await(t, "Suspended", func() (bool, error) {
		tr := getRound(t, ns, "window")
		return tr.Status.Phase == sweepv1alpha1.RoundSuspended && tr.Status.ObservedGeneration == tr.Generation, nil
	})
	field.finishActive(ctx)
	// The controller admits in the same reconcile that writes the status,
	// so a status that shows the finished jobs and nothing active proves no
	// admission followed them.
	await(t, "suspended round with no active building", func() (bool, error) {
		st := getRound(t, ns, "window").Status
		return st.Phase == sweepv1alpha1.RoundSuspended && st.Buildings.Completed == teams && st.Buildings.Active == 0 && st.Buildings.Queued == n-teams, nil
	})
	c := meta.FindStatusCondition(getRound(t, ns, "window").Status.Conditions, sweepv1alpha1.ConditionSuspended)
	if c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Suspended condition: %+v", c)
	}

	// Resume: admission continues where it stopped.
	suspend(false)
	await(t, "Running again with every team busy", func() (bool, error) {
		st := getRound(t, ns, "window").Status
		return st.Phase == sweepv1alpha1.RoundRunning && st.Buildings.Active == teams && st.Buildings.Completed == teams, nil
	})

	// Deadline: DeadlineExceeded; nothing is admitted after it, and the
	// buildings never admitted count as expired, their residents missed.
	clk.SetTime(tr.Spec.Deadline.Time)
	poke(t, ns, "window")
	await(t, "DeadlineExceeded", func() (bool, error) {
		return getRound(t, ns, "window").Status.Phase == sweepv1alpha1.RoundDeadlineExceeded, nil
	})
	field.finishActive(ctx)
	await(t, "status after the deadline", func() (bool, error) {
		st := getRound(t, ns, "window").Status
		return st.Buildings.Active == 0 && st.Buildings.Completed == 2*teams, nil
	})
	st := getRound(t, ns, "window").Status
	if st.Buildings.Queued != 0 || st.Buildings.Expired != n-2*teams {
		t.Errorf("%d queued and %d expired after the deadline, want 0 and %d: never admitted, they are over", st.Buildings.Queued, st.Buildings.Expired, n-2*teams)
	}
	if st.Residents.Outstanding != 0 || st.Residents.Missed == 0 {
		t.Errorf("residents after the deadline: %+v; want none outstanding", st.Residents)
	}
	if a, _ := field.snapshot(); len(a) != 2*teams {
		t.Errorf("%d admissions, want %d: nothing is admitted after the deadline", len(a), 2*teams)
	}
	if c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionDeadlineExceeded); c == nil || c.Status != metav1.ConditionTrue || c.Reason != sweepv1alpha1.ReasonDeadlinePassed {
		t.Errorf("DeadlineExceeded condition: %+v", c)
	}
	awaitRoundEvents(t, ns, "window", "Started", "Suspended", "Resumed", "DeadlineExceeded")
}

func TestBuildingAddedMidRoundJoinsAndOneThatLeavesKeepsItsJob(t *testing.T) {
	ns := newNamespace(t)
	buildings := createBuildings(t, ns, 5, street)
	clk := clocktesting.NewFakeClock(time.Now())
	startManager(t, ns, clk, nil)
	ctx := context.Background()
	if err := k8s.Create(ctx, newRound(ns, "r", clk.Now(), 2, street)); err != nil {
		t.Fatal(err)
	}
	await(t, "5 jobs", func() (bool, error) { return len(listJobs(t, ns)) == 5, nil })

	late := testobjects.Building(ns, "late").WithLabels(street).Residents(80).Exempt(2).Obj()
	if err := k8s.Create(ctx, late); err != nil {
		t.Fatal(err)
	}
	relabelled := testobjects.Building(ns, "relabelled").Residents(10).Obj()
	if err := k8s.Create(ctx, relabelled); err != nil {
		t.Fatal(err)
	}
	relabelled.Labels = street
	if err := k8s.Update(ctx, relabelled); err != nil {
		t.Fatal(err)
	}
	await(t, "the new buildings' jobs", func() (bool, error) {
		return getRound(t, ns, "r").Status.Buildings.Total == 7, nil
	})
	var j sweepv1alpha1.CollectionJob
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: jobName(t, ns, "r", "late")}, &j); err != nil {
		t.Fatal(err)
	}
	if j.Spec.Expected != 78 {
		t.Errorf("late building's job: %+v", j.Spec)
	}

	// A building that stops matching, or whose counts change, keeps its job
	// as it was.
	b := buildings[0]
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(&b), &b); err != nil {
		t.Fatal(err)
	}
	b.Labels = nil
	b.Spec.Residents += 1000
	if err := k8s.Update(ctx, &b); err != nil {
		t.Fatal(err)
	}
	poke(t, ns, "r")
	await(t, "the round to see the edit", func() (bool, error) {
		tr := getRound(t, ns, "r")
		return tr.Annotations != nil && tr.Status.Buildings.Total == 7, nil
	})
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: jobName(t, ns, "r", b.Name)}, &j); err != nil {
		t.Fatalf("job of a building that left the selector: %v", err)
	}
	if j.Spec.Expected != buildings[0].Spec.Residents-buildings[0].Spec.Exempt {
		t.Errorf("editing the roster changed a running round: expected %d", j.Spec.Expected)
	}
}

func TestManagerRestartedDuringExpansionLeavesOneJobPerBuildingAndKeepsTheTeamBound(t *testing.T) {
	ns := newNamespace(t)
	const n = 1000
	buildings := createBuildings(t, ns, n, street)
	// Teams work and finish jobs throughout, so the team bound is watched
	// across the restart too.
	field := startFieldTeams(t, ns, 5, true)
	clk := clocktesting.NewFakeClock(time.Now())
	// A slow first manager, stopped part way through expansion.
	stop := startManager(t, ns, clk, func(r *TestingRoundReconciler) { r.Workers = 1 })
	ctx := context.Background()

	var created atomic.Int64
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := k8s.Watch(wctx, &sweepv1alpha1.CollectionJobList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added {
				created.Add(1)
			}
		}
	}()
	tr := newRound(ns, "restart", clk.Now(), 5, street)
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	await(t, "expansion under way", func() (bool, error) { return created.Load() >= 50, nil })
	stop()
	before := len(listJobs(t, ns))
	if before >= n {
		t.Fatalf("expansion finished (%d jobs) before the manager was stopped; the test proves nothing", before)
	}
	startManager(t, ns, clk, nil)
	await(t, "every building's job", func() (bool, error) {
		return getRound(t, ns, "restart").Status.Buildings.Total == n, nil
	})
	oneJobPerBuilding(t, ns, getRound(t, ns, "restart"), buildings)
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "restart").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	if admitted, peak := field.snapshot(); len(admitted) != n || peak > 5 {
		t.Errorf("%d admissions (want %d), peak %d busy (teams 5)", len(admitted), n, peak)
	}
	if created.Load() != n {
		t.Errorf("%d jobs were ever created for %d buildings", created.Load(), n)
	}
	t.Logf("stopped the first manager with %d of %d jobs created", before, n)
}

func TestStatusWritesAreCoalesced(t *testing.T) {
	ns := newNamespace(t)
	const n, teams = 60, 6
	createBuildings(t, ns, n, street)
	startFieldTeams(t, ns, teams, true)
	clk := clocktesting.NewFakeClock(time.Now())
	// With an hour between writes, only changes of phase are written.
	startManager(t, ns, clk, func(r *TestingRoundReconciler) { r.StatusInterval = time.Hour })
	writes := watchRoundStatus(t, ns, "calm")
	if err := k8s.Create(context.Background(), newRound(ns, "calm", clk.Now(), teams, street)); err != nil {
		t.Fatal(err)
	}
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "calm").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	st := getRound(t, ns, "calm").Status
	if st.Buildings.Completed != n {
		t.Errorf("final status not written: %+v", st.Buildings)
	}
	// Running, then Completed: at most a few writes, not one per job event.
	if w := writes(); w > 3 {
		t.Errorf("%d status writes for %d buildings; want the writes coalesced", w, n)
	}
}

func TestBadInputTheSchemaCannotCatch(t *testing.T) {
	ns := newNamespace(t)
	createBuildings(t, ns, 3, street)
	clk := clocktesting.NewFakeClock(time.Now())
	startManager(t, ns, clk, nil)
	ctx := context.Background()

	// A selector that picks no building.
	if err := k8s.Create(ctx, newRound(ns, "nobody", clk.Now(), 2, map[string]string{sweepv1alpha1.LabelStreet: "no-such-street"})); err != nil {
		t.Fatal(err)
	}
	// A deadline already past when the round is created.
	past := newRound(ns, "too-late", clk.Now().Add(-24*time.Hour), 2, street)
	if err := k8s.Create(ctx, past); err != nil {
		t.Fatal(err)
	}
	// A good round beside them is not affected; without a selector it
	// takes every building of the namespace.
	if err := k8s.Create(ctx, newRound(ns, "fine", clk.Now(), 2, nil)); err != nil {
		t.Fatal(err)
	}
	await(t, "conditions on both bad rounds", func() (bool, error) {
		a := meta.FindStatusCondition(getRound(t, ns, "nobody").Status.Conditions, sweepv1alpha1.ConditionProgressing)
		b := meta.FindStatusCondition(getRound(t, ns, "too-late").Status.Conditions, sweepv1alpha1.ConditionDeadlineExceeded)
		return a != nil && a.Reason == sweepv1alpha1.ReasonNoBuildingsSelected && b != nil && b.Reason == sweepv1alpha1.ReasonDeadlineAlreadyPassed, nil
	})
	await(t, "the good round's 3 jobs", func() (bool, error) { return getRound(t, ns, "fine").Status.Buildings.Total == 3, nil })
	if p := getRound(t, ns, "too-late").Status.Phase; p != sweepv1alpha1.RoundDeadlineExceeded {
		t.Errorf("round created after its deadline is %s", p)
	}
	if tot := getRound(t, ns, "too-late").Status.Buildings.Total; tot != 0 {
		t.Errorf("round created after its deadline swept %d buildings", tot)
	}
	if len(listJobs(t, ns)) != 3 {
		t.Errorf("%d jobs in the namespace, want only the good round's 3", len(listJobs(t, ns)))
	}
	await(t, "warning events", func() (bool, error) {
		return roundEvents(t, ns, "nobody")[sweepv1alpha1.ReasonNoBuildingsSelected] != "" &&
			roundEvents(t, ns, "too-late")[sweepv1alpha1.ReasonDeadlineAlreadyPassed] != "", nil
	})
}

func TestFinishedRoundIsDeletedAfterItsTTL(t *testing.T) {
	ns := newNamespace(t)
	createBuildings(t, ns, 4, street)
	startFieldTeams(t, ns, 2, true)
	clk := clocktesting.NewFakeClock(time.Now())
	startManager(t, ns, clk, nil)
	tr := newRound(ns, "short-lived", clk.Now(), 2, street)
	tr.Spec.TTLSecondsAfterFinished = ptr.To[int32](3600)
	if err := k8s.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "short-lived").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	clk.Step(time.Hour)
	// A wake-up the manager set on the fake clock may delete the round
	// before the poke, which only matters when none was set.
	p := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"test.sweep.masstesting.io/poke":"ttl"}}}`))
	if err := k8s.Patch(context.Background(), &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "short-lived"}}, p); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	await(t, "round deleted", func() (bool, error) {
		err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "short-lived"}, &sweepv1alpha1.TestingRound{})
		return apierrors.IsNotFound(err), nil
	})
}

// TestExpansionOf5000Buildings reports how long a 5,000-building round takes
// to expand next to a plain client creating the same number of objects with
// 16 workers on the same API server. It asserts one job per building; the
// timing is reported, not asserted (make bench holds the targets).
func TestExpansionOf5000Buildings(t *testing.T) {
	const n = 5000
	ctx := context.Background()

	// The ceiling: a plain, unthrottled client with 16 workers.
	base := newNamespace(t)
	start := time.Now()
	err := inParallel(ctx, 16, n, func(ctx context.Context, i int) error {
		return k8s.Create(ctx, testobjects.Job(base, fmt.Sprintf("baseline-%04d", i)).Round("baseline").
			Building(fmt.Sprintf("b-%04d", i)).Expected(100).Deadline(start.Add(time.Hour)).Suspend(true).Drill().Obj())
	})
	if err != nil {
		t.Fatal(err)
	}
	ceiling := time.Since(start)

	ns := newNamespace(t)
	buildings := createBuildings(t, ns, n, street)
	clk := clocktesting.NewFakeClock(time.Now())
	startManager(t, ns, clk, nil)
	var created atomic.Int64
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := k8s.Watch(wctx, &sweepv1alpha1.CollectionJobList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	all := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added && created.Add(1) == n {
				close(all)
			}
		}
	}()
	start = time.Now()
	if err := k8s.Create(ctx, newRound(ns, "city", clk.Now(), 240, street)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		t.Fatalf("only %d of %d jobs after 5 minutes", created.Load(), n)
	}
	expansion := time.Since(start)
	oneJobPerBuilding(t, ns, getRound(t, ns, "city"), buildings)
	t.Logf("5,000 objects: plain client with 16 workers %v (%.0f/s); Sweep's expansion %v (%.0f/s), %.2fx the plain client's time",
		ceiling.Round(time.Millisecond), n/ceiling.Seconds(), expansion.Round(time.Millisecond), n/expansion.Seconds(), expansion.Seconds()/ceiling.Seconds())
}
