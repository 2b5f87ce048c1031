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
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// The mop-up tests through the http and csv sources run a main
// round over reasonBuildings and mopUpDone, then a mop-up round of it made
// by hand, whose registry answers are messy: they also speak of households
// the main round did not miss, and one knows more residents than Sweep
// expects.

// mopUpDone is a building the main round misses nobody in, though the
// registry lists a household with an unsampled resident (the exempt
// patient): the mop-up must not go there.
var mopUpDone = struct {
	name              string
	residents, exempt int32
	rows              []string // household,residents,sampled,home_visited,reason
}{name: "m-done", residents: 10, exempt: 1, rows: []string{"1-0101,3,3,1,", "1-0102,4,4,0,", "1-0201,3,2,0,in-hospital"}}

// mopUpMainMissed is what the main round misses: 2 in r-trim, 3 in
// r-refused, 2 in r-none.
const mopUpMainMissed = 7

// mopUpAnswers are the registry's figures for the mop-up, per building:
// knock are rows of the households the main round missed, others rows of
// households it did not (household,residents,sampled,home_visited,reason,
// as in reasonBuildings), and then what the mop-up's CollectionJob must
// count from them.
var mopUpAnswers = []struct {
	building      string
	knock, others []string

	sampled, missed, extra, home int32
	households                   []string
	byReason                     sweepv1alpha1.MissedReasonCounts
	reasons                      []sweepv1alpha1.HouseholdReason
}{
	// 2 expected; the registry still lists the 2 exempt patients of
	// 1-0102 (in hospital): fitted to 1 missed, not home. 1-0201 was not
	// missed by the main round: its refusal is not the mop-up's, nor (in
	// the csv export) its 3 sampled, which would leave nobody missed.
	{building: "r-trim",
		knock:   []string{"1-0101,2,1,0,not-home", "1-0102,2,0,0,in-hospital"},
		others:  []string{"1-0201,4,3,0,refused"},
		sampled: 1, missed: 1, households: []string{"1-0101", "1-0102"},
		byReason: sweepv1alpha1.MissedReasonCounts{NotHome: 1},
		reasons: []sweepv1alpha1.HouseholdReason{{Household: "1-0101", Reason: sweepv1alpha1.MissedNotHome},
			{Household: "1-0102", Reason: sweepv1alpha1.MissedInHospital}}},
	// 3 expected, all sampled, and one more person the roster does not
	// know (extraSampled). 2-0103 and 9-0901 were not missed by the main
	// round.
	{building: "r-refused",
		knock:   []string{"2-0101,3,3,1,", "2-0102,1,1,0,"},
		others:  []string{"2-0103,2,2,0,", "9-0901,2,0,0,refused"},
		sampled: 3, extra: 1, home: 1},
	// 2 expected, nobody found, no reason given; 3-0102 refused, but the
	// main round did not miss it.
	{building: "r-none",
		knock:  []string{"3-0101,2,0,0,"},
		others: []string{"3-0102,3,0,0,refused"},
		missed: 2, households: []string{"3-0101"},
		byReason: sweepv1alpha1.MissedReasonCounts{Unknown: 2}},
}

// mopUpRoundResidents is what the mop-up round counts from mopUpAnswers.
var mopUpRoundResidents = sweepv1alpha1.ResidentCounts{Expected: mopUpMainMissed, Sampled: 4, Missed: 3, ExtraSampled: 1, HomeVisited: 1,
	MissedByReason: sweepv1alpha1.MissedReasonTotals{NotHome: 1, Unknown: 2}}

func createMopUpBuildings(t *testing.T, ns string) {
	t.Helper()
	createReasonBuildings(t, ns)
	b := testobjects.Building(ns, mopUpDone.name).WithLabels(street).Residents(mopUpDone.residents).
		Exempt(mopUpDone.exempt).Households(int32(len(mopUpDone.rows))).Obj()
	if err := k8s.Create(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// mainRows are the registry's rows of the main round, per building.
func mainRows() map[string][]string {
	rows := map[string][]string{mopUpDone.name: mopUpDone.rows}
	for _, b := range reasonBuildings {
		rows[b.name] = b.rows
	}
	return rows
}

// registryAnswer is the http API's answer for building from rows: sampled
// and homeVisited add up counted, missedHouseholds and missedReasons come
// from counted and listed alike (missedReasons left out when no row gives
// a reason, the old way).
func registryAnswer(t *testing.T, building string, counted, listed []string) string {
	t.Helper()
	var sampled, home int
	var missed, reasons []string
	for i, r := range append(append([]string(nil), counted...), listed...) {
		f := strings.Split(r, ",")
		var n, s, h int
		if _, err := fmt.Sscanf(f[1]+" "+f[2]+" "+f[3], "%d %d %d", &n, &s, &h); err != nil {
			t.Fatal(err)
		}
		if i < len(counted) {
			sampled, home = sampled+s, home+h
		}
		if s < n {
			missed = append(missed, `"`+f[0]+`"`)
			if f[4] != "" {
				reasons = append(reasons, fmt.Sprintf(`{"household":%q,"residents":%d,"reason":%q}`, f[0], n-s, f[4]))
			}
		}
	}
	answer := fmt.Sprintf(`{"building":%q,"sampled":%d,"homeVisited":%d,"missedHouseholds":[%s]`, building, sampled, home, strings.Join(missed, ","))
	if len(reasons) > 0 {
		answer += `,"missedReasons":[` + strings.Join(reasons, ",") + `]`
	}
	return answer + "}"
}

// csvExport is an export with a reason column holding rows per building.
func csvExport(rows map[string][]string) string {
	lines := []string{"building,household,residents,sampled,home_visited,reason"}
	for b, rs := range rows {
		for _, r := range rs {
			lines = append(lines, b+","+r)
		}
	}
	return strings.Join(lines, "\n")
}

// newMopUpRound is a one-visit mop-up round of main, made by hand: no
// buildingSelector, starting at once, with main's deadline.
func newMopUpRound(t *testing.T, ns, name, main string) *sweepv1alpha1.TestingRound {
	t.Helper()
	mu := newRound(ns, name, time.Time{}, 3, nil)
	mu.Spec.Deadline = getRound(t, ns, main).Spec.Deadline
	mu.Spec.MopUpOf = main
	mu.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	return mu
}

// checkMainRoundMissed checks that the main round missed what
// reasonBuildings and mopUpDone make it miss, so the mop-up has something
// to do and a building it must leave alone.
func checkMainRoundMissed(t *testing.T, ns, main string) {
	t.Helper()
	tr := getRound(t, ns, main)
	if tr.Status.Phase != sweepv1alpha1.RoundCompleted || tr.Status.Residents.Missed != mopUpMainMissed {
		t.Fatalf("main round %s: %s, residents %+v; want Completed with %d missed", main, tr.Status.Phase, tr.Status.Residents, mopUpMainMissed)
	}
	if st := getJob(t, ns, jobName(t, ns, main, mopUpDone.name)).Status; st.Phase != sweepv1alpha1.JobCompleted || st.Missed != 0 {
		t.Fatalf("%s in %s: %+v; want Completed with nobody missed", mopUpDone.name, main, st)
	}
}

// checkMopUpThroughSource checks the mop-up round mopUp of main once
// finished: its jobs are those checkMopUpOf asks for, each expecting the
// earlier job's status.missed, and each counted what mopUpAnswers says,
// the registry's figures for households outside its knock list left out.
func checkMopUpThroughSource(t *testing.T, ns, main, mopUp string) {
	t.Helper()
	checkMopUpOf(t, ns, main, mopUp)
	mainJobs, jobs := roundJobs(t, ns, main), roundJobs(t, ns, mopUp)
	if _, ok := jobs[mopUpDone.name]; ok {
		t.Errorf("%s knocks %s, where %s missed nobody", mopUp, mopUpDone.name, main)
	}
	if len(jobs) != len(mopUpAnswers) {
		t.Errorf("%s has %d jobs, want %d (one per building %s missed residents in)", mopUp, len(jobs), len(mopUpAnswers), main)
	}
	for _, want := range mopUpAnswers {
		j, ok := jobs[want.building]
		if !ok {
			continue // checkMopUpOf said so
		}
		if earlier := mainJobs[want.building].Status; j.Spec.Expected != earlier.Missed {
			t.Errorf("%s: the mop-up expects %d, %s missed %d", want.building, j.Spec.Expected, main, earlier.Missed)
		}
		st := j.Status
		var byReason sweepv1alpha1.MissedReasonCounts
		if st.NotSampledByReason != nil {
			byReason = *st.NotSampledByReason
		}
		if st.Phase != sweepv1alpha1.JobCompleted || st.Sampled != want.sampled || st.Missed != want.missed || st.ExtraSampled != want.extra ||
			st.HomeVisited != want.home || strings.Join(st.MissedHouseholds, " ") != strings.Join(want.households, " ") ||
			byReason != want.byReason || fmt.Sprint(st.MissedHouseholdReasons) != fmt.Sprint(want.reasons) {
			t.Errorf("%s in %s: phase %s, sampled %d, missed %d, extra %d, home %d, households %q, by reason %+v, household reasons %+v, conditions %+v;\n"+
				"want Completed, %d, %d, %d, %d, %q, %+v, %+v",
				want.building, mopUp, st.Phase, st.Sampled, st.Missed, st.ExtraSampled, st.HomeVisited, st.MissedHouseholds, byReason,
				st.MissedHouseholdReasons, st.Conditions, want.sampled, want.missed, want.extra, want.home, want.households, want.byReason, want.reasons)
		}
		if j.Spec.Expected != st.Sampled+st.Outstanding+st.Missed || byReason.Total() != int64(st.Missed+st.Outstanding) {
			t.Errorf("%s in %s: expected %d is not sampled %d + outstanding %d + missed %d, or by reason %+v does not add up",
				want.building, mopUp, j.Spec.Expected, st.Sampled, st.Outstanding, st.Missed, byReason)
		}
		for _, h := range st.MissedHouseholds {
			if !slices.Contains(j.Spec.MopUp.Households, h) {
				t.Errorf("%s in %s: lists household %s, which %s did not miss", want.building, mopUp, h, main)
			}
		}
	}
	tr := getRound(t, ns, mopUp)
	res := tr.Status.Residents
	if tr.Status.Phase != sweepv1alpha1.RoundCompleted || res.Expected != mopUpRoundResidents.Expected || res.Sampled != mopUpRoundResidents.Sampled ||
		res.Missed != mopUpRoundResidents.Missed || res.Outstanding != 0 || res.ExtraSampled != mopUpRoundResidents.ExtraSampled ||
		res.HomeVisited != mopUpRoundResidents.HomeVisited || res.MissedByReason != mopUpRoundResidents.MissedByReason {
		t.Errorf("mop-up round %s: %s, residents %+v; want Completed, %+v", mopUp, tr.Status.Phase, res, mopUpRoundResidents)
	}
	if res.Expected != res.Sampled+res.Outstanding+res.Missed || res.MissedByReason.Total() != res.Missed {
		t.Errorf("mop-up round %s: residents %+v do not add up", mopUp, res)
	}
}

// mopUpRequest is a request the registry got.
type mopUpRequest struct {
	round, building, mopUpOf string
	asked                    bool // mopUpOf was in the query
}

// TestHTTPSourceMopUpRoundThroughTheRegistry runs a main round through the
// http source (local executor), then its mop-up round made by hand. Every
// request of the mop-up asks about the mop-up round with
// &mopUpOf={main round} (the registry answers nothing else), none of the
// main round's does; the mop-up knocks exactly the buildings and
// households the main round missed, expects their missed residents, and
// counts nothing the registry says about other households.
func TestHTTPSourceMopUpRoundThroughTheRegistry(t *testing.T) {
	const main, mopUp = "registry", "registry-mopup"
	answers := map[string]map[string]string{main: {}, mopUp: {}}
	for b, rows := range mainRows() {
		answers[main][b] = registryAnswer(t, b, rows, nil)
	}
	for _, b := range mopUpAnswers {
		answers[mopUp][b.building] = registryAnswer(t, b.building, b.knock, b.others)
	}
	var mu sync.Mutex
	var reqs []mopUpRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // /v1/rounds/{round}/buildings/{building}/samples
		if len(parts) != 7 {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		req := mopUpRequest{round: parts[3], building: parts[5], mopUpOf: q.Get("mopUpOf"), asked: q.Has("mopUpOf")}
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		// The mop-up's figures only for a request that says which round
		// it follows up, the day's totals only for one that does not.
		if (req.round == mopUp) != (req.mopUpOf == main) || (req.round == main) == req.asked {
			http.Error(w, "ask about a mop-up round with mopUpOf, and only then", http.StatusNotFound)
			return
		}
		body, ok := answers[req.round][req.building]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	defer srv.Close()

	ns := newNamespace(t)
	ctx := context.Background()
	createMopUpBuildings(t, ns)
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, func(mgr ctrl.Manager) Executor { return NewLocalExecutor(mgr.GetClient(), 8, 0) })
	source := func(tr *sweepv1alpha1.TestingRound) {
		tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
		tr.Spec.Collector.HTTP = &sweepv1alpha1.HTTPSource{URL: srv.URL, Timeout: &sweepv1alpha1.Duration{Duration: 2 * time.Second}}
	}
	tr := newRound(ns, main, clk.Now(), 3, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	source(tr)
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, main)
	untilFinal := func(name string) {
		t.Helper()
		await(t, name+" finished", func() (bool, error) {
			if getRound(t, ns, name).Status.Phase.Finished() {
				return true, nil
			}
			// A failed visit is retried 10 s and 20 s later on the round
			// clock.
			advanceToNextVisits(t, ns, clk)
			return false, nil
		})
	}
	untilFinal(main)
	checkMainRoundMissed(t, ns, main)

	m := newMopUpRound(t, ns, mopUp, main)
	source(m)
	if err := k8s.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, mopUp)
	untilFinal(mopUp)
	checkMopUpThroughSource(t, ns, main, mopUp)

	mu.Lock()
	defer mu.Unlock()
	asked := map[string]int{}
	for _, r := range reqs {
		asked[r.round+"/"+r.building]++
		switch r.round {
		case mopUp:
			if r.mopUpOf != main {
				t.Errorf("a request of mop-up %s for %s asked mopUpOf=%q (in the query: %t), want %q", mopUp, r.building, r.mopUpOf, r.asked, main)
			}
		case main:
			if r.asked {
				t.Errorf("a request of round %s for %s asked mopUpOf=%q: it is no mop-up", main, r.building, r.mopUpOf)
			}
		default:
			t.Errorf("a request for round %q, building %s", r.round, r.building)
		}
	}
	for _, b := range mopUpAnswers {
		if asked[mopUp+"/"+b.building] == 0 {
			t.Errorf("the mop-up never asked about %s", b.building)
		}
	}
	if n := asked[mopUp+"/"+mopUpDone.name]; n != 0 {
		t.Errorf("the mop-up asked %d times about %s, where %s missed nobody", n, mopUpDone.name, main)
	}
}

// TestCSVSourceMopUpRoundThroughTheExport runs a main round through the csv
// source (job executor: the collector runs from the visit pod's
// environment with the export mounted), then its mop-up round made by
// hand, reading the mop-up's own export. The export also holds rows of
// households the main round did not miss, with sampled and missed
// residents and reasons: the mop-up counts only the households the main
// round missed, in the buildings it missed residents in, and expects their
// missed residents.
func TestCSVSourceMopUpRoundThroughTheExport(t *testing.T) {
	const main, mopUp = "csv", "csv-mopup"
	ns := newNamespace(t)
	ctx := context.Background()
	createMopUpBuildings(t, ns)
	kubelet := runCSVRoundWith(t, ns, csvExport(mainRows()), nil, jobExecutor)
	checkMainRoundMissed(t, ns, main)

	rows := map[string][]string{
		// Not knocked: the main round missed nobody there.
		mopUpDone.name: {"1-0201,3,0,0,in-hospital"},
	}
	for _, b := range mopUpAnswers {
		rows[b.building] = append(append([]string(nil), b.knock...), b.others...)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mopup-samples", Namespace: ns}, Data: map[string]string{"samples.csv": csvExport(rows)}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	m := newMopUpRound(t, ns, mopUp, main)
	m.Spec.Collector.Source = sweepv1alpha1.SourceCSV
	m.Spec.Collector.CSV = &sweepv1alpha1.CSVSource{ConfigMapName: "mopup-samples"}
	if err := k8s.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, mopUp)
	await(t, mopUp+" finished", func() (bool, error) {
		return getRound(t, ns, mopUp).Status.Phase.Finished(), nil
	})
	checkMopUpThroughSource(t, ns, main, mopUp)

	// One collector run per building in the main round, and one more in
	// the mop-up for each building it knocks.
	kubelet.mu.Lock()
	defer kubelet.mu.Unlock()
	for _, b := range mopUpAnswers {
		if n := kubelet.runs[b.building]; n != 2 {
			t.Errorf("%s: the collector ran %d times, want 2 (the round and its mop-up)", b.building, n)
		}
	}
	if n := kubelet.runs[mopUpDone.name]; n != 1 {
		t.Errorf("%s: the collector ran %d times, want 1 (the main round only)", mopUpDone.name, n)
	}
	if len(kubelet.errors) > 0 {
		t.Errorf("collector errors: %v", kubelet.errors)
	}
}
