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
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// TestCSVSourceBadExportsThroughARound runs a csv round (job executor, the
// export in a ConfigMap mounted into each visit's pod) over three
// buildings: one whose rows are good, one with broken rows, and one the
// export leaves out (it has only another building's rows: the wrong
// building's export). The good one completes with the export's numbers;
// the other two fail their visit three times and end Failed, their
// residents missed, and the collector's error names the file, the lines
// and what is wrong with them, or the building with no rows. The error
// reaches the CollectionJob's Failed condition through the pod's
// termination message, which also names the visit Job that failed.
func TestCSVSourceBadExportsThroughARound(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"b-good", "b-broken", "b-absent"} {
		b := testobjects.Building(ns, name).WithLabels(street).Residents(7).Households(3).Obj()
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	export := strings.Join([]string{
		"building,household,residents,sampled,home_visited",
		"b-good,1-0101,3,3,1",
		"b-good,1-0102,4,2,0",
		"b-broken,1-0101,3,4,0",         // line 4: more sampled than residents
		"b-broken,1-0102,two,1,0",       // line 5: not a number
		"b-broken,1-0102,4,2",           // line 6: a column missing
		"b-broken,unit 1 room 3,2,2,0",  // line 7: not a household id
		"elsewhere-9,1-0101,3,3,0",      // the wrong building's rows
		"elsewhere-9,1-0102,not,even,a", // are not checked
	}, "\n")
	kubelet := runCSVRound(t, ns, export)

	good := getJob(t, ns, jobName(t, ns, "csv", "b-good")).Status
	if good.Phase != sweepv1alpha1.JobCompleted || good.Sampled != 5 || good.Missed != 2 || good.HomeVisited != 1 || len(good.MissedHouseholds) != 1 || good.MissedHouseholds[0] != "1-0102" {
		t.Errorf("b-good: %+v; want 5 sampled (1 at home), 2 missed in 1-0102", good)
	}
	kubelet.mu.Lock()
	defer kubelet.mu.Unlock()
	for building, says := range map[string][]string{
		"b-broken": {"samples.csv line 4, column sampled", "samples.csv line 5, column residents", "samples.csv line 6, column home_visited: missing", "samples.csv line 7, column household: not a unit-room id"},
		"b-absent": {"samples.csv has no rows for building b-absent"},
	} {
		name := jobName(t, ns, "csv", building)
		st := getJob(t, ns, name).Status
		c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionFailed)
		if st.Phase != sweepv1alpha1.JobFailed || st.FailedAttempts != collection.MaxAttempts || st.Sampled != 0 || st.Missed != 7 || c == nil {
			t.Errorf("%s: %+v; want Failed after %d attempts with its 7 residents missed", building, st, collection.MaxAttempts)
			continue
		}
		last := collection.VisitName(name, 1, collection.MaxAttempts-1)
		if !strings.Contains(c.Message, last+" failed: BackoffLimitExceeded") {
			t.Errorf("%s: the Failed condition does not name the visit Job whose pod failed: %s", building, c.Message)
		}
		if kubelet.runs[building] != collection.MaxAttempts {
			t.Errorf("%s: the collector ran %d times, want %d", building, kubelet.runs[building], collection.MaxAttempts)
		}
		for _, s := range says {
			if !strings.Contains(kubelet.errors[last], s) {
				t.Errorf("%s: the collector's error does not say %q: %s", building, s, kubelet.errors[last])
			}
			if !strings.Contains(c.Message, s) {
				t.Errorf("%s: the Failed condition does not say %q: %s", building, s, c.Message)
			}
		}
		for _, leak := range []string{"two", "unit 1 room 3"} {
			if strings.Contains(kubelet.errors[last], leak) || strings.Contains(c.Message, leak) {
				t.Errorf("%s: the collector's error repeats the cell %q: %s", building, leak, kubelet.errors[last])
			}
		}
	}
	if res := getRound(t, ns, "csv").Status.Residents; res.Sampled != 5 || res.Missed != 16 {
		t.Errorf("round residents %+v; want 5 sampled and 16 missed", res)
	}
}

// rosterBuilding is a building as the roster and as a real registry see
// it: the roster counts residents and exempt ones; the registry
// lists every registered resident per household, knows nothing of
// exemptions and may know people the roster does not.
type rosterBuilding struct {
	name              string
	residents, exempt int32
	rows              []string // household,residents,sampled,home_visited
	sampled, missed   int32    // what the round must count
	extra, home       int32
	missedHouseholds  []string
}

var rosterBuildings = []rosterBuilding{
	// 10 registered, 1 in hospital (exempt), the other 9 sampled: the
	// registry still lists the patient's household as not sampled.
	{name: "b-exempt", residents: 10, exempt: 1,
		rows:    []string{"1-0101,3,3,1", "1-0102,4,4,0", "1-0201,3,2,0"},
		sampled: 9, home: 1},
	// The registry knows three people who moved in; all sampled.
	{name: "b-movedin", residents: 8,
		rows:    []string{"1-0101,5,5,2", "1-0102,4,4,0", "2-0301,2,2,0"},
		sampled: 8, extra: 3, home: 2},
	// 12 registered, 2 exempt: two households hold sampled and unsampled
	// residents, for one missed resident (the other unsampled are exempt).
	{name: "b-mixed", residents: 12, exempt: 2,
		rows:    []string{"1-0101,4,2,1", "1-0102,4,3,0", "1-0201,4,4,4"},
		sampled: 9, missed: 1, home: 5, missedHouseholds: []string{"1-0101", "1-0102"}},
}

// createRosterBuildings creates rosterBuildings in ns.
func createRosterBuildings(t *testing.T, ns string) {
	t.Helper()
	for _, b := range rosterBuildings {
		obj := testobjects.Building(ns, b.name).WithLabels(street).Residents(b.residents).Exempt(b.exempt).
			Households(3).Obj()
		if err := k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRosterRound checks that every roster building of round name finished
// Completed with exact counts, and the round's totals.
func checkRosterRound(t *testing.T, ns, name string) {
	t.Helper()
	var sampled, missed, extra int64
	for _, b := range rosterBuildings {
		cj := getJob(t, ns, jobName(t, ns, name, b.name))
		st := cj.Status
		if st.Phase != sweepv1alpha1.JobCompleted || st.Sampled != b.sampled || st.Missed != b.missed || st.ExtraSampled != b.extra ||
			st.HomeVisited != b.home || strings.Join(st.MissedHouseholds, " ") != strings.Join(b.missedHouseholds, " ") {
			t.Errorf("%s: phase %s, sampled %d, missed %d, extra %d, home %d, households %q, conditions %+v; want Completed, %d, %d, %d, %d, %q",
				b.name, st.Phase, st.Sampled, st.Missed, st.ExtraSampled, st.HomeVisited, st.MissedHouseholds, st.Conditions,
				b.sampled, b.missed, b.extra, b.home, b.missedHouseholds)
		}
		if c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionReportIgnored); c != nil && c.Status == metav1.ConditionTrue {
			t.Errorf("%s: a report was ignored: %s", b.name, c.Message)
		}
		sampled, missed, extra = sampled+int64(b.sampled), missed+int64(b.missed), extra+int64(b.extra)
	}
	// The surplus reaches the round, where ops see that the roster needs
	// updating.
	if res := getRound(t, ns, name).Status.Residents; res.Sampled != sampled || res.Missed != missed || res.ExtraSampled != extra || extra == 0 {
		t.Errorf("round residents %+v; want %d sampled, %d missed and %d (> 0) sampled beyond the roster", res, sampled, missed, extra)
	}
}

// TestCSVSourceRealRegistryThroughARound runs a csv round whose export is
// a real registry's: exempt residents still listed, people the roster does
// not know, households with sampled and unsampled residents. Every
// building completes on its first visit with exact counts (the
// old operator ignored these reports and failed the buildings).
func TestCSVSourceRealRegistryThroughARound(t *testing.T) {
	ns := newNamespace(t)
	createRosterBuildings(t, ns)
	lines := []string{"building,household,residents,sampled,home_visited"}
	for _, b := range rosterBuildings {
		for _, r := range b.rows {
			lines = append(lines, b.name+","+r)
		}
	}
	runCSVRound(t, ns, strings.Join(lines, "\n"))
	checkRosterRound(t, ns, "csv")
}

// runCSVRound runs a one-visit csv round named "csv" over the export, with
// the job executor and a kubelet that mounts the export's ConfigMap, until
// it is Completed.
func runCSVRound(t *testing.T, ns, export string) *fakeKubelet {
	t.Helper()
	return runCSVRoundWith(t, ns, export, nil, jobExecutor)
}

// runCSVRoundWith is runCSVRound with the manager's round reconciler tuned
// and its executor made by newExecutor (which must be the job executor's).
func runCSVRoundWith(t *testing.T, ns, export string, tune func(*TestingRoundReconciler), newExecutor func(ctrl.Manager) Executor) *fakeKubelet {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "samples", Namespace: ns}, Data: map[string]string{"samples.csv": export}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	kubelet := startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return runCollector })
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, tune, newExecutor)
	tr := newRound(ns, "csv", clk.Now(), 3, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceCSV
	tr.Spec.Collector.CSV = &sweepv1alpha1.CSVSource{ConfigMapName: "samples"}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "csv")
	await(t, "round Completed", func() (bool, error) {
		if getRound(t, ns, "csv").Status.Phase == sweepv1alpha1.RoundCompleted {
			return true, nil
		}
		advanceToNextVisits(t, ns, clk)
		return false, nil
	})
	return kubelet
}

// reasonBuildings are buildings whose registry gives missed reasons.
// rows are household,residents,sampled,home_visited,reason.
var reasonBuildings = []struct {
	name              string
	residents, exempt int32
	rows              []string
	// what the CollectionJob must hold once final
	byReason   sweepv1alpha1.MissedReasonCounts
	households []sweepv1alpha1.HouseholdReason
}{
	// 10 expected (2 exempt, in hospital); the registry lists 4 not
	// sampled, 2 of them the exempt patients: fitted to the 2 missed, the
	// in-hospital ones are trimmed before the not-home ones.
	{name: "r-trim", residents: 12, exempt: 2,
		rows:     []string{"1-0101,4,2,1,not-home", "1-0102,4,2,0,in-hospital", "1-0201,4,4,4,"},
		byReason: sweepv1alpha1.MissedReasonCounts{NotHome: 2},
		households: []sweepv1alpha1.HouseholdReason{{Household: "1-0101", Reason: sweepv1alpha1.MissedNotHome},
			{Household: "1-0102", Reason: sweepv1alpha1.MissedInHospital}}},
	// A household without a reason counts unknown.
	{name: "r-refused", residents: 6,
		rows:       []string{"2-0101,3,1,0,refused", "2-0102,3,2,0,"},
		byReason:   sweepv1alpha1.MissedReasonCounts{Refused: 2, Unknown: 1},
		households: []sweepv1alpha1.HouseholdReason{{Household: "2-0101", Reason: sweepv1alpha1.MissedRefused}}},
	// No reasons at all (for http: an answer without missedReasons).
	{name: "r-none", residents: 5,
		rows:     []string{"3-0101,5,3,0,"},
		byReason: sweepv1alpha1.MissedReasonCounts{Unknown: 2}},
}

// reasonRoundMissed is what the round over reasonBuildings counts missed,
// by reason.
var reasonRoundMissed = sweepv1alpha1.MissedReasonTotals{NotHome: 2, Refused: 2, Unknown: 3}

func createReasonBuildings(t *testing.T, ns string) {
	t.Helper()
	for _, b := range reasonBuildings {
		obj := testobjects.Building(ns, b.name).WithLabels(street).Residents(b.residents).Exempt(b.exempt).
			Households(int32(len(b.rows))).Obj()
		if err := k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// serveRoundMetrics makes the next manager serve metrics with the round
// collector registered, and returns where, the round reconciler's tune and
// an executor maker wrapping newExecutor.
func serveRoundMetrics(t *testing.T, newExecutor func(ctrl.Manager) Executor) (string, func(*TestingRoundReconciler), func(ctrl.Manager) Executor) {
	t.Helper()
	addr := testharness.FreeAddr(t)
	testMetricsAddr = addr
	t.Cleanup(func() { testMetricsAddr = "0" })
	var rounds *TestingRoundReconciler
	return addr, func(r *TestingRoundReconciler) { rounds = r }, func(mgr ctrl.Manager) Executor {
		if err := metrics.Register(&metrics.RoundCollector{Reader: mgr.GetClient(), RoundJobs: rounds.RoundJobs}); err != nil {
			t.Fatal(err)
		}
		return newExecutor(mgr)
	}
}

// checkReasonRound checks that the reasons of reasonBuildings reached each
// CollectionJob's status, the round's status and the metric, and that they
// add up to missed at every level.
func checkReasonRound(t *testing.T, ns, name, metricsAddr string) {
	t.Helper()
	for _, b := range reasonBuildings {
		st := getJob(t, ns, jobName(t, ns, name, b.name)).Status
		if st.Phase != sweepv1alpha1.JobCompleted || st.NotSampledByReason == nil || *st.NotSampledByReason != b.byReason ||
			fmt.Sprint(st.MissedHouseholdReasons) != fmt.Sprint(b.households) {
			t.Errorf("%s: phase %s, missed %d, by reason %+v, household reasons %+v, conditions %+v; want Completed, %+v, %+v",
				b.name, st.Phase, st.Missed, st.NotSampledByReason, st.MissedHouseholdReasons, st.Conditions, b.byReason, b.households)
		}
		if st.NotSampledByReason != nil && st.NotSampledByReason.Total() != int64(st.Missed+st.Outstanding) {
			t.Errorf("%s: by reason %+v does not add up to %d missed", b.name, st.NotSampledByReason, st.Missed)
		}
	}
	res := getRound(t, ns, name).Status.Residents
	if res.MissedByReason != reasonRoundMissed || res.MissedByReason.Total() != res.Missed {
		t.Errorf("round missed %d by reason %+v, want %+v", res.Missed, res.MissedByReason, reasonRoundMissed)
	}
	key := func(reason sweepv1alpha1.MissedReason) string {
		labels := []string{"namespace=" + ns, "round=" + name, "reason=" + string(reason)}
		sort.Strings(labels)
		return "sweep_round_missed_residents{" + strings.Join(labels, ",") + "}"
	}
	var got map[string]float64
	// The cache the collector reads may trail the API by a moment.
	await(t, "the missed-by-reason metric", func() (bool, error) {
		got = scrape(t, metricsAddr)
		return got[key(sweepv1alpha1.MissedNotHome)] == float64(reasonRoundMissed.NotHome), nil
	})
	for _, reason := range sweepv1alpha1.MissedReasons {
		if v, ok := got[key(reason)]; !ok || v != float64(reasonRoundMissed.Get(reason)) {
			t.Errorf("%s = %v (present %v), want %d from the round status", key(reason), v, ok, reasonRoundMissed.Get(reason))
		}
	}
}

// TestCSVSourceMissedReasonsThroughARound: an export with a reason column
// gives its reasons to the CollectionJobs, the round and the metric, fitted
// to the roster.
func TestCSVSourceMissedReasonsThroughARound(t *testing.T) {
	ns := newNamespace(t)
	createReasonBuildings(t, ns)
	lines := []string{"building,household,residents,sampled,home_visited,reason"}
	for _, b := range reasonBuildings {
		for _, r := range b.rows {
			lines = append(lines, b.name+","+r)
		}
	}
	addr, tune, exec := serveRoundMetrics(t, jobExecutor)
	runCSVRoundWith(t, ns, strings.Join(lines, "\n"), tune, exec)
	checkReasonRound(t, ns, "csv", addr)
}

// TestCSVSourceReasonNotesDoNotLeak: an export whose reason column holds
// free-text notes naming residents and their phones. The
// building with such rows fails with the file, the lines and the column
// named; the other building's good reason is taken. None of the notes
// reaches an API object Sweep writes (the export's own ConfigMap is the
// registry's, put there by the district), an event, a pod's termination
// message, the collector's error, the manager's log or the metrics.
func TestCSVSourceReasonNotesDoNotLeak(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"b-ok", "b-note"} {
		b := testobjects.Building(ns, name).WithLabels(street).Residents(5).Households(2).Obj()
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	export := strings.Join([]string{
		"building,household,residents,sampled,home_visited,reason",
		"b-ok,1-0101,3,1,0,not-home",
		"b-ok,1-0102,2,2,0,",
		`b-note,1-0101,3,1,0,"ZHANG Canary-Wei, 13800138000"`, // line 4
		"b-note,1-0102,2,0,0,LI Canary-Na moved out",          // line 5
	}, "\n")
	logs := &testharness.SyncBuffer{}
	testManagerLogger = zap.New(zap.WriteTo(logs), zap.Level(zapcore.DebugLevel))
	t.Cleanup(func() { testManagerLogger = logr.Logger{} })
	addr, tune, exec := serveRoundMetrics(t, jobExecutor)
	kubelet := runCSVRoundWith(t, ns, export, tune, exec)

	ok := getJob(t, ns, jobName(t, ns, "csv", "b-ok")).Status
	if ok.Phase != sweepv1alpha1.JobCompleted || ok.NotSampledByReason == nil || *ok.NotSampledByReason != (sweepv1alpha1.MissedReasonCounts{NotHome: 2}) {
		t.Errorf("b-ok: %+v; want Completed with 2 not-home", ok)
	}
	name := jobName(t, ns, "csv", "b-note")
	note := getJob(t, ns, name).Status
	c := meta.FindStatusCondition(note.Conditions, sweepv1alpha1.ConditionFailed)
	if note.Phase != sweepv1alpha1.JobFailed || c == nil {
		t.Fatalf("b-note: %+v; want Failed", note)
	}
	for _, want := range []string{"samples.csv line 4, column reason: not one of", "samples.csv line 5, column reason: not one of"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("b-note's Failed condition does not say %q: %s", want, c.Message)
		}
	}
	await(t, "the Failed event", func() (bool, error) { return jobEvents(t, ns, name)["Failed"] != "", nil })

	var dump bytes.Buffer
	for _, list := range []client.ObjectList{&sweepv1alpha1.TestingRoundList{}, &sweepv1alpha1.CollectionJobList{},
		&sweepv1alpha1.BuildingList{}, &eventsv1.EventList{}, &corev1.EventList{}, &batchv1.JobList{}, &corev1.PodList{}} {
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&dump).Encode(list); err != nil {
			t.Fatal(err)
		}
	}
	var cms corev1.ConfigMapList
	if err := k8s.List(ctx, &cms, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.Name != "samples" {
			if err := json.NewEncoder(&dump).Encode(cm); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The search proves something only if the failure is in what it reads.
	if !strings.Contains(dump.String(), "column reason: not one of") || !strings.Contains(dump.String(), `"terminated"`) {
		t.Fatalf("the collector's error is not in the API objects, so the search below proves nothing:\n%s", dump.String())
	}
	var scraped map[string]float64
	// The cache the collector reads may trail the API by a moment.
	await(t, "b-ok's 2 not-home in the metrics", func() (bool, error) {
		scraped = scrape(t, addr)
		return scraped[`sweep_round_missed_residents{namespace=`+ns+`,reason=not-home,round=csv}`] == 2, nil
	})
	metricsText := fmt.Sprint(scraped)
	kubelet.mu.Lock()
	collectorErrors := fmt.Sprint(kubelet.errors)
	kubelet.mu.Unlock()
	findCanaries(t, map[string]string{"API objects": dump.String(), "manager log": logs.String(), "metrics": metricsText, "collector's errors": collectorErrors})
}
