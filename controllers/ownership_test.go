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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

// A round counts only the jobs it controls by UID. Two hand-made
// CollectionJobs carry the round's label and an owner reference naming it
// with another UID: one under a free name, one under the very name the
// round computes for one of its buildings. Neither is counted nor adopted;
// the round says the name is taken, waits, and takes the building once the
// object in the way is gone.
func TestJobsTheRoundDoesNotControlAreNotCounted(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, func(mgr ctrl.Manager) Executor {
		return NewLocalExecutor(mgr.GetClient(), 8, 0.0001)
	})
	// The round selects nothing yet, so its UID is known before it
	// expands the building whose job name the test takes first.
	sel := map[string]string{"street": "ownership"}
	tr := newRound(ns, "r", clk.Now(), 4, sel)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 5, AbsentPercent: ptr.To[int32](0)}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "r")

	forged := func(name, building string) *sweepv1alpha1.CollectionJob {
		b := testobjects.Building(ns, building).Residents(500).Obj()
		j := round.NewJob(tr, b)
		j.Name = name
		j.OwnerReferences[0].UID = "not-the-rounds-uid" // the round's name, not its UID
		j.Spec.Suspend = false
		if err := k8s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		j.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, Visits: 1, Sampled: 500}
		if err := k8s.Status().Update(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	forged("r-by-hand", "b-ghost")
	taken := forged(round.JobName("r", tr.UID, "b-0001"), "b-0001")
	buildings := createBuildings(t, ns, 3, sel)

	await(t, "the two free buildings completed, the third waiting for its name", func() (bool, error) {
		st := getRound(t, ns, "r").Status
		return st.Buildings.Total == 2 && st.Buildings.Completed == 2, nil
	})
	if e := roundEvents(t, ns, "r")["JobNameTaken"]; !strings.Contains(e, taken.Name) {
		t.Errorf("no JobNameTaken event naming %s: %q", taken.Name, e)
	}
	st := getRound(t, ns, "r").Status
	if st.Phase != sweepv1alpha1.RoundRunning || st.Residents.Sampled > st.Residents.Expected {
		t.Errorf("round counted a job it does not control: %s, %+v", st.Phase, st.Residents)
	}
	if j := getJob(t, ns, taken.Name); round.ControllerUID(j) == tr.UID || j.Spec.Expected != 500 {
		t.Errorf("the round adopted a job it does not control: %+v", j.OwnerReferences)
	}

	// Once the object in the way is gone the building gets its own job
	// and the round completes with exactly its own buildings.
	if err := k8s.Delete(ctx, taken); err != nil {
		t.Fatal(err)
	}
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "r").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	tr = getRound(t, ns, "r")
	var expected int64
	for _, b := range buildings {
		expected += int64(b.Spec.Residents - b.Spec.Exempt)
	}
	if st := tr.Status; st.Buildings.Total != 3 || st.Residents.Expected != expected || st.Residents.Sampled != expected {
		t.Errorf("round %+v %+v, want its 3 buildings and %d residents, all sampled", st.Buildings, st.Residents, expected)
	}
	if j := getJob(t, ns, "r-by-hand"); j.Status.Phase != sweepv1alpha1.JobCompleted || j.Status.Visits != 1 {
		t.Errorf("the collection controller ran a visit for a job no round controls: %+v", j.Status)
	}
}

// At the deadline every unfinished job becomes Expired promptly, queued
// ones included, and the round counts their residents missed: a building
// never admitted used to stay outstanding until a resync hours later. The
// round clock is the real one here: the deadline must wake the jobs by
// itself, with nothing poked.
func TestNeverAdmittedBuildingsAreMissedAtTheDeadline(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	buildings := createBuildings(t, ns, 5, street)
	// Visit Jobs that never run (envtest has no Job controller): the one
	// team stays busy, and four buildings are never admitted.
	startManagerWith(t, ns, clock.RealClock{}, nil, jobExecutor)
	tr := newRound(ns, "short", time.Now(), 1, street)
	tr.Spec.Deadline = metav1.Time{Time: time.Now().Add(8 * time.Second).Truncate(time.Second)}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "short")
	await(t, "one building active, four queued", func() (bool, error) {
		st := getRound(t, ns, "short").Status
		return st.Buildings.Active == 1 && st.Buildings.Queued == 4, nil
	})
	var expected int64
	for _, b := range buildings {
		expected += int64(b.Spec.Residents - b.Spec.Exempt)
	}
	// Promptly: within 10 seconds of the deadline.
	pctx, cancel := context.WithDeadline(ctx, tr.Spec.Deadline.Add(10*time.Second))
	defer cancel()
	err := wait.PollUntilContextCancel(pctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		for _, j := range listJobs(t, ns) {
			if j.Status.Phase != sweepv1alpha1.JobExpired {
				return false, nil
			}
		}
		st := getRound(t, ns, "short").Status
		return st.Phase == sweepv1alpha1.RoundDeadlineExceeded && st.Residents.Missed == expected && st.Residents.Outstanding == 0, nil
	})
	if err != nil {
		for _, j := range listJobs(t, ns) {
			t.Logf("%s: phase %q suspend %v", j.Spec.Building, j.Status.Phase, j.Spec.Suspend)
		}
		t.Fatalf("10 s after the deadline: round %+v; want every job Expired and all %d residents missed", getRound(t, ns, "short").Status.Residents, expected)
	}
}
