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
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collector"
	"github.com/masstesting/sweep/internal/testobjects"
)

// A retest job's visit pod learns the pooled tube and its households from
// its environment, as `sweep collect` reads it; a sweep job's
// pod has neither variable.
func TestVisitJobCarriesTheRetestPure(t *testing.T) {
	now := metav1.Now()
	tr := testobjects.Round("ns", "r").Start(now.Time).Deadline(now.Add(time.Hour)).Drill().Obj()
	cj := testobjects.Job("ns", "r-retest-p-1").Round("r").Building("b").Expected(4).Households(2).PoolSize(1).
		Deadline(tr.Spec.Deadline.Time).Retest("r-p-1", "P-1", "1-0101", "2-0302").Obj()
	env := func(cj *sweepv1alpha1.CollectionJob) []corev1.EnvVar {
		return (&JobExecutor{Image: "sweep:test"}).visitJob(cj, tr, cj.Name+"-v1", 1).Spec.Template.Spec.Containers[0].Env
	}
	lookup := func(vars []corev1.EnvVar) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for _, v := range vars {
				if v.Name == k {
					return v.Value, true
				}
			}
			return "", false
		}
	}
	a, err := collector.FromEnv(lookup(env(cj)))
	if err != nil || a.Retest != "P-1" || !slices.Equal(a.RetestHouseholds, []string{"1-0101", "2-0302"}) || a.Expected != 4 || a.PoolSize != 1 {
		t.Fatalf("the retest pod reads %+v, %v", a, err)
	}
	cj.Spec.Retest = nil
	if _, ok := lookup(env(cj))(collector.EnvRetest); ok {
		t.Error("a sweep visit pod has " + collector.EnvRetest)
	}
}
