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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/expectations"
)

// installCRD replaces the named CRD (a file of config/crd/bases) in the API
// server; strip, when not nil, changes its content first.
func installCRD(t *testing.T, file string, strip func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "config", "crd", "bases", file))
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &crd.Object); err != nil {
		t.Fatal(err)
	}
	if strip != nil {
		strip(crd.Object)
	}
	var cur unstructured.Unstructured
	cur.SetGroupVersionKind(crd.GroupVersionKind())
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: crd.GetName()}, &cur); err != nil {
		t.Fatal(err)
	}
	crd.SetResourceVersion(cur.GetResourceVersion())
	if err := k8s.Update(context.Background(), crd); err != nil {
		t.Fatal(err)
	}
}

// stripDurationSchema removes what the schema checks of every timeout and
// duration field (pattern, length, CEL): the CRD as it was before it
// checked them.
func stripDurationSchema(obj map[string]any) {
	for k, v := range obj {
		child, ok := v.(map[string]any)
		if !ok {
			if list, ok := v.([]any); ok {
				for _, item := range list {
					if m, ok := item.(map[string]any); ok {
						stripDurationSchema(m)
					}
				}
			}
			continue
		}
		if k == "timeout" || k == "duration" {
			delete(child, "pattern")
			delete(child, "maxLength")
			delete(child, "x-kubernetes-validations")
		}
		stripDurationSchema(child)
	}
}

// TestBadStoredObjectLeavesOtherNamespacesAlone: a TestingRound and a
// TestingSchedule stored with durations that are not durations (before the
// schema checked them) in one district must not stop the operator for
// another district. The manager's cache spans both namespaces, as the
// operator's spans the cluster; each bad object is reported, naming the
// field (the typed list decoding failed, the cache never synced
// and no round anywhere made progress).
func TestBadStoredObjectLeavesOtherNamespacesAlone(t *testing.T) {
	ctx := context.Background()
	nsBad, nsGood := newNamespace(t), newNamespace(t)
	crds := []string{"sweep.masstesting.io_testingrounds.yaml", "sweep.masstesting.io_testingschedules.yaml"}
	for _, f := range crds {
		installCRD(t, f, stripDurationSchema)
	}
	t.Cleanup(func() {
		for _, f := range crds {
			installCRD(t, f, nil)
		}
	})
	badRound := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "sweep.masstesting.io/v1alpha1", "kind": "TestingRound",
		"metadata": map[string]any{"name": "old", "namespace": nsBad},
		"spec": map[string]any{"deadline": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"collector": map[string]any{"source": "http", "http": map[string]any{"url": "https://registry.example", "timeout": "soon"}}},
	}}
	badSchedule := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "sweep.masstesting.io/v1alpha1", "kind": "TestingSchedule",
		"metadata": map[string]any{"name": "daily", "namespace": nsBad},
		"spec": map[string]any{"schedule": "0 6 * * *", "roundTemplate": map[string]any{"spec": map[string]any{"duration": "12 hours",
			"collector": map[string]any{"source": "drill"}}}},
	}}
	// The API server takes the changed schema a moment later.
	for _, obj := range []*unstructured.Unstructured{badRound, badSchedule} {
		await(t, "storing "+obj.GetKind()+" under the old schema", func() (bool, error) {
			return k8s.Create(ctx, obj.DeepCopy()) == nil, nil
		})
	}
	for _, f := range crds {
		installCRD(t, f, nil)
	}
	await(t, "the new schema in effect", func() (bool, error) {
		probe := badRound.DeepCopy()
		probe.SetName("probe")
		err := k8s.Create(ctx, probe)
		if err == nil {
			_ = k8s.Delete(ctx, probe)
		}
		return err != nil && strings.Contains(err.Error(), "spec.collector.http.timeout"), nil
	})

	createBuildings(t, nsGood, 3, street)
	clk := clocktesting.NewFakeClock(time.Now())
	opts := CacheOptions()
	opts.DefaultNamespaces = map[string]cache.Config{nsBad: {}, nsGood: {}}
	mgr := newTestManager(t, opts)
	memory := &expectations.Store{}
	rounds := &TestingRoundReconciler{Memory: memory, Client: mgr.GetClient(), Clock: clk, Recorder: mgr.GetEventRecorder("sweep-round-controller"),
		StatusInterval: 200 * time.Millisecond}
	jobs := &CollectionJobReconciler{Memory: memory, Client: mgr.GetClient(), Clock: clk, Recorder: mgr.GetEventRecorder("sweep-collection-controller"),
		Executor: NewLocalExecutor(mgr.GetClient(), 8, 0)}
	schedules := &TestingScheduleReconciler{Memory: memory, Client: mgr.GetClient(), Clock: clk, Recorder: mgr.GetEventRecorder(ScheduleFieldOwner)}
	if err := rounds.SetupWithManager(mgr, 4); err != nil {
		t.Fatal(err)
	}
	if err := jobs.SetupWithManager(mgr, 8); err != nil {
		t.Fatal(err)
	}
	if err := schedules.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	runManager(t, mgr)

	if err := k8s.Create(ctx, newRound(nsGood, "good", clk.Now(), 3, street)); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, nsGood, "good")
	await(t, "the other district's round Completed", func() (bool, error) {
		if getRound(t, nsGood, "good").Status.Phase == sweepv1alpha1.RoundCompleted {
			return true, nil
		}
		advanceToNextVisits(t, nsGood, clk)
		return false, nil
	})
	await(t, "the bad schedule's Ready condition naming the field", func() (bool, error) {
		var s sweepv1alpha1.TestingSchedule
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: nsBad, Name: "daily"}, &s); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(s.Status.Conditions, sweepv1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse &&
			strings.Contains(c.Message, `spec.roundTemplate.spec.duration: "12 hours" is not a duration`), nil
	})
	await(t, "the bad round's event naming the field", func() (bool, error) {
		return strings.Contains(roundEvents(t, nsBad, "old")["InvalidSpec"], `spec.collector.http.timeout: "soon" is not a duration`), nil
	})
	if n := len(listJobs(t, nsBad)); n != 0 {
		t.Errorf("the bad round has %d jobs, want none", n)
	}
	// Nothing stored was lost: the bad values are still there to fix.
	var tr sweepv1alpha1.TestingRound
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: nsBad, Name: "old"}, &tr); err != nil {
		t.Fatal(err)
	}
	if got := tr.Spec.Collector.HTTP.Timeout.InvalidText; got != "soon" {
		t.Errorf("stored timeout reads %q, want \"soon\"", got)
	}
}
