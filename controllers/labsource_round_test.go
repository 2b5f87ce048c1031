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
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/lab/labtest"
	"github.com/masstesting/sweep/internal/testobjects"
)

// labNight is the lab of TestCampaignNightThroughLabSources: two positive
// pooled tubes (one in b-0, one in b-1), a negative one, and, once the
// retests ran, ten single tubes per pool with one household positive.
type labNight struct {
	swab, result time.Time
}

var nightPools = map[string][]string{"P-0001": {"1-101", "2-102", "1-303"}, "P-0002": {"2-201", "2-202"}}

func (l labNight) pooled() []lab.TubeResult {
	swab := l.swab
	out := []lab.TubeResult{
		{Tube: "P-0001", Building: "b-0", Kind: lab.Pooled, Positive: true, Swabs: 10, Households: nightPools["P-0001"], SwabTime: &swab, ResultTime: l.result},
		{Tube: "P-0002", Building: "b-1", Kind: lab.Pooled, Positive: true, Swabs: 10, Households: nightPools["P-0002"], SwabTime: &swab, ResultTime: l.result},
		{Tube: "P-0003", Building: "b-1", Kind: lab.Pooled, SwabTime: &swab, ResultTime: l.result},
	}
	return out
}

func (l labNight) singles() []lab.TubeResult {
	var out []lab.TubeResult
	for _, pool := range []string{"P-0001", "P-0002"} {
		hh := nightPools[pool]
		building := map[string]string{"P-0001": "b-0", "P-0002": "b-1"}[pool]
		for i := range 10 {
			h := hh[i%len(hh)]
			swab := l.result.Add(time.Hour)
			out = append(out, lab.TubeResult{Tube: fmt.Sprintf("S-%s-%02d", pool, i), Building: building, Kind: lab.Single,
				Positive: h == hh[0], Pool: pool, Household: h, SwabTime: &swab, ResultTime: swab.Add(time.Hour)})
		}
	}
	return out
}

// wrongBuilding is a well-formed result for a building the round never
// swept: it is ignored with a warning, and the rest is taken.
func (l labNight) wrongBuilding() lab.TubeResult {
	return lab.TubeResult{Tube: "P-9999", Building: "elsewhere-7", Kind: lab.Pooled, Positive: true, Swabs: 10,
		Households: []string{"1-101"}, ResultTime: l.result}
}

// TestCampaignNightThroughLabSources walks the night of TestCampaignNight
// with the lab's real sources, http and csv, and their bad inputs: a lab
// that answers 5xx, hangs past the round's timeout, or sends garbage is
// reported (LabUnavailable) and nothing already read is lost; a result for
// a building not in the round is ignored (LabResultIgnored) while the
// others are taken.
func TestCampaignNightThroughLabSources(t *testing.T) {
	for _, source := range []sweepv1alpha1.SourceType{sweepv1alpha1.SourceHTTP, sweepv1alpha1.SourceCSV} {
		t.Run(string(source), func(t *testing.T) {
			ns := newNamespace(t)
			ctx := context.Background()
			for i := range 2 {
				b := testobjects.Building(ns, fmt.Sprintf("b-%d", i)).WithLabels(street).Residents(100).Households(40).
					Layout(2, 10).Obj()
				if err := k8s.Create(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			clk := clocktesting.NewFakeClock(time.Now())
			night := labNight{swab: clk.Now().Add(-time.Hour), result: clk.Now()}

			// The lab: what it serves now, and how it misbehaves.
			var mu sync.Mutex
			var served []lab.TubeResult
			mode := "ok"
			set := func(m string, results []lab.TubeResult) {
				mu.Lock()
				defer mu.Unlock()
				mode, served = m, results
				if source == sweepv1alpha1.SourceCSV {
					data := string(labtest.CSV(results, false))
					if m == "garbage" {
						data += "P-0004,b-0,pooled,maybe,,,,,,\n"
					}
					cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "lab", Namespace: ns}, Data: map[string]string{"results.csv": data}}
					if err := k8s.Update(ctx, cm); err != nil {
						if err := k8s.Create(ctx, cm); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				m, results := mode, slices.Clone(served)
				mu.Unlock()
				switch m {
				case "5xx":
					http.Error(w, "lab database down", http.StatusServiceUnavailable)
					return
				case "hang":
					select {
					case <-r.Context().Done():
					case <-time.After(10 * time.Second):
					}
					return
				case "garbage":
					_, _ = w.Write([]byte(`{"results": [{"tube": 17}`))
					return
				}
				after, _ := strconv.Atoi(r.URL.Query().Get("after"))
				after = min(after, len(results))
				_, _ = w.Write(labtest.PageJSON(results[after:], strconv.Itoa(len(results)), false, false))
			}))
			t.Cleanup(srv.Close)

			testLabSources = LabSources(k8s, lab.HTTPOptions{})
			t.Cleanup(func() { testLabSources = nil })
			startManagerWith(t, ns, clk, nil, func(mgr ctrl.Manager) Executor { return NewLocalExecutor(mgr.GetClient(), 4, 0) })

			tr := newRound(ns, "night", clk.Now(), 2, street)
			tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
			absent := int32(0)
			tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 3, AbsentPercent: &absent}
			tr.Spec.Lab = &sweepv1alpha1.LabSpec{Source: source, Sealing: sweepv1alpha1.SealingApproval,
				PollInterval: sweepv1alpha1.NewDuration(10 * time.Second)}
			if source == sweepv1alpha1.SourceHTTP {
				tr.Spec.Lab.HTTP = &sweepv1alpha1.LabHTTP{URL: srv.URL, Timeout: sweepv1alpha1.NewDuration(time.Second)}
			} else {
				tr.Spec.Lab.CSV = &sweepv1alpha1.LabCSV{ConfigMapName: "lab"}
			}
			set("ok", nil)
			if err := k8s.Create(ctx, tr); err != nil {
				t.Fatal(err)
			}
			await(t, "the sweep done", func() (bool, error) {
				return getRound(t, ns, "night").Status.Phase == sweepv1alpha1.RoundCompleted, nil
			})
			// poll moves the clock past the poll interval and wakes the
			// lab controller.
			poll := func() {
				clk.Step(15 * time.Second)
				touch(t, getRound(t, ns, "night"))
			}

			// A lab in trouble is reported; nothing is created from it.
			bad := []string{"garbage"}
			if source == sweepv1alpha1.SourceHTTP {
				bad = []string{"5xx", "hang", "garbage"}
			}
			for _, m := range bad {
				set(m, night.pooled())
				poll()
				want := map[string]string{"5xx": "503", "hang": "did not answer", "garbage": "malformed page"}[m]
				if source == sweepv1alpha1.SourceCSV {
					want = "line 5, column positive"
				}
				await(t, "the lab reported unavailable ("+m+")", func() (bool, error) {
					for _, note := range eventNotes(t, ns, "night", "LabUnavailable") {
						if strings.Contains(note, want) {
							return true, nil
						}
					}
					return false, nil
				})
				set("ok", nil) // recovered but empty: the event clears
				poll()
				await(t, "the lab available again", func() (bool, error) {
					return roundEvents(t, ns, "night")["LabAvailable"] != "", nil
				})
			}
			var pools sweepv1alpha1.PositivePoolList
			if err := k8s.List(ctx, &pools, client.InNamespace(ns)); err != nil || len(pools.Items) != 0 {
				t.Fatalf("pools from a lab in trouble: %v %v", pools.Items, err)
			}

			// The pooled results, and one for a building not in the round.
			set("ok", append(night.pooled(), night.wrongBuilding()))
			poll()
			await(t, "two pools retested", func() (bool, error) {
				if err := k8s.List(ctx, &pools, client.InNamespace(ns)); err != nil {
					return false, err
				}
				n := 0
				for _, p := range pools.Items {
					if p.Status.Phase == sweepv1alpha1.PoolAwaitingResults {
						n++
					}
				}
				return len(pools.Items) == 2 && n == 2, nil
			})
			if note := roundEvents(t, ns, "night")["LabResultIgnored"]; !strings.Contains(note, "elsewhere-7") || !strings.Contains(note, "not in this round") {
				t.Errorf("the result for a building not in the round: event %q", note)
			}
			for _, p := range pools.Items {
				if want := nightPools[p.Spec.Tube]; !slices.Equal(p.Spec.Households, want) || p.Status.Retested != 10 {
					t.Errorf("pool %s: households %v retested %d, want %v and 10", p.Spec.Tube, p.Spec.Households, p.Status.Retested, want)
				}
			}

			// The single tubes: each pool's first household is positive.
			set("ok", append(append(night.pooled(), night.wrongBuilding()), night.singles()...))
			poll()
			await(t, "both pools resolved", func() (bool, error) {
				c := getRound(t, ns, "night").Status.PositivePools
				return c != nil && c.Resolved == 2, nil
			})
			if err := k8s.List(ctx, &pools, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			for _, p := range pools.Items {
				if want := nightPools[p.Spec.Tube][:1]; !slices.Equal(p.Status.HouseholdsToSeal, want) || p.Status.Resulted != 10 {
					t.Errorf("pool %s: households to seal %v after %d results, want %v after 10", p.Spec.Tube, p.Status.HouseholdsToSeal, p.Status.Resulted, want)
				}
				// Approval: recorded on the Building, the level unchanged.
				var b sweepv1alpha1.Building
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.Spec.Building}, &b); err != nil {
					t.Fatal(err)
				}
				if b.Spec.ControlLevel == sweepv1alpha1.ControlLevelSealed || len(b.Status.SealRequests) != 1 || b.Status.SealRequests[0].Sealed {
					t.Errorf("building %s under the Approval policy: level %q, seal requests %+v", b.Name, b.Spec.ControlLevel, b.Status.SealRequests)
				}
			}
		})
	}
}

// eventNotes lists the notes of every event with the reason about a round.
func eventNotes(t *testing.T, ns, round, reason string) []string {
	t.Helper()
	var l eventsv1.EventList
	if err := k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		if e.Regarding.Kind == "TestingRound" && e.Regarding.Name == round && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}
