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
	"context"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// mopUpHouseholds is the knock list of the mop-ups below: what round r-0
// missed in building b-1.
var mopUpHouseholds = []string{"2-1203", "3-0401"}

func TestMopUpAssignmentRoundTripsThroughTheEnvironment(t *testing.T) {
	for _, households := range [][]string{mopUpHouseholds, nil} {
		a := csvAssignment(CSVMountDir+"/samples.csv", "b-1", 3)
		a.MopUpOf, a.MopUpHouseholds = "r-0", households
		env := a.Env()
		if env[EnvMopUpOf] != "r-0" || env[EnvMopUpHouseholds] != strings.Join(households, " ") {
			t.Errorf("Env() has %s=%q %s=%q", EnvMopUpOf, env[EnvMopUpOf], EnvMopUpHouseholds, env[EnvMopUpHouseholds])
		}
		got, err := FromEnv(lookupIn(env))
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("FromEnv(Env()) = %+v, %v; want %+v", got, err, a)
		}
	}
	if env := drillAssignment(1).Env(); env[EnvMopUpOf] != "" || env[EnvMopUpHouseholds] != "" {
		t.Errorf("a sweep visit's environment has mop-up variables: %v", env)
	}
}

func TestMopUpHouseholdsFromTheEnvironment(t *testing.T) {
	many := make([]string, sweepv1alpha1.MaxMissedHouseholds+1)
	for i := range many {
		many[i] = fmt.Sprintf("1-%d", i)
	}
	for _, tc := range []struct {
		name, of, households string
		want                 []string
		errParts             []string
	}{
		{name: "a list", of: "r-0", households: "2-1203, 3-0401 2-1203", want: []string{"2-1203", "3-0401"}},
		{name: "no list: the whole building", of: "r-0", households: " "},
		{name: "five hundred and one", of: "r-0", households: strings.Join(many, " "), errParts: []string{EnvMopUpHouseholds, "501 households, at most 500"}},
		{name: "not an id", of: "r-0", households: "2-1203 ZHANG/Canary-Wei", errParts: []string{EnvMopUpHouseholds, "item 2 is not a unit-room id"}},
		{name: "households without the round", households: "2-1203", errParts: []string{EnvMopUpHouseholds, "without " + EnvMopUpOf}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := drillAssignment(1).Env()
			if tc.of != "" {
				env[EnvMopUpOf] = tc.of
			}
			env[EnvMopUpHouseholds] = tc.households
			a, err := FromEnv(lookupIn(env))
			if tc.errParts != nil {
				wantErr(t, err, tc.errParts...)
				if strings.Contains(err.Error(), "ZHANG") {
					t.Errorf("error %q repeats the bad value", err)
				}
				return
			}
			if err != nil || a.MopUpOf != tc.of || !reflect.DeepEqual(a.MopUpHouseholds, tc.want) {
				t.Errorf("FromEnv = %q %q, %v; want %q %q", a.MopUpOf, a.MopUpHouseholds, err, tc.of, tc.want)
			}
		})
	}
	env := retestAssignment(1).Env()
	env[EnvMopUpOf] = "r-0"
	_, err := FromEnv(lookupIn(env))
	wantErr(t, err, "a visit is a retest or a mop-up, not both")
}

func TestAssignmentForAMopUpJob(t *testing.T) {
	cj := &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "pingfang", Name: "baoguo-1126-mopup-1-xinjiang-7-0123456789"},
		Spec: sweepv1alpha1.CollectionJobSpec{
			Round: "baoguo-1126-mopup-1", Building: "xinjiang-7", Expected: 7, Households: 120, Units: 3, Floors: 7, PoolSize: 10,
			MopUp: &sweepv1alpha1.MopUpJobSpec{Round: "baoguo-1126", Job: "baoguo-1126-xinjiang-7-9876543210", Households: slices.Clone(mopUpHouseholds)},
		},
	}
	a := AssignmentFor(cj, 1, 0)
	if a.MopUpOf != "baoguo-1126" || !reflect.DeepEqual(a.MopUpHouseholds, mopUpHouseholds) || a.Expected != 7 || a.Retest != "" {
		t.Fatalf("assignment %+v", a)
	}
	a.MopUpHouseholds[0] = "9-9999"
	if cj.Spec.MopUp.Households[0] != "2-1203" {
		t.Fatal("the assignment shares the job's knock list")
	}
	cj.Spec.MopUp.Households = nil
	if a := AssignmentFor(cj, 1, 0); a.MopUpOf != "baoguo-1126" || a.MopUpHouseholds != nil || a.KnockList() != nil || !a.Knocks("5-0602") {
		t.Fatalf("a mop-up without a list knocks every door: %+v", a)
	}
}

// The knock list is one rule for retests and mop-ups.
func TestKnockList(t *testing.T) {
	sweep := drillAssignment(1)
	retest := retestAssignment(1)
	mopUp := drillAssignment(1)
	mopUp.MopUpOf, mopUp.MopUpHouseholds = "r-0", mopUpHouseholds
	for _, tc := range []struct {
		name string
		a    Assignment
		h    string
		want bool
	}{
		{"a sweep knocks every door", sweep, "9-0901", true},
		{"a retest knocks its tube's households", retest, "2-1204", true},
		{"a retest knocks no other", retest, "9-0901", false},
		{"a mop-up knocks the missed households", mopUp, "3-0401", true},
		{"a mop-up knocks no other", mopUp, "2-1204", false},
	} {
		if got := tc.a.Knocks(tc.h); got != tc.want {
			t.Errorf("%s: Knocks(%s) = %v", tc.name, tc.h, got)
		}
	}
}

// A mop-up reads its building's sweep rows of its own export and counts
// only the households the earlier round missed.
func TestCSVSourceMopUp(t *testing.T) {
	const export = "building,household,residents,sampled,home_visited,reason\n" +
		"b-1,2-1203,2,1,0,away\n" + // missed by r-0: 1 of its 2 found now
		"b-1,3-0401,3,3,1,\n" + // missed by r-0: all found
		"b-1,1-0101,4,0,0,refused\n" + // not missed by r-0: not this team's door
		"b-2,2-1203,5,0,0,\n"
	mopUp := func(p string, households ...string) Assignment {
		a := csvAssignment(p, "b-1", 5)
		a.MopUpOf, a.MopUpHouseholds = "r-0", households
		return a
	}
	for _, tc := range []struct {
		name string
		a    func(path string) Assignment
		want Outcome
	}{
		{name: "only the missed households count", a: func(p string) Assignment { return mopUp(p, mopUpHouseholds...) },
			want: Outcome{Sampled: 4, HomeVisited: 1, MissedHouseholds: []string{"2-1203"}, Missed: []HouseholdMissed{{"2-1203", 1, sweepv1alpha1.MissedAway}}}},
		{name: "a household missed but not in the export counts as not sampled", a: func(p string) Assignment { return mopUp(p, "2-1203", "5-0602") },
			want: Outcome{Sampled: 1, MissedHouseholds: []string{"2-1203"}, Missed: []HouseholdMissed{{"2-1203", 1, sweepv1alpha1.MissedAway}}}},
		{name: "no list: the whole building", a: func(p string) Assignment { return mopUp(p) },
			want: Outcome{Sampled: 4, HomeVisited: 1, MissedHouseholds: []string{"2-1203", "1-0101"},
				Missed: []HouseholdMissed{{"2-1203", 1, sweepv1alpha1.MissedAway}, {"1-0101", 4, sweepv1alpha1.MissedRefused}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a(writeCSV(t, export))
			out, err := CSVSource{}.Visit(context.Background(), a, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Errorf("outcome %+v, want %+v", out, tc.want)
			}
			checkMopUpOutcome(t, out, a)
		})
	}
}

// A mop-up visit asks about its own round with &mopUpOf=, and keeps only
// the households the earlier round missed (docs/collector-api.md, "Mop-up
// rounds").
func TestHTTPSourceMopUp(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Outcome
		errParts   []string
	}{
		{name: "an answer for the mop-up",
			body: `{"round":"r-1","building":"b-1","sampled":4,"homeVisited":0,"missedHouseholds":["2-1203"],"missedReasons":[{"household":"2-1203","residents":1,"reason":"away"}]}`,
			want: Outcome{Sampled: 4, MissedHouseholds: []string{"2-1203"}, Missed: []HouseholdMissed{{"2-1203", 1, sweepv1alpha1.MissedAway}}}},
		{name: "households the earlier round did not miss are left off, counts kept",
			body: `{"sampled":3,"homeVisited":1,"missedHouseholds":["1-0101","3-0401"],"missedReasons":[{"household":"1-0101","residents":4,"reason":"refused"},{"household":"3-0401","residents":2,"reason":"not-home"}]}`,
			want: Outcome{Sampled: 3, HomeVisited: 1, MissedHouseholds: []string{"3-0401"}, Missed: []HouseholdMissed{{"3-0401", 2, sweepv1alpha1.MissedNotHome}}}},
		{name: "an answer about another round is still refused",
			body:     `{"round":"r-0","sampled":4,"homeVisited":0}`,
			errParts: []string{"malformed body", `field "round": answer is for round "r-0", not "r-1"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				q := r.URL.Query()
				if q.Get("mopUpOf") != "r-0" || q.Get("namespace") != "ns-1" || q.Get("visit") != "1" || len(q) != 3 {
					t.Errorf("query %q, want mopUpOf=r-0&namespace=ns-1&visit=1", r.URL.RawQuery)
				}
				if want := "/v1/rounds/r-1/buildings/b-1/samples"; r.URL.Path != want {
					t.Errorf("path %q, want %q", r.URL.Path, want)
				}
				_, _ = fmt.Fprint(w, tc.body)
			})
			a := httpAssignment(srv.URL)
			a.Visit, a.Expected = 1, 5
			a.MopUpOf, a.MopUpHouseholds = "r-0", mopUpHouseholds
			out, err := fastSource(srv, 0).Visit(context.Background(), a, nil)
			if tc.errParts != nil {
				wantErr(t, err, tc.errParts...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Errorf("outcome %+v, want %+v", out, tc.want)
			}
			checkMopUpOutcome(t, out, a)
		})
	}
}

func TestDrillMopUp(t *testing.T) {
	ctx := context.Background()
	knock := []string{"1-101", "1-102", "2-201", "2-305", "3-702"}
	for _, tc := range []struct {
		name       string
		households []string
		expected   int32
		still      int32
	}{
		{name: "the default drill", households: knock, expected: 9, still: 40},
		{name: "nobody comes back", households: knock, expected: 9, still: 100},
		{name: "everyone is home", households: knock, expected: 9, still: 0},
		{name: "a building never visited: every door", expected: 30, still: 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prev Outcome
			for v := int32(1); v <= 3; v++ {
				a := drillAssignment(v)
				a.Round, a.MopUpOf, a.MopUpHouseholds = "baoguo-1126-mopup-1", "baoguo-1126", tc.households
				a.Expected, a.HomeVisit, a.DrillStillAbsentPercent = tc.expected, 0, tc.still
				o, err := DrillSource{}.Visit(ctx, a, nil)
				if err != nil {
					t.Fatal(err)
				}
				if again, _ := (DrillSource{}).Visit(ctx, a, nil); !reflect.DeepEqual(o, again) {
					t.Fatalf("visit %d is not deterministic", v)
				}
				checkMopUpOutcome(t, o, a)
				missed := a.Expected - o.Sampled
				switch {
				case tc.still == 0 && missed != 0:
					t.Errorf("visit %d missed %d with everyone home", v, missed)
				case tc.still == 100 && missed != tc.expected:
					t.Errorf("visit %d found %d though nobody comes back", v, o.Sampled)
				case (missed > 0) != (len(o.MissedHouseholds) > 0):
					t.Errorf("visit %d: %d missed in households %v", v, missed, o.MissedHouseholds)
				case v > 1 && o.Sampled < prev.Sampled:
					t.Errorf("visit %d found fewer than visit %d", v, v-1)
				}
				prev = o
			}
		})
	}
	// Over many buildings a mop-up's first visit misses about the
	// re-knock share, stillAbsentPercent.
	var missed, expected int32
	for i := range 300 {
		a := drillAssignment(1)
		a.Building, a.MopUpOf, a.MopUpHouseholds, a.Expected, a.HomeVisit = fmt.Sprintf("b-%d", i), "r-0", knock, 9, 0
		o, _ := DrillSource{}.Visit(ctx, a, nil)
		missed += a.Expected - o.Sampled
		expected += a.Expected
	}
	if share := float64(missed) / float64(expected); share < 0.34 || share > 0.46 {
		t.Errorf("mop-ups missed %d of %d (%.2f), want about 0.40", missed, expected, share)
	}
}

// checkMopUpOutcome adds to checkOutcome what a mop-up promises: it counts
// only the households on its knock list, and nobody at home.
func checkMopUpOutcome(t *testing.T, o Outcome, a Assignment) {
	t.Helper()
	checkOutcome(t, o, a)
	for _, h := range o.MissedHouseholds {
		if !a.Knocks(h) {
			t.Fatalf("mop-up of %s misses household %q, not one of %v", a.MopUpOf, h, a.MopUpHouseholds)
		}
	}
	for _, m := range o.Missed {
		if !a.Knocks(m.Household) {
			t.Fatalf("mop-up of %s counts household %q, not one of %v", a.MopUpOf, m.Household, a.MopUpHouseholds)
		}
	}
	if a.Source == "drill" && o.HomeVisited != 0 {
		t.Fatalf("a drill mop-up sampled %d at home", o.HomeVisited)
	}
}

// mopUpFuzzAssignment is the mop-up of building b-1 for round r-0.
func mopUpFuzzAssignment(source string, expected int32) Assignment {
	return Assignment{Namespace: "ns-1", Round: "r-1", Building: "b-1", Visit: 1, Expected: max(expected, 0), PoolSize: 10,
		Source: source, CSVFile: "/mnt/samples.csv", MopUpOf: "r-0", MopUpHouseholds: mopUpHouseholds}
}

func FuzzReadCSVMopUp(f *testing.F) {
	f.Add([]byte(goodCSV), int32(5))
	f.Add([]byte("building,household,residents,sampled,home_visited,reason\nb-1,2-1203,2,1,0,away\nb-1,1-0101,4,0,0,refused\n"), int32(3))
	f.Add([]byte("building,household,residents,sampled,home_visited\nb-1,ZHANG Canary-Wei,3,3,0\nb-1,2-1203,13800138000,1,0\n"), int32(5))
	f.Fuzz(func(t *testing.T, data []byte, expected int32) {
		a := mopUpFuzzAssignment("csv", expected)
		o, err := readCSV(data, "samples.csv", a)
		if err != nil {
			checkError(t, err, data, "samples.csv line ", "samples.csv has no")
			return
		}
		checkMopUpOutcome(t, o, a)
	})
}

func FuzzParseSamplesMopUp(f *testing.F) {
	f.Add([]byte(`{"sampled":3,"homeVisited":0,"missedHouseholds":["2-1204","3-0401"]}`), int32(5))
	f.Add([]byte(`{"sampled":3,"homeVisited":0,"missedReasons":[{"household":"9-0901","residents":2,"reason":"away"}]}`), int32(5))
	f.Fuzz(func(t *testing.T, body []byte, expected int32) {
		a := mopUpFuzzAssignment("http", expected)
		o, err := parseSamples(body, a)
		if err != nil {
			checkError(t, err, body, "malformed body", "does not add up")
			return
		}
		checkMopUpOutcome(t, o, a)
	})
}

// The mop-up examples of docs/collector-api.md ("Mop-up rounds") give
// what the doc says they give: sampled 2, one resident of 2-1203 missed
// (away), and only the households the earlier round missed.
func TestMopUpDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/collector-api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Mop-up rounds\n")
	if !ok {
		t.Fatal(`docs/collector-api.md has no "Mop-up rounds" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	block := func(lang string) string {
		t.Helper()
		_, rest, ok := strings.Cut(section, "```"+lang+"\n")
		body, _, closed := strings.Cut(rest, "```")
		if !ok || !closed {
			t.Fatalf("no %s example in the section", lang)
		}
		return body
	}
	a := Assignment{Namespace: "pingfang", Round: "baoguo-2026-11-26-mopup-1", Building: "xinjiang-7", Visit: 1, Expected: 3, PoolSize: 10,
		MopUpOf: "baoguo-2026-11-26", MopUpHouseholds: []string{"2-1203", "3-0401"}}
	want := func(source string, o Outcome) {
		t.Helper()
		r := ReportFor(a, o, true, time.Now())
		if r.Sampled != 2 || r.Missed != 1 || !slices.Equal(r.MissedHouseholds, []string{"2-1203"}) ||
			r.MissedByReason == nil || r.MissedByReason.Away != 1 || r.MissedByReason.Total() != 1 {
			t.Errorf("%s example: report %+v (by reason %+v)", source, r, r.MissedByReason)
		}
	}
	if !strings.Contains(section, "samples?mopUpOf=baoguo-2026-11-26&namespace=pingfang&visit=1") {
		t.Error("the example request is not the one Sweep sends")
	}
	if u, err := samplesURL(Assignment{HTTPURL: "https://x", Namespace: "pingfang", Round: a.Round, Building: a.Building, Visit: 1, MopUpOf: a.MopUpOf}); err != nil ||
		!strings.HasSuffix(u, "/v1/rounds/baoguo-2026-11-26-mopup-1/buildings/xinjiang-7/samples?mopUpOf=baoguo-2026-11-26&namespace=pingfang&visit=1") {
		t.Errorf("Sweep asks %s, %v", u, err)
	}
	a.Source = "http"
	o, err := parseSamples([]byte(block("json")), a)
	if err != nil {
		t.Fatal(err)
	}
	want("http", o)
	a.Source, a.CSVFile = "csv", writeCSV(t, block("csv"))
	o, err = CSVSource{}.Visit(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	want("csv", o)
}
