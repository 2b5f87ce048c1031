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

package v1alpha1_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// TestABadStoredDurationDoesNotFailTheListPure: a list holding one object whose
// duration is not one decodes (an informer's list would otherwise fail for
// every object), the bad value is kept as stored and named by field, and
// the good objects read as before.
func TestABadStoredDurationDoesNotFailTheListPure(t *testing.T) {
	list := `{"items":[
		{"metadata":{"name":"bad"},"spec":{"schedule":"0 6 * * *","roundTemplate":{"spec":{"duration":"12 hours",
			"visits":{"interval":30},"collector":{"http":{"url":"https://r.example","timeout":"soon"}}}}}},
		{"metadata":{"name":"good"},"spec":{"schedule":"0 6 * * *","roundTemplate":{"spec":{"duration":"12h",
			"visits":{"interval":"90m"},"collector":{"http":{"url":"https://r.example","timeout":"30s"}}}}}}]}`
	var l sweepv1alpha1.TestingScheduleList
	if err := json.Unmarshal([]byte(list), &l); err != nil {
		t.Fatalf("the list does not decode: %v", err)
	}
	bad, good := l.Items[0].Spec, l.Items[1].Spec
	err := bad.InvalidDurations()
	for _, want := range []string{
		`spec.roundTemplate.spec.duration: "12 hours" is not a duration`,
		`spec.roundTemplate.spec.visits.interval: "30" is not a duration`,
		`spec.roundTemplate.spec.collector.http.timeout: "soon" is not a duration`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("InvalidDurations() = %v, want it to say %s", err, want)
		}
	}
	if err := good.InvalidDurations(); err != nil {
		t.Errorf("good spec: %v", err)
	}
	if d := good.RoundTemplate.Spec.Duration.Duration; d != 12*time.Hour {
		t.Errorf("good duration %s, want 12h", d)
	}
	if d := good.RoundTemplate.Spec.Visits.IntervalOrDefault(); d != 90*time.Minute {
		t.Errorf("good interval %s, want 90m", d)
	}
	if d := bad.RoundTemplate.Spec.Visits.IntervalOrDefault(); d != sweepv1alpha1.DefaultVisitInterval {
		t.Errorf("bad interval reads %s, want the default", d)
	}

	// Written back, nothing is lost: the bad values as stored, the good
	// ones as durations; the unstructured converter agrees.
	out, err := json.Marshal(&l.Items[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"duration":"12 hours"`, `"interval":30`, `"timeout":"soon"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoded %s, want %s in it", out, want)
		}
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&l.Items[1])
	if err != nil {
		t.Fatal(err)
	}
	var back sweepv1alpha1.TestingSchedule
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &back); err != nil {
		t.Fatal(err)
	}
	if back.Spec.RoundTemplate.Spec.Duration.Duration != 12*time.Hour || back.Spec.RoundTemplate.Spec.Collector.HTTP.Timeout.Duration != 30*time.Second {
		t.Errorf("through unstructured: %+v", back.Spec.RoundTemplate.Spec)
	}
}
