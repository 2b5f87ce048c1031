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
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

// A running visit Job's own deadline follows the round's: moved later, it
// no longer cuts the visit at the old deadline; moved earlier, the backstop
// follows; unchanged, the Job is not written. Against the real API server,
// which must take the change of activeDeadlineSeconds on a Job.
func TestVisitJobDeadlineFollowsTheRound(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	now := time.Now()
	tr := newRound(ns, "r", now, 1, nil)
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	cj := round.NewJob(tr, testobjects.Building(ns, "b").Residents(10).Obj())
	if err := k8s.Create(ctx, cj); err != nil {
		t.Fatal(err)
	}
	// The executor gets the job as the collection controller hands it:
	// with the round's deadline.
	collection.FollowRound(cj, tr)
	e := &JobExecutor{Client: k8s, Image: "sweep:test"}
	name := cj.Name + "-v1"
	job := e.visitJob(cj, tr, name, 1)
	if err := k8s.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	end := func() time.Time {
		t.Helper()
		var j batchv1.Job
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
			t.Fatal(err)
		}
		return j.CreationTimestamp.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds) * time.Second)
	}
	version := func() string {
		var j batchv1.Job
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
			t.Fatal(err)
		}
		return j.ResourceVersion
	}
	// At creation: a minute after the round's deadline (whole seconds).
	if got, want := end(), tr.Spec.Deadline.Add(visitDeadlineSlack); got.Before(want.Add(-time.Second)) || got.After(want.Add(2*time.Second)) {
		t.Errorf("a new visit Job ends at %v, want about %v", got, want)
	}
	before := version()
	if err := e.KeepDeadline(ctx, cj, name); err != nil {
		t.Fatal(err)
	}
	if version() != before {
		t.Error("the visit Job was written although the deadline did not move")
	}
	for _, moved := range []time.Duration{3 * time.Hour, -11 * time.Hour} {
		cj.Spec.Deadline = metav1.NewTime(cj.Spec.Deadline.Add(moved))
		if err := e.KeepDeadline(ctx, cj, name); err != nil {
			t.Fatalf("moving the deadline by %s: %v", moved, err)
		}
		got, want := end(), cj.Spec.Deadline.Add(visitDeadlineSlack)
		if got.Before(cj.Spec.Deadline.Time) || got.After(want.Add(2*time.Second)) {
			t.Errorf("deadline moved by %s: the visit Job ends at %v, want about %v", moved, got, want)
		}
	}
}
