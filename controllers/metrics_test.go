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
	"sort"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/testharness"
)

// scrape reads the manager's plain-HTTP metrics endpoint, every series
// keyed by testharness.SeriesKey.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	m, err := testharness.Scrape("http://"+addr+"/metrics", testharness.ScrapeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m.Flat()
}

func TestMetricsEqualTheRoundStatus(t *testing.T) {
	addr := testharness.FreeAddr(t)
	testMetricsAddr = addr
	defer func() { testMetricsAddr = "0" }()

	ns := newNamespace(t)
	const n = 20
	createBuildings(t, ns, n, street)
	clk := clocktesting.NewFakeClock(time.Now())
	var rounds *TestingRoundReconciler
	startManagerWith(t, ns, clk, func(r *TestingRoundReconciler) { rounds = r }, func(mgr ctrl.Manager) Executor {
		if err := metrics.Register(&metrics.RoundCollector{Reader: mgr.GetClient(), RoundJobs: rounds.RoundJobs, PerBuilding: true}); err != nil {
			t.Fatal(err)
		}
		return NewLocalExecutor(mgr.GetClient(), 8, 0)
	})
	tr := newRound(ns, "metered", clk.Now(), 5, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 3, AbsentPercent: ptr.To[int32](10)}
	if err := k8s.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "metered").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	st := getRound(t, ns, "metered").Status
	key := func(name string, labels ...string) string {
		all := append([]string{"namespace=" + ns, "round=metered"}, labels...)
		sort.Strings(all)
		return name + "{" + strings.Join(all, ",") + "}"
	}
	var got map[string]float64
	// The cache the collector reads may trail the API by a moment.
	await(t, "metrics of the completed round", func() (bool, error) {
		got = scrape(t, addr)
		return got[key("sweep_round_phase", "phase=Completed")] == 1, nil
	})
	want := map[string]float64{
		key("sweep_round_residents", "state=expected"):                 float64(st.Residents.Expected),
		key("sweep_round_residents", "state=sampled"):                  float64(st.Residents.Sampled),
		key("sweep_round_residents", "state=missed"):                   float64(st.Residents.Missed),
		key("sweep_round_residents", "state=outstanding"):              0,
		key("sweep_round_residents", "state=home_visited"):             float64(st.Residents.HomeVisited),
		key("sweep_round_buildings", "phase=Completed"):                n,
		key("sweep_round_buildings", "phase=Queued"):                   0,
		key("sweep_round_tubes", "kind=forecast"):                      float64(st.Tubes.Forecast),
		key("sweep_round_tubes", "kind=used"):                          float64(st.Tubes.Used),
		key("sweep_round_phase", "phase=Running"):                      0,
		key("sweep_round_supplies", "item=tubes", "kind=forecast"):     float64(st.Supplies.Forecast.Tubes),
		key("sweep_round_supplies", "item=swabs", "kind=used"):         float64(st.Supplies.Used.Swabs),
		key("sweep_round_supplies", "item=tube_bags", "kind=forecast"): float64(st.Supplies.Forecast.TubeBags),
		// The test's buildings have no community label: they count under "-".
		key("sweep_community_supplies", "community=-", "item=tubes", "kind=used"): float64(st.Supplies.Used.Tubes),
		key("sweep_community_residents", "community=-", "state=missed"):           float64(st.Residents.Missed),
		key("sweep_round_deadline_timestamp_seconds"):                             float64(tr.Spec.Deadline.Unix()),
		key("sweep_round_start_timestamp_seconds"):                                float64(st.StartTime.Unix()),
		key("sweep_round_completion_timestamp_seconds"):                           float64(st.CompletionTime.Unix()),
		key("sweep_round_visit_interval_seconds"):                                 3600, // the API's default
		// The round runs the drill: its series are marked as simulated.
		key("sweep_round_info", "source=drill"): 1,
	}
	// Missed by reason: every reason, 0 included, as the
	// status has it; the drill gives several.
	for _, reason := range sweepv1alpha1.MissedReasons {
		want[key("sweep_round_missed_residents", "reason="+string(reason))] = float64(st.Residents.MissedByReason.Get(reason))
	}
	if st.Residents.Missed == 0 || st.Residents.MissedByReason.Total() != st.Residents.Missed || st.Residents.MissedByReason.Unknown == st.Residents.Missed {
		t.Errorf("the drill round's missed %d by reason %+v: want some missed, with reasons, adding up", st.Residents.Missed, st.Residents.MissedByReason)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v from the round status", k, g, ok, v)
		}
	}
	visits := got[fmt.Sprintf("sweep_visits_total{namespace=%s,result=complete}", ns)] + got[fmt.Sprintf("sweep_visits_total{namespace=%s,result=missed}", ns)]
	if visits != n {
		t.Errorf("sweep_visits_total counts %v visits, want %d", visits, n)
	}
	if got[fmt.Sprintf("sweep_building_duration_seconds_count{namespace=%s,phase=Completed}", ns)] != n {
		t.Errorf("building durations observed: %v", got)
	}
	perBuilding := 0
	for k := range got {
		// community is the Building's label; these buildings have none.
		if strings.HasPrefix(k, "sweep_building_residents{") && strings.Contains(k, "namespace="+ns+",") && strings.Contains(k, "state=sampled") &&
			strings.Contains(k, ",community=,") {
			perBuilding++
		}
	}
	// Nothing is under way in a completed round.
	if _, ok := got[key("sweep_round_oldest_building_progress_timestamp_seconds")]; ok {
		t.Errorf("a completed round reports the progress of buildings under way: %v", got)
	}
	if perBuilding != n {
		t.Errorf("%d per-building series, want %d", perBuilding, n)
	}

	// A deleted round's series disappear.
	if err := k8s.Delete(context.Background(), getRound(t, ns, "metered")); err != nil {
		t.Fatal(err)
	}
	await(t, "the deleted round's series gone", func() (bool, error) {
		_, present := scrape(t, addr)[key("sweep_round_phase", "phase=Completed")]
		return !present, nil
	})
}
