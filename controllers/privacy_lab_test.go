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
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/lab/labtest"
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// TestNoResidentDataLeaksFromTheLab is TestNoResidentDataLeaks for the lab
// source: the round's http lab sends, on every page and with
// every result, the canary resident's name, ID number and phone number in
// fields Sweep does not read; once it sends a page whose positive pooled
// tube lists the canary's ID number as a household (refused: the page
// fails with the field named); and it sends a result for a building not in
// the round (ignored). From the good pages a PositivePool and its retest
// are created, the retest runs, the single tubes resolve the pool and the
// Building records the households to seal. Then every API object of the
// namespace (PositivePools and Buildings' status included), every event,
// the manager's debug log and the metrics output are searched for the
// canaries.
func TestNoResidentDataLeaksFromTheLab(t *testing.T) {
	logs := &testharness.SyncBuffer{}
	testManagerLogger = zap.New(zap.WriteTo(logs), zap.Level(zapcore.DebugLevel))
	addr := testharness.FreeAddr(t)
	testMetricsAddr = addr
	defer func() { testManagerLogger, testMetricsAddr = logr.Logger{}, "0" }()

	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"b-0", "b-1"} {
		b := testobjects.Building(ns, name).WithLabels(street).Residents(100).Households(40).Layout(2, 10).Obj()
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	clk := clocktesting.NewFakeClock(time.Now())
	swab, resulted := clk.Now().Add(-time.Hour), clk.Now()
	households := []string{"1-101", "2-102", "1-303"}
	pooled := []lab.TubeResult{
		{Tube: "P-0001", Building: "b-0", Kind: lab.Pooled, Positive: true, Swabs: 10, Households: households, SwabTime: &swab, ResultTime: resulted},
		{Tube: "P-0002", Building: "b-1", Kind: lab.Pooled, SwabTime: &swab, ResultTime: resulted},
		// Well formed, for a building the round never swept: ignored.
		{Tube: "P-0009", Building: "elsewhere-7", Kind: lab.Pooled, Positive: true, Swabs: 10, Households: []string{"1-101"}, ResultTime: resulted},
	}
	var singles []lab.TubeResult
	for i := range 10 {
		h := households[i%len(households)]
		st := resulted.Add(time.Hour)
		singles = append(singles, lab.TubeResult{Tube: "S-0001-" + strconv.Itoa(i), Building: "b-0", Kind: lab.Single,
			Positive: h == households[0], Pool: "P-0001", Household: h, SwabTime: &st, ResultTime: st.Add(time.Hour)})
	}
	// The refused page: a positive pooled tube whose household is the
	// canary's ID number.
	refused := []lab.TubeResult{{Tube: "P-0005", Building: "b-1", Kind: lab.Pooled, Positive: true, Swabs: 10,
		Households: []string{"1-0101", labtest.CanaryIDNumber}, ResultTime: resulted}}

	var mu sync.Mutex
	var served []lab.TubeResult
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		results := append([]lab.TubeResult(nil), served...)
		mu.Unlock()
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		after = min(after, len(results))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(labtest.PageJSON(results[after:], strconv.Itoa(len(results)), false, true))
	}))
	defer srv.Close()
	serve := func(results []lab.TubeResult) {
		mu.Lock()
		defer mu.Unlock()
		served = results
	}

	testLabSources = LabSources(k8s, lab.HTTPOptions{})
	defer func() { testLabSources = nil }()
	var rounds *TestingRoundReconciler
	startManagerWith(t, ns, clk, func(r *TestingRoundReconciler) { rounds = r }, func(mgr ctrl.Manager) Executor {
		if err := metrics.Register(&metrics.RoundCollector{Reader: mgr.GetClient(), RoundJobs: rounds.RoundJobs, PerBuilding: true}); err != nil {
			t.Fatal(err)
		}
		return NewLocalExecutor(mgr.GetClient(), 4, 0)
	})

	tr := newRound(ns, "private-lab", clk.Now(), 2, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	absent := int32(0)
	tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 3, AbsentPercent: &absent}
	tr.Spec.Lab = &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceHTTP, Sealing: sweepv1alpha1.SealingApproval,
		PollInterval: sweepv1alpha1.NewDuration(10 * time.Second),
		HTTP:         &sweepv1alpha1.LabHTTP{URL: srv.URL, Timeout: sweepv1alpha1.NewDuration(time.Second)}}
	serve(refused)
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	poll := func() {
		clk.Step(15 * time.Second)
		touch(t, getRound(t, ns, "private-lab"))
	}
	// The refused page fails with the field named, not the value.
	await(t, "the refused page reported", func() (bool, error) {
		for _, note := range eventNotes(t, ns, "private-lab", "LabUnavailable") {
			if strings.Contains(note, `field "households": item 2`) {
				return true, nil
			}
		}
		poll()
		return false, nil
	})
	await(t, "the sweep done", func() (bool, error) {
		return getRound(t, ns, "private-lab").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})

	// The good pages: one positive pool, retested, then resolved.
	serve(pooled)
	poll()
	var pools sweepv1alpha1.PositivePoolList
	await(t, "the pool retested", func() (bool, error) {
		if err := k8s.List(ctx, &pools, client.InNamespace(ns)); err != nil {
			return false, err
		}
		return len(pools.Items) == 1 && pools.Items[0].Status.Phase == sweepv1alpha1.PoolAwaitingResults, nil
	})
	serve(append(append([]lab.TubeResult(nil), pooled...), singles...))
	poll()
	await(t, "the pool resolved and the building told", func() (bool, error) {
		var b sweepv1alpha1.Building
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "b-0"}, &b); err != nil {
			return false, err
		}
		c := getRound(t, ns, "private-lab").Status.PositivePools
		return c != nil && c.Resolved == 1 && len(b.Status.SealRequests) == 1, nil
	})
	await(t, "the lab's events", func() (bool, error) {
		ev := roundEvents(t, ns, "private-lab")
		return ev["LabResultIgnored"] != "" && len(eventsAbout(t, ns, "PositivePool", pools.Items[0].Name)) >= 3, nil
	})

	// Everything the operator wrote in the namespace, as JSON.
	var dump bytes.Buffer
	for _, list := range []client.ObjectList{&sweepv1alpha1.TestingRoundList{}, &sweepv1alpha1.CollectionJobList{},
		&sweepv1alpha1.PositivePoolList{}, &sweepv1alpha1.BuildingList{}, &eventsv1.EventList{}, &corev1.EventList{},
		&batchv1.JobList{}, &corev1.ConfigMapList{}} {
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&dump).Encode(list); err != nil {
			t.Fatal(err)
		}
	}
	// The search below proves something only if what the lab said is there.
	for _, want := range []string{`field \"households\": item 2`, "P-0001", "elsewhere-7", `"householdsToSeal":["1-101"]`, `"sealRequests":[`} {
		if !strings.Contains(dump.String(), want) {
			t.Fatalf("%q is not in the API objects, so the search below proves nothing:\n%s", want, dump.String())
		}
	}
	_, scraped, err := testharness.FetchMetrics("http://"+addr+"/metrics", testharness.ScrapeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(scraped, []byte("sweep_lab_")) {
		t.Fatal("the metrics output has no sweep_lab_ series: not this manager's endpoint?")
	}
	if !strings.Contains(logs.String(), "private-lab") || !strings.Contains(logs.String(), "lab source unavailable") {
		t.Fatal("the captured log does not mention the round's lab: the manager does not log there")
	}
	for where, text := range map[string]string{"API objects": dump.String(), "manager log": logs.String(), "metrics": string(scraped)} {
		if c := labtest.Find(text); c != "" {
			i := strings.Index(text, c)
			t.Errorf("resident data %q appears in the %s: ...%s...", c, where, text[max(i-200, 0):min(i+100, len(text))])
		}
	}
}
