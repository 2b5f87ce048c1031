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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/testobjects"
)

// nightBuildings are the district of TestCampaignNight: six buildings of
// 100 residents in 40 households.
func nightBuildings(t *testing.T, ns string) {
	t.Helper()
	for i := range 6 {
		b := testobjects.Building(ns, fmt.Sprintf("b-%d", i)).WithLabels(street).Residents(100).Households(40).
			Layout(2, 10).Obj()
		if err := k8s.Create(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// nightSeed finds a drill lab seed that marks exactly two pooled tubes of
// b-0 and b-1 positive and none of the other buildings' (every building is
// swept whole: 10 tubes of 10 swabs each).
func nightSeed(t *testing.T, round string, permille int32) int64 {
	t.Helper()
	done := metav1.Now()
	var jobs []*sweepv1alpha1.CollectionJob
	for _, b := range []string{"b-0", "b-1", "b-2", "b-3", "b-4", "b-5"} {
		jobs = append(jobs, testobjects.Job("", "").Building(b).Expected(100).Households(40).Layout(2, 10).PoolSize(10).
			Phase(sweepv1alpha1.JobCompleted).Sampled(100).Tubes(10).Completed(done.Time).Obj())
	}
	for seed := int64(1); seed < 1000; seed++ {
		tr := testobjects.Round("", round).Lab(&sweepv1alpha1.LabSpec{
			Drill: &sweepv1alpha1.LabDrill{Seed: seed, PositivePermille: &permille, Turnaround: sweepv1alpha1.NewDuration(time.Minute)}}).Obj()
		first, later := 0, 0
		for _, r := range lab.Drill(tr, jobs, done.Add(time.Hour)) {
			switch {
			case !r.Positive:
			case r.Building == "b-0" || r.Building == "b-1":
				first++
			default:
				later++
			}
		}
		if first == 2 && later == 0 {
			return seed
		}
	}
	t.Fatal("no seed gives two positive tubes")
	return 0
}

// TestCampaignNight walks one night of a campaign (追阳): a drill round
// whose drill lab marks two pooled tubes positive while buildings are still
// queued. Each positive tube gets a PositivePool and a single-tube retest
// of exactly its households, admitted ahead of every queued building
// without breaking the team bound; the retests run through the visit
// machinery (job executor, stand-in kubelet), their single-tube results
// name the households to seal, the Buildings are sealed (Automatic policy),
// the pools resolve, and each pool's time to retest is observed once.
func TestCampaignNight(t *testing.T) {
	ns := newNamespace(t)
	nightBuildings(t, ns)
	const teams = 2
	field := startFieldTeams(t, ns, teams, false) // checks the bound at every event
	clk := clocktesting.NewFakeClock(time.Now())

	// b-0 and b-1 are swept at once; b-2 and b-3 are held by their teams
	// until the test releases them; b-4 and b-5 wait in the queue.
	kubelet := startFakeKubelet(t, ns, func(j *batchv1.Job) kubeletAction {
		// Job names begin with their CollectionJob's, "<round>-<building>-".
		if strings.HasPrefix(j.Name, "night-b-2-") || strings.HasPrefix(j.Name, "night-b-3-") {
			return hold
		}
		return runCollector
	})
	startManagerWith(t, ns, clk, nil, jobExecutor)

	permille := int32(30)
	tr := newRound(ns, "night", clk.Now(), teams, street)
	tr.Spec.Order = sweepv1alpha1.OrderName
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	absent := int32(0)
	tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 3, AbsentPercent: &absent}
	tr.Spec.Lab = &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill, Sealing: sweepv1alpha1.SealingAutomatic,
		Drill: &sweepv1alpha1.LabDrill{Seed: nightSeed(t, "night", permille), PositivePermille: &permille, Turnaround: sweepv1alpha1.NewDuration(time.Minute)}}
	ctx := context.Background()
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	await(t, "b-0 and b-1 swept, b-2 and b-3 held", func() (bool, error) {
		st := getRound(t, ns, "night").Status.Buildings
		return st.Completed == 2 && st.Active == 2 && st.Queued == 2, nil
	})

	// The lab's pooled results come in a minute later.
	clk.Step(2 * time.Minute)
	touch(t, getRound(t, ns, "night"))
	var pools sweepv1alpha1.PositivePoolList
	await(t, "two positive pools", func() (bool, error) {
		if err := k8s.List(ctx, &pools, client.InNamespace(ns)); err != nil {
			return false, err
		}
		return len(pools.Items) == 2, nil
	})
	for _, p := range pools.Items {
		retest := getJob(t, ns, p.Name)
		if retest.Spec.Retest == nil || !slices.Equal(retest.Spec.Retest.Households, p.Spec.Households) ||
			retest.Spec.Expected != p.Spec.Swabs || retest.Spec.PoolSize != 1 || !retest.Spec.Suspend {
			t.Errorf("retest of pool %s: %+v; want its %d households %v, one swab per tube, queued while the teams are busy",
				p.Name, retest.Spec, p.Spec.Swabs, p.Spec.Households)
		}
	}

	// Teams free up one at a time: the retests go first.
	kubelet.release(ctx, ns, jobName(t, ns, "night", "b-2")+"-v1")
	await(t, "both retests done", func() (bool, error) {
		n := 0
		for _, p := range pools.Items {
			if j := getJob(t, ns, p.Name); j.Status.Phase == sweepv1alpha1.JobCompleted {
				n++
			}
		}
		return n == 2, nil
	})
	kubelet.release(ctx, ns, jobName(t, ns, "night", "b-3")+"-v1")
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "night").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})

	// The single-tube results come in; the pools resolve.
	clk.Step(2 * time.Minute)
	touch(t, getRound(t, ns, "night"))
	await(t, "both pools resolved", func() (bool, error) {
		c := getRound(t, ns, "night").Status.PositivePools
		return c != nil && c.Resolved == 2, nil
	})
	if err := k8s.List(ctx, &pools, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	toSeal := 0
	for _, p := range pools.Items {
		st := p.Status
		if st.Phase != sweepv1alpha1.PoolResolved || st.Retested != p.Spec.Swabs || st.Resulted != st.Retested ||
			len(st.HouseholdsToSeal) == 0 || st.RetestCompletionTime == nil || st.ResolvedTime == nil {
			t.Errorf("pool %s: %+v", p.Name, st)
		}
		for _, h := range st.HouseholdsToSeal {
			if !slices.Contains(p.Spec.Households, h) {
				t.Errorf("pool %s seals %s, which did not swab into it (%v)", p.Name, h, p.Spec.Households)
			}
		}
		toSeal += len(st.HouseholdsToSeal)
		var b sweepv1alpha1.Building
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.Spec.Building}, &b); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(b.Status.SealRequests, func(r sweepv1alpha1.SealRequest) bool { return r.Pool == p.Name })
		if b.Spec.ControlLevel != sweepv1alpha1.ControlLevelSealed || i < 0 ||
			!slices.Equal(b.Status.SealRequests[i].Households, st.HouseholdsToSeal) || !b.Status.SealRequests[i].Sealed {
			t.Errorf("building %s after pool %s: level %s, seal requests %+v", b.Name, p.Name, b.Spec.ControlLevel, b.Status.SealRequests)
		}
	}
	st := getRound(t, ns, "night").Status
	if c := st.PositivePools; c.HouseholdsToSeal != int32(toSeal) || c.Open+c.Retesting+c.AwaitingResults != 0 {
		t.Errorf("round pool counts %+v, want 2 resolved with %d households to seal", c, toSeal)
	}
	// The round's counts are its buildings' only: the retests are pools.
	if r := st.Residents; st.Buildings.Total != 6 || r.Expected != 600 || r.Sampled+r.Outstanding+r.Missed != r.Expected {
		t.Errorf("round counts %+v %+v, want 6 buildings and 600 expected, adding up", st.Buildings, r)
	}

	// The team bound held, and both retests were admitted before b-4 and b-5.
	admitted, peak := field.snapshot()
	if peak > teams {
		t.Errorf("peak %d busy with %d teams", peak, teams)
	}
	retestsBefore := 0
	for _, b := range admitted {
		if b == "b-4" || b == "b-5" {
			break
		}
		retestsBefore++
	}
	if retestsBefore != 6 { // b-0..b-3 and the two retests
		t.Errorf("admission order %v: want both retests before b-4 and b-5", admitted)
	}

	var m dto.Metric
	if err := metrics.PoolRetestDone.WithLabelValues(ns).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("%d samples of the time to retest, want one per pool (2)", n)
	}
}
