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
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// Canary resident data: a name and a phone number that
// a sample registry may send along with the counts. None of it may reach
// anything the operator writes.
var privacyCanaries = []string{"ZHANG Canary-Wei", "Canary-Wei", "13800138000", "LI Canary-Na", "13900139000"}

// TestNoResidentDataLeaks runs a round whose sample registry (the http
// source) sends resident names and phone numbers, both in fields the
// collector ignores and in fields it rejects, and then looks for them in
// every API object of the namespace, the manager's log at debug level, and
// the metrics output. The CSV format can carry them only in its reason
// column (TestCSVSourceReasonNotesDoNotLeak): a name or phone column fails
// the header check (internal/collector FuzzReadCSV seeds show it, and that
// the error does not repeat them); the drill source has no resident data.
func TestNoResidentDataLeaks(t *testing.T) {
	// The registry: b-ok's answer carries the residents' details next to
	// the counts, and a note beside a good missed reason (both ignored);
	// b-bad's puts a name where a household id goes and a phone number
	// where a count goes, b-reason's a name where a missed reason goes and
	// b-reason-phone's a phone number there, and b-page's is an
	// HTML page listing residents (each visit fails, and the failure is
	// reported without repeating them).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(r.URL.Path, "/buildings/b-ok/"):
			fmt.Fprint(w, `{"sampled":3,"homeVisited":1,"missedHouseholds":["1-0101"],
				"residents":[{"name":"ZHANG Canary-Wei","phone":"13800138000","sampled":true}],
				"missedReasons":[{"household":"1-0101","residents":2,"reason":"not-home","note":"LI Canary-Na 13900139000"}]}`)
		case strings.Contains(r.URL.Path, "/buildings/b-reason/"):
			fmt.Fprint(w, `{"sampled":3,"homeVisited":0,"missedHouseholds":["1-0101"],
				"missedReasons":[{"household":"1-0101","residents":2,"reason":"ZHANG Canary-Wei moved out"}]}`)
		case strings.Contains(r.URL.Path, "/buildings/b-reason-phone/"):
			fmt.Fprint(w, `{"sampled":3,"homeVisited":0,"missedHouseholds":["1-0101"],
				"missedReasons":[{"household":"1-0101","residents":2,"reason":13900139000}]}`)
		case strings.Contains(r.URL.Path, "/buildings/b-phone/"):
			fmt.Fprint(w, `{"sampled":13900139000,"homeVisited":0}`)
		case strings.Contains(r.URL.Path, "/buildings/b-page/"):
			// Not JSON at all: a page listing residents.
			fmt.Fprint(w, `<table><tr><td>ZHANG Canary-Wei</td><td>13800138000</td></tr></table>`)
		default:
			fmt.Fprint(w, `{"sampled":1,"homeVisited":0,"missedHouseholds":["LI Canary-Na"]}`)
		}
	}))
	defer srv.Close()

	logs := &testharness.SyncBuffer{}
	testManagerLogger = zap.New(zap.WriteTo(logs), zap.Level(zapcore.DebugLevel))
	addr := testharness.FreeAddr(t)
	testMetricsAddr = addr
	defer func() { testManagerLogger, testMetricsAddr = logr.Logger{}, "0" }()

	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"b-ok", "b-bad", "b-phone", "b-page", "b-reason", "b-reason-phone"} {
		b := testobjects.Building(ns, name).WithLabels(street).Residents(5).Households(2).Obj()
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	clk := clocktesting.NewFakeClock(time.Now())
	var rounds *TestingRoundReconciler
	startManagerWith(t, ns, clk, func(r *TestingRoundReconciler) { rounds = r }, func(mgr ctrl.Manager) Executor {
		if err := metrics.Register(&metrics.RoundCollector{Reader: mgr.GetClient(), RoundJobs: rounds.RoundJobs, PerBuilding: true}); err != nil {
			t.Fatal(err)
		}
		// The local executor runs the collector in the manager, so the
		// collector's errors reach events and conditions verbatim: the
		// strictest place to look for leaks.
		return NewLocalExecutor(mgr.GetClient(), 4, 0)
	})
	tr := newRound(ns, "private", clk.Now(), 6, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
	tr.Spec.Collector.HTTP = &sweepv1alpha1.HTTPSource{URL: srv.URL}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	failing := []string{"b-bad", "b-phone", "b-page", "b-reason", "b-reason-phone"}
	// The failing buildings retry after 10 s and 20 s of the fake clock:
	// move it on while waiting for the round to finish.
	await(t, "round Completed", func() (bool, error) {
		if getRound(t, ns, "private").Status.Phase == sweepv1alpha1.RoundCompleted {
			return true, nil
		}
		clk.Step(5 * time.Second)
		for _, b := range failing {
			if name := jobName(t, ns, "private", b); getJob(t, ns, name).Name != "" {
				pokeJob(t, ns, name)
			}
		}
		return false, nil
	})
	ok := getJob(t, ns, jobName(t, ns, "private", "b-ok"))
	// Its reason is taken, the note beside it is not.
	if ok.Status.Phase != sweepv1alpha1.JobCompleted || ok.Status.Sampled != 3 ||
		fmt.Sprint(ok.Status.MissedHouseholdReasons) != fmt.Sprint([]sweepv1alpha1.HouseholdReason{{Household: "1-0101", Reason: sweepv1alpha1.MissedNotHome}}) {
		t.Fatalf("b-ok: %+v", ok.Status)
	}
	for _, b := range failing {
		if p := getJob(t, ns, jobName(t, ns, "private", b)).Status.Phase; p != sweepv1alpha1.JobFailed {
			t.Fatalf("%s is %s, want Failed", b, p)
		}
	}
	// The failures' events are written asynchronously: await them, so the
	// search below sees the messages that carry the collector's errors.
	await(t, "Failed events", func() (bool, error) {
		for _, b := range failing {
			if jobEvents(t, ns, jobName(t, ns, "private", b))["Failed"] == "" {
				return false, nil
			}
		}
		return true, nil
	})

	// Everything the operator wrote in the namespace, as JSON.
	var dump bytes.Buffer
	for _, list := range []client.ObjectList{&sweepv1alpha1.TestingRoundList{}, &sweepv1alpha1.CollectionJobList{},
		&sweepv1alpha1.BuildingList{}, &eventsv1.EventList{}, &corev1.EventList{}, &batchv1.JobList{}, &corev1.ConfigMapList{}} {
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&dump).Encode(list); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(dump.String(), `field \"missedHouseholds\"`) || !strings.Contains(dump.String(), `field \"sampled\"`) ||
		!strings.Contains(dump.String(), `field \"missedReasons\": item 1: \"reason\" is not one of`) ||
		!strings.Contains(dump.String(), `field \"missedReasons\": item 1: \"reason\" is a number, want a string`) {
		t.Fatalf("the collectors' errors are not in the API objects, so the search below proves nothing:\n%s", dump.String())
	}
	_, scraped, err := testharness.FetchMetrics("http://"+addr+"/metrics", testharness.ScrapeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(scraped, []byte("sweep_visits_total")) || !bytes.Contains(scraped, []byte(`sweep_round_missed_residents{namespace="`+ns+`",reason="not-home",round="private"} 2`)) {
		t.Fatalf("the metrics output has no sweep_visits_total or not b-ok's 2 not-home: not this manager's endpoint?\n%s", scraped)
	}
	if !strings.Contains(logs.String(), "private") {
		t.Fatal("the captured log does not mention the round: the manager does not log there")
	}
	findCanaries(t, map[string]string{"API objects": dump.String(), "manager log": logs.String(), "metrics": string(scraped)})
}

// findCanaries fails t for each of privacyCanaries in the texts, named by
// where they come from.
func findCanaries(t *testing.T, texts map[string]string) {
	t.Helper()
	for where, text := range texts {
		for _, c := range privacyCanaries {
			if i := strings.Index(text, c); i >= 0 {
				t.Errorf("resident data %q appears in the %s: ...%s...", c, where, text[max(i-200, 0):min(i+100, len(text))])
			}
		}
	}
}
