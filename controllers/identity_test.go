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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// TestVisitPodsRunAsTheCollector checks that a round cannot run its visit
// pods as another ServiceAccount: the CRDs refuse a round or schedule whose
// template names one, and the job executor sets sweep-collector on every
// visit pod anyway (a round stored before the rule, the deprecated field).
func TestVisitPodsRunAsTheCollector(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	tmpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "default",
		Containers: []corev1.Container{{Name: "c", Image: "sweep:test"}}}}
	now := metav1.Now()
	tr := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "borrowed"},
		Spec: sweepv1alpha1.TestingRoundSpec{Start: &now, Deadline: metav1.NewTime(now.Add(time.Hour)),
			Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}, Template: tmpl}}}
	const want = "must be empty or sweep-collector"
	if err := k8s.Create(ctx, tr.DeepCopy()); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("round with serviceAccountName default: %v, want Invalid with %q", err, want)
	}
	ts := &sweepv1alpha1.TestingSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "borrowed"},
		Spec: sweepv1alpha1.TestingScheduleSpec{Schedule: "0 6 * * *", RoundTemplate: sweepv1alpha1.RoundTemplate{
			Spec: sweepv1alpha1.RoundTemplateSpec{Duration: sweepv1alpha1.Duration{Duration: time.Hour}, Collector: tr.Spec.Collector}}}}
	if err := k8s.Create(ctx, ts); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("schedule with serviceAccountName default: %v, want Invalid with %q", err, want)
	}
	tr.Spec.Collector.Template.Spec.ServiceAccountName = CollectorServiceAccount
	if err := k8s.Create(ctx, tr.DeepCopy()); err != nil {
		t.Errorf("round with serviceAccountName %s: %v", CollectorServiceAccount, err)
	}

	tr.Spec.Collector.Template.Spec.ServiceAccountName = "default"
	tr.Spec.Collector.Template.Spec.DeprecatedServiceAccount = "default"
	cj := &sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "borrowed-b"},
		Spec: sweepv1alpha1.CollectionJobSpec{Round: tr.Name, Building: "b", Expected: 1, Deadline: tr.Spec.Deadline}}
	pod := (&JobExecutor{Image: "sweep:test"}).visitJob(cj, tr, "borrowed-b-v1", 1).Spec.Template.Spec
	if pod.ServiceAccountName != CollectorServiceAccount || pod.DeprecatedServiceAccount != "" {
		t.Errorf("visit pod runs as %q (deprecated field %q), want %s", pod.ServiceAccountName, pod.DeprecatedServiceAccount, CollectorServiceAccount)
	}
}
