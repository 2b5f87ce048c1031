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

package round

import (
	"encoding/json"
	"testing"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// A building's job, as stored, holds what is the building's and nothing
// the round holds: every copy would be sent to the API server, etcd and
// every informer once per building, and go stale when the round is edited.
func TestJobsCarryNothingTheRoundHolds(t *testing.T) {
	r := testobjects.Round("ns", "r").WithUID("uid").Deadline(t0.Add(12*time.Hour)).PoolSize(5).
		Visits(3, time.Hour).Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}).Obj()
	b := testobjects.Building("ns", "b1").Residents(100).Households(40).Obj()
	for name, j := range map[string]*sweepv1alpha1.CollectionJob{
		"building": NewJob(r, b),
		"mop-up":   NewMopUpJob(r, r, NewJob(r, b)),
	} {
		raw, err := json.Marshal(j.Spec)
		if err != nil {
			t.Fatal(err)
		}
		var spec map[string]any
		if err := json.Unmarshal(raw, &spec); err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{"deadline", "visits", "collector", "poolSize"} {
			if v, ok := spec[field]; ok {
				t.Errorf("%s job: spec.%s = %v stored, want it read from the round", name, field, v)
			}
		}
	}
}

func TestPoolSize(t *testing.T) {
	r := testobjects.Round("ns", "r").PoolSize(20).Obj()
	cases := []struct {
		name string
		job  *sweepv1alpha1.CollectionJob
		want int32
	}{
		{"a building's job pools at the round's size", testobjects.Job("ns", "j").Obj(), 20},
		{"a copy from an earlier Sweep is not read", testobjects.Job("ns", "j").PoolSize(5).Obj(), 20},
		{"a retest pools one swab a tube", func() *sweepv1alpha1.CollectionJob {
			j := testobjects.Job("ns", "j").PoolSize(1).Obj()
			j.Spec.Retest = &sweepv1alpha1.RetestSpec{Pool: "p", Tube: "T1"}
			return j
		}(), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := PoolSize(r, c.job); got != c.want {
				t.Errorf("PoolSize = %d, want %d", got, c.want)
			}
		})
	}
	if got := PoolSize(testobjects.Round("ns", "r").Obj(), testobjects.Job("ns", "j").Obj()); got != 1 {
		t.Errorf("PoolSize of a round without one = %d, want 1 (the API server defaults it; never divide by 0)", got)
	}
}
