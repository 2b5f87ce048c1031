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

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

// registryBuilding is one building as the roster has it and as a city's
// registry knows it: every registered resident, exempt ones included, and
// people the roster does not have yet.
type registryBuilding struct {
	name              string
	residents, exempt int32
	households        []string // "<unit-room>,<residents>,<sampled>": the registry's rows
	sampled, missed   int32    // what the building must end with
	extra             int32
	missedHouseholds  string
}

var registryBuildings = []registryBuilding{
	// One resident in hospital (exempt): the registry lists her, unsampled.
	{name: "b-exempt", residents: 10, exempt: 1, households: []string{"1-0101,3,3", "1-0102,4,4", "1-0103,3,2"},
		sampled: 9},
	// Two people moved in; the roster does not know them yet.
	{name: "b-movedin", residents: 8, households: []string{"2-0201,4,4", "2-0202,6,6"},
		sampled: 8, extra: 2},
	// Two exempt residents somewhere, one resident really not sampled:
	// the knock list is every household with someone unsampled.
	{name: "b-mixed", residents: 12, exempt: 2, households: []string{"3-0301,5,4", "3-0302,4,3", "3-0303,3,2"},
		sampled: 9, missed: 1, missedHouseholds: "3-0301 3-0302 3-0303"},
}

// TestRealRegistriesThroughARound runs an http round and a csv round over a
// real registry's data on the local cluster, with the job executor and the
// collectors on their pods' own tokens: exempt residents the registry still
// lists, people the roster does not know, households with sampled and
// unsampled residents. Every building completes after its one visit with
// exact counts. The operator of the first phase ignored these reports
// ("1 missed households but only 0 missed residents") and failed b-exempt
// and b-mixed, and the http source failed b-movedin (sampled above
// expected).
func TestRealRegistriesThroughARound(t *testing.T) {
	t.Parallel()
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "Bearer e2e-token" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		for _, b := range registryBuildings {
			if !strings.Contains(req.URL.Path, "/buildings/"+b.name+"/") {
				continue
			}
			sampled, missed := 0, []string{}
			for _, h := range b.households {
				f := strings.Split(h, ",")
				residents, _ := strconv.Atoi(f[1])
				s, _ := strconv.Atoi(f[2])
				sampled += s
				if s < residents {
					missed = append(missed, f[0])
				}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"sampled": sampled, "homeVisited": 0, "missedHouseholds": missed})
			return
		}
		http.Error(w, "unknown building", http.StatusNotFound)
	}))
	defer registry.Close()

	cl := startCluster(t, nil)
	cl.startManager(t, "registry")
	ctx := context.Background()
	lines := []string{"building,household,residents,sampled,home_visited"}
	for _, b := range registryBuildings {
		for _, h := range b.households {
			lines = append(lines, b.name+","+h+",0")
		}
	}
	for _, source := range []sweepv1alpha1.SourceType{sweepv1alpha1.SourceHTTP, sweepv1alpha1.SourceCSV} {
		t.Run(string(source), func(t *testing.T) {
			ns := cl.namespace(t, "registry-"+string(source))
			for _, b := range registryBuildings {
				if err := cl.c.Create(ctx, testobjects.Building(ns, b.name).Residents(b.residents).Exempt(b.exempt).
					Households(int32(len(b.households))).Obj()); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Now()
			tr := testobjects.Round(ns, "today").Start(now).Deadline(now.Add(time.Hour)).Teams(3).Visits(1, 0).
				Collector(sweepv1alpha1.CollectorSource{Source: source}).Obj()
			switch source {
			case sweepv1alpha1.SourceHTTP:
				if err := cl.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "registry"},
					StringData: map[string]string{"token": "e2e-token"}}); err != nil {
					t.Fatal(err)
				}
				tr.Spec.Collector.HTTP = &sweepv1alpha1.HTTPSource{URL: registry.URL + "/api",
					TokenSecretRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "registry"}, Key: "token"}}
			case sweepv1alpha1.SourceCSV:
				if err := cl.c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "export"},
					Data: map[string]string{"samples.csv": strings.Join(lines, "\n") + "\n"}}); err != nil {
					t.Fatal(err)
				}
				tr.Spec.Collector.CSV = &sweepv1alpha1.CSVSource{ConfigMapName: "export", Key: "samples.csv"}
			}
			if err := cl.c.Create(ctx, tr); err != nil {
				t.Fatal(err)
			}
			done := cl.awaitRoundPhase(t, ns, "today", sweepv1alpha1.RoundCompleted, 4*time.Minute)
			var sampled, missed, extra int64
			for _, cj := range cl.jobs(t, ns) {
				if !round.Controls(done, &cj) {
					continue
				}
				var want registryBuilding
				for _, b := range registryBuildings {
					if b.name == cj.Spec.Building {
						want = b
					}
				}
				st := cj.Status
				if st.Phase != sweepv1alpha1.JobCompleted || st.Visits != 1 || st.Sampled != want.sampled || st.Missed != want.missed ||
					st.ExtraSampled != want.extra || strings.Join(st.MissedHouseholds, " ") != want.missedHouseholds {
					t.Errorf("%s: %s after %d visits, sampled %d, missed %d, extra %d, households %q, conditions %+v; want Completed after 1, %d, %d, %d, %q",
						want.name, st.Phase, st.Visits, st.Sampled, st.Missed, st.ExtraSampled, st.MissedHouseholds, st.Conditions,
						want.sampled, want.missed, want.extra, want.missedHouseholds)
				}
				sampled, missed, extra = sampled+int64(want.sampled), missed+int64(want.missed), extra+int64(want.extra)
			}
			res := done.Status.Residents
			if res.Expected != 27 || res.Sampled != sampled || res.Missed != missed || res.ExtraSampled != extra || done.Status.Buildings.Completed != 3 {
				t.Errorf("round residents %+v, buildings %+v; want 27 expected, %d sampled, %d missed, %d beyond the roster, 3 completed",
					res, done.Status.Buildings, sampled, missed, extra)
			}
			if errs := cl.kubelet.Errors(); len(errs) > 0 {
				t.Errorf("collectors failed: %v", errs)
			}
		})
	}
}
