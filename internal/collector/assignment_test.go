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

package collector

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// retestAssignment is visit v of the retest of pooled tube P-0042: 5 swabs
// from 3 households.
func retestAssignment(v int32) Assignment {
	a := drillAssignment(v)
	a.CollectionJob = "baoguo-1126-retest-p-0042"
	a.Expected, a.HomeVisit, a.Households, a.PoolSize = 5, 0, 3, 1
	a.Retest = "P-0042"
	a.RetestHouseholds = []string{"2-1203", "2-1204", "3-0401"}
	return a
}

func TestRetestAssignmentRoundTripsThroughTheEnvironment(t *testing.T) {
	for _, src := range []string{"drill", "http", "csv"} {
		a := retestAssignment(2)
		a.Source = src
		if src != "drill" {
			a.DrillSeed, a.DrillAbsentPercent, a.DrillStillAbsentPercent = 0, 0, 0
		}
		switch src {
		case "http":
			a.HTTPURL, a.HTTPTimeout = "https://samples.example/api", 30e9
		case "csv":
			a.CSVFile = CSVMountDir + "/samples.csv"
		}
		env := a.Env()
		if env[EnvRetest] != "P-0042" || env[EnvRetestHouseholds] != "2-1203 2-1204 3-0401" {
			t.Errorf("%s: Env() has %s=%q %s=%q", src, EnvRetest, env[EnvRetest], EnvRetestHouseholds, env[EnvRetestHouseholds])
		}
		got, err := FromEnv(lookupIn(env))
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("%s: FromEnv(Env()) = %+v, %v; want %+v", src, got, err, a)
		}
	}
	// A sweep visit sets neither variable.
	if env := drillAssignment(1).Env(); env[EnvRetest] != "" || env[EnvRetestHouseholds] != "" {
		t.Errorf("a sweep visit's environment has retest variables: %v", env)
	}
}

func TestRetestHouseholdsFromTheEnvironment(t *testing.T) {
	many := make([]string, 21)
	for i := range many {
		many[i] = "1-" + string(rune('a'+i))
	}
	for _, tc := range []struct {
		name, tube, households string
		want                   []string
		errParts               []string
	}{
		{name: "spaces", tube: "P-0042", households: "2-1203 2-1204", want: []string{"2-1203", "2-1204"}},
		{name: "commas", tube: "P-0042", households: "2-1203,2-1204", want: []string{"2-1203", "2-1204"}},
		{name: "commas and spaces", tube: "t_1.a", households: " 2-1203, 2-1204 ,3-0401 ", want: []string{"2-1203", "2-1204", "3-0401"}},
		{name: "a repeat counts once", tube: "P-0042", households: "2-1203 2-1203 2-1204", want: []string{"2-1203", "2-1204"}},
		{name: "twenty", tube: "P-0042", households: strings.Join(many[:20], ","), want: many[:20]},
		{name: "neither", want: nil},
		{name: "twenty-one", tube: "P-0042", households: strings.Join(many, " "), errParts: []string{EnvRetestHouseholds, "21 households, at most 20"}},
		{name: "not an id", tube: "P-0042", households: "2-1203 ZHANG/Canary-Wei", errParts: []string{EnvRetestHouseholds, "item 2 is not a unit-room id"}},
		{name: "empty", tube: "P-0042", households: " , ", errParts: []string{EnvRetestHouseholds, "must list"}},
		{name: "no tube", households: "2-1203", errParts: []string{EnvRetestHouseholds, "without " + EnvRetest}},
		{name: "bad tube", tube: "13800138000 ZHANG", households: "2-1203", errParts: []string{EnvRetest, "is not a tube id"}},
		{name: "long tube", tube: strings.Repeat("a", 65), households: "2-1203", errParts: []string{EnvRetest, "is not a tube id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := drillAssignment(1).Env()
			if tc.tube != "" {
				env[EnvRetest] = tc.tube
			}
			if tc.households != "" {
				env[EnvRetestHouseholds] = tc.households
			}
			a, err := FromEnv(lookupIn(env))
			if tc.errParts != nil {
				if err == nil {
					t.Fatalf("FromEnv accepted %q %q: %+v", tc.tube, tc.households, a)
				}
				for _, p := range tc.errParts {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error %q does not say %q", err, p)
					}
				}
				for _, c := range canaries {
					if strings.Contains(err.Error(), c) || strings.Contains(err.Error(), "Canary") {
						t.Errorf("error repeats the bad value: %v", err)
					}
				}
				return
			}
			if err != nil || a.Retest != tc.tube || !reflect.DeepEqual(a.RetestHouseholds, tc.want) {
				t.Errorf("FromEnv = %q %q, %v; want %q %q", a.Retest, a.RetestHouseholds, err, tc.tube, tc.want)
			}
		})
	}
}

func TestAssignmentForARetestJob(t *testing.T) {
	cj := &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "pingfang", Name: "baoguo-1126-retest-p-0042"},
		Spec: sweepv1alpha1.CollectionJobSpec{
			Round: "baoguo-1126", Building: "xinjiang-7", Expected: 5, Households: 2, PoolSize: 1,
			Collector: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill},
			Retest:    &sweepv1alpha1.RetestSpec{Pool: "baoguo-1126-p-0042", Tube: "P-0042", Households: []string{"2-1203", "3-0401"}},
		},
	}
	a := AssignmentFor(cj, 1, 0)
	if a.Retest != "P-0042" || !reflect.DeepEqual(a.RetestHouseholds, []string{"2-1203", "3-0401"}) || a.Expected != 5 || a.PoolSize != 1 {
		t.Fatalf("AssignmentFor a retest job = %+v", a)
	}
	a.RetestHouseholds[0] = "9-9999"
	if cj.Spec.Retest.Households[0] != "2-1203" {
		t.Error("the assignment shares its households with the CollectionJob")
	}
	got, err := FromEnv(lookupIn(AssignmentFor(cj, 1, 0).Env()))
	if err != nil || got.Retest != "P-0042" || !reflect.DeepEqual(got.RetestHouseholds, cj.Spec.Retest.Households) {
		t.Errorf("the visit pod reads %q %q, %v", got.Retest, got.RetestHouseholds, err)
	}
	cj.Spec.Retest = nil
	if a := AssignmentFor(cj, 1, 0); a.Retest != "" || a.RetestHouseholds != nil {
		t.Errorf("a sweep job's assignment is a retest: %+v", a)
	}
}
