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
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collector"
)

// applyReport writes status.report the way a collector does (server-side
// apply, field manager sweep-collector), but with whatever fields the test
// gives: a hostile or broken collector is not bound to collector.ReportFor.
func applyReport(ns, name string, report map[string]any) error {
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"report": report}}}
	u.SetGroupVersionKind(sweepv1alpha1.GroupVersion.WithKind("CollectionJob"))
	u.SetNamespace(ns)
	u.SetName(name)
	return k8s.Status().Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(collector.FieldOwner), client.ForceOwnership)
}

// TestHostileReportsThroughTheAPI extends TestImpossibleAndStaleReportsAreIgnored
// (sampled above expected, a visit not begun) with the other hostile
// reports: each is rejected by the schema with an error that names the
// field, or taken by the API and ignored by the operator with a Warning;
// the results accepted before stay.
func TestHostileReportsThroughTheAPI(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	release := make(chan struct{})
	startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { <-release; return runCollector })
	startManagerWith(t, ns, clk, nil, jobExecutor)
	defer close(release)
	name := oneBuilding(t, ns, clk.Now(), 0, 0, 3) // 100 expected, 48 households
	awaitPhase(t, ns, name, sweepv1alpha1.JobActive, 1)
	now := time.Now().UTC().Format(time.RFC3339)
	good := func(sampled int64) map[string]any {
		return map[string]any{"visit": int64(1), "sampled": sampled, "missed": 100 - sampled, "homeVisited": int64(0),
			"tubes": (sampled + 9) / 10, "final": false, "time": now}
	}
	if err := applyReport(ns, name, good(30)); err != nil {
		t.Fatal(err)
	}
	await(t, "a good report taken", func() (bool, error) { return getJob(t, ns, name).Status.Sampled == 30, nil })

	with := func(k string, v any) map[string]any { r := good(40); r[k] = v; return r }
	households := func(n int, id func(int) string) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = id(i)
		}
		return out
	}
	// Rejected by the API server: the error must name the field, or a
	// collector author cannot tell what to fix.
	for _, c := range []struct {
		what, field string
		report      map[string]any
	}{
		{"negative sampled", "status.report.sampled", with("sampled", int64(-1))},
		{"negative missed", "status.report.missed", with("missed", int64(-60))},
		{"negative tubes", "status.report.tubes", with("tubes", int64(-4))},
		{"visit 0", "status.report.visit", with("visit", int64(0))},
		{"visit 11", "status.report.visit", with("visit", int64(11))},
		{"10,000 missed households", "status.report.missedHouseholds", with("missedHouseholds", households(10_000, func(i int) string { return fmt.Sprintf("1-%d", i) }))},
		{"a 100,000-character household", "status.report.missedHouseholds[0]", with("missedHouseholds", []any{strings.Repeat("1", 100_000)})},
		{"a household with spaces", "status.report.missedHouseholds[0]", with("missedHouseholds", []any{"unit 2 room 1203"})},
		{"sampled beyond int32", "report.sampled", with("sampled", int64(1)<<40)},
	} {
		err := applyReport(ns, name, c.report)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: want Invalid, got %v", c.what, err)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: the error does not name %s: %v", c.what, c.field, err)
		}
	}

	// Taken by the API, ignored by the operator with a Warning.
	for _, c := range []struct {
		what   string
		report map[string]any
		says   string
	}{
		{"fewer sampled than already reported", good(20), "fewer than the 30 already reported"},
		// More households than missed residents is possible (docs/collector-api.md,
		// "Counts and the roster"); households with nobody missed is not.
		{"missed households with nobody missed", func() map[string]any {
			r := good(100)
			r["missedHouseholds"] = []any{"1-0101"}
			return r
		}(), "1 missed households but no missed residents"},
		{"sampled above expected", func() map[string]any {
			r := good(100)
			r["sampled"] = int64(101)
			return r
		}(), "101 sampled but only 100 residents are expected"},
		{"sampled and missed that do not add up", with("missed", int64(10)), "sampled 40 + missed 10 is not the 100 expected"},
		{"more at home than sampled", with("homeVisited", int64(41)), "41 sampled at home but only 40 sampled"},
	} {
		if err := applyReport(ns, name, c.report); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		await(t, c.what+" ignored", func() (bool, error) {
			cond := meta.FindStatusCondition(getJob(t, ns, name).Status.Conditions, sweepv1alpha1.ConditionReportIgnored)
			return cond != nil && cond.Status == metav1.ConditionTrue && strings.Contains(cond.Message, c.says), nil
		})
		await(t, "the Warning event for "+c.what, func() (bool, error) {
			return strings.Contains(jobEvents(t, ns, name)[sweepv1alpha1.ReasonImpossibleReport], c.says), nil
		})
		if st := getJob(t, ns, name).Status; st.Sampled != 30 || st.Outstanding != 70 || st.Missed != 0 || st.Phase != sweepv1alpha1.JobActive {
			t.Fatalf("after %s the results changed: %+v", c.what, st)
		}
	}
}

// TestHandDeletedJobAndBuildingMidRound deletes, while the round runs, one
// CollectionJob (as someone tidying up with kubectl might) and one Building.
func TestHandDeletedJobAndBuildingMidRound(t *testing.T) {
	ns := newNamespace(t)
	createBuildings(t, ns, 3, street)
	clk := clocktesting.NewFakeClock(time.Now())
	startManager(t, ns, clk, nil)
	ctx := context.Background()
	if err := k8s.Create(ctx, newRound(ns, "r", clk.Now(), 2, street)); err != nil {
		t.Fatal(err)
	}
	await(t, "3 jobs", func() (bool, error) { return getRound(t, ns, "r").Status.Buildings.Total == 3, nil })

	// The job is created again (the building still matches) and the round
	// says so: its building is swept from the start.
	victim := getJob(t, ns, jobName(t, ns, "r", "b-0001"))
	if err := k8s.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	await(t, "the job created again", func() (bool, error) {
		j := getJob(t, ns, victim.Name)
		return j.UID != "" && j.UID != victim.UID, nil
	})
	await(t, "the CollectionJobRecreated event", func() (bool, error) {
		return strings.Contains(roundEvents(t, ns, "r")["CollectionJobRecreated"], victim.Name), nil
	})

	// A deleted Building's job carries the counts it was created with, so
	// the round goes on with it; nothing is recreated or lost.
	var b sweepv1alpha1.Building
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "b-0002"}, &b); err != nil {
		t.Fatal(err)
	}
	kept := getJob(t, ns, jobName(t, ns, "r", "b-0002"))
	if err := k8s.Delete(ctx, &b); err != nil {
		t.Fatal(err)
	}
	poke(t, ns, "r")
	await(t, "the round to see the deletion", func() (bool, error) {
		tr := getRound(t, ns, "r")
		return tr.Status.ObservedGeneration == tr.Generation && tr.Annotations != nil && tr.Status.Buildings.Total == 3, nil
	})
	if j := getJob(t, ns, kept.Name); j.UID != kept.UID || j.Spec.Expected != kept.Spec.Expected {
		t.Errorf("the deleted building's job changed: %+v", j)
	}
	if n := len(listJobs(t, ns)); n != 3 {
		t.Errorf("%d jobs, want 3", n)
	}
	if _, ok := roundEvents(t, ns, "r")["CollectionJobRecreated"]; !ok {
		t.Error("lost the event")
	}
}
