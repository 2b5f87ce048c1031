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
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// What the cache keeps is what the controllers read: a trimmed visit Job
// still says whether its visit finished, a trimmed CollectionJob still has
// its spec, status and owner.
func TestTrimForCacheKeepsWhatControllersReadPure(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "sweep", Operation: metav1.ManagedFieldsOperationApply}}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "city-b-1-v1", ManagedFields: managed, Labels: map[string]string{LabelCollectionJob: "city-b-1"},
			CreationTimestamp: metav1.Now()},
		Spec:   batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "collector", Image: "sweep"}}}}},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}},
	}
	if _, err := TrimForCache(job); err != nil {
		t.Fatal(err)
	}
	if len(job.Spec.Template.Spec.Containers) != 0 || job.ManagedFields != nil {
		t.Errorf("a cached visit Job keeps its pod template or managed fields: %+v", job)
	}
	if len(job.Status.Conditions) != 1 || job.Labels[LabelCollectionJob] != "city-b-1" || job.CreationTimestamp.IsZero() {
		t.Errorf("a cached visit Job lost what Observe reads: %+v", job)
	}

	cj := &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{Name: "city-b-1", ManagedFields: managed,
			Annotations: map[string]string{lastAppliedAnnotation: "{}", "ops": "note"}},
		Spec:   sweepv1alpha1.CollectionJobSpec{Round: "city", Building: "b-1", Expected: 100},
		Status: sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Sampled: 40},
	}
	if _, err := TrimForCache(cj); err != nil {
		t.Fatal(err)
	}
	if cj.ManagedFields != nil || cj.Annotations[lastAppliedAnnotation] != "" {
		t.Errorf("a cached CollectionJob keeps managed fields or the last-applied copy: %+v", cj.ObjectMeta)
	}
	if cj.Annotations["ops"] != "note" || cj.Spec.Expected != 100 || cj.Status.Sampled != 40 {
		t.Errorf("a cached CollectionJob lost what the controllers read: %+v", cj)
	}
}

// The manager caches only the Jobs it created: those with LabelCollectionJob.
func TestCacheOptionsSelectOnlyVisitJobsPure(t *testing.T) {
	opts := CacheOptions()
	var sel labels.Selector
	for obj, by := range opts.ByObject {
		if _, ok := obj.(*batchv1.Job); ok {
			sel = by.Label
		}
	}
	if sel == nil {
		t.Fatal("no label selector for batch Jobs: the manager would cache every Job in the cluster")
	}
	if !sel.Matches(labels.Set{LabelCollectionJob: "city-b-1", LabelVisit: "1"}) {
		t.Errorf("selector %q does not match a visit Job", sel)
	}
	if sel.Matches(labels.Set{"app": "backup"}) {
		t.Errorf("selector %q matches a Job Sweep did not create", sel)
	}
}
