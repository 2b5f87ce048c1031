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
	"reflect"
	"strings"
	"testing"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Missed reasons: the sources read them, ReportFor fits them to
// the roster, and a source that sends none still works.

func TestHTTPSourceMissedReasons(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Outcome
	}{
		{"with reasons", `{"sampled":100,"homeVisited":7,"missedHouseholds":["2-1203","3-0401"],` +
			`"missedReasons":[{"household":"2-1203","residents":2,"reason":"not-home"},{"household":"5-0602","residents":1,"reason":"refused"},` +
			`{"household":"3-0401","residents":3,"reason":"unknown","note":"fields Sweep does not know are ignored"}]}`,
			Outcome{Sampled: 100, HomeVisited: 7, MissedHouseholds: []string{"2-1203", "3-0401"},
				Missed: []HouseholdMissed{{"2-1203", 2, sweepv1alpha1.MissedNotHome}, {"5-0602", 1, sweepv1alpha1.MissedRefused}, {"3-0401", 3, sweepv1alpha1.MissedUnknown}}}},
		{"without reasons: an old answer", `{"sampled":100,"homeVisited":7,"missedHouseholds":["2-1203","3-0401"]}`,
			Outcome{Sampled: 100, HomeVisited: 7, MissedHouseholds: []string{"2-1203", "3-0401"}}},
		{"null and empty reasons", `{"sampled":100,"homeVisited":7,"missedReasons":null}`, Outcome{Sampled: 100, HomeVisited: 7}},
		{"empty list", `{"sampled":100,"homeVisited":7,"missedReasons":[]}`, Outcome{Sampled: 100, HomeVisited: 7}},
		// A household with nobody missed is checked, not counted nor
		// knocked.
		{"no residents missed", `{"sampled":100,"homeVisited":7,"missedReasons":[{"household":"2-1203","residents":0,"reason":"refused"}]}`,
			Outcome{Sampled: 100, HomeVisited: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) { _, _ = fmt.Fprint(w, tc.body) })
			a := httpAssignment(srv.URL)
			out, err := fastSource(srv, 0).Visit(context.Background(), a, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Errorf("outcome %+v, want %+v", out, tc.want)
			}
			checkOutcome(t, out, a)
		})
	}
}

func TestHTTPSourceBadMissedReasons(t *testing.T) {
	const canary = "ZHANG Canary-Wei"
	for _, tc := range []struct {
		name, reasons string
		want          string
	}{
		{"not a list", `"not-home"`, `field "missedReasons": is a string, want a list of objects`},
		{"item not an object", `["2-1203"]`, `field "missedReasons": item 1 is a string, want an object`},
		{"household missing", `[{"residents":1,"reason":"away"}]`, `item 1: "household" is missing`},
		{"household not an id", `[{"household":"` + canary + `","residents":1,"reason":"away"}]`, `item 1: "household" is not a unit-room id`},
		{"household twice", `[{"household":"2-1203","residents":1,"reason":"away"},{"household":"2-1203","residents":1,"reason":"refused"}]`,
			`item 2: household "2-1203" is already item 1`},
		{"residents missing", `[{"household":"2-1203","reason":"away"}]`, `item 1: "residents" is missing`},
		{"residents negative", `[{"household":"2-1203","residents":-1,"reason":"away"}]`, `item 1: "residents" is negative`},
		{"residents a string", `[{"household":"2-1203","residents":"` + canary + `","reason":"away"}]`, `item 1: "residents" is a string, want a whole number`},
		{"reason missing", `[{"household":"2-1203","residents":1}]`, `item 1: "reason" is missing`},
		{"reason not a string", `[{"household":"2-1203","residents":1,"reason":3}]`, `item 1: "reason" is a number, want a string`},
		// A free-text note in place of a reason may name the resident:
		// rejected, and never repeated.
		{"reason free text", `[{"household":"2-1203","residents":1,"reason":"` + canary + ` is at her daughter's"}]`,
			`item 1: "reason" is not one of not-home, refused, away, in-hospital, moved-out, vacant, unreachable, unknown`},
		{"reason in another case", `[{"household":"2-1203","residents":1,"reason":"Not-Home"}]`, `item 1: "reason" is not one of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"sampled":1,"homeVisited":0,"missedReasons":` + tc.reasons + `}`
			srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) { _, _ = fmt.Fprint(w, body) })
			_, err := fastSource(srv, 4).Visit(context.Background(), httpAssignment(srv.URL), nil)
			wantErr(t, err, "malformed body for building b-1 visit 2", tc.want)
			checkError(t, err, []byte(body), "malformed body")
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error repeats the resident's name: %v", err)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1: a bad answer is not retried", n.Load())
			}
		})
	}
}

// A retest counts only the tube's households' reasons, like its knock list.
func TestHTTPSourceRetestMissedReasons(t *testing.T) {
	a := retestFuzzAssignment("http", 5)
	body := `{"sampled":3,"homeVisited":0,"retest":"P-0042","missedReasons":[{"household":"2-1204","residents":1,"reason":"refused"},{"household":"9-0901","residents":4,"reason":"away"}]}`
	out, err := parseSamples([]byte(body), a)
	if err != nil {
		t.Fatal(err)
	}
	if want := []HouseholdMissed{{"2-1204", 1, sweepv1alpha1.MissedRefused}}; !reflect.DeepEqual(out.Missed, want) {
		t.Errorf("missed %+v, want %+v", out.Missed, want)
	}
}

const reasonsCSV = "building,household,residents,sampled,home_visited,reason\n" +
	"b-1,1-0101,3,3,0,\n" + // line 2: nobody missed
	"b-1,2-1203,4,2,1,not-home\n" +
	"b-1,2-1204,2,0,0,\n" + // no reason
	"b-1,3-0401,3,0,0,in-hospital\n" +
	"b-1,3-0402,1,1,0,refused\n" + // a reason where nobody is missed: checked, not used
	"b-2,1-0101,2,0,0," + "ZHANG Canary-Wei" + "\n" // another building's bad row: skipped

func TestCSVSourceMissedReasons(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		a          func(path string) Assignment
		want       Outcome
		errParts   []string
	}{
		{name: "reason column", text: reasonsCSV, a: func(p string) Assignment { return csvAssignment(p, "b-1", 13) },
			want: Outcome{Sampled: 6, HomeVisited: 1, MissedHouseholds: []string{"2-1203", "2-1204", "3-0401"},
				Missed: []HouseholdMissed{{"2-1203", 2, sweepv1alpha1.MissedNotHome}, {"2-1204", 2, ""}, {"3-0401", 3, sweepv1alpha1.MissedInHospital}}}},
		{name: "reason before retest", text: "building,household,residents,sampled,home_visited,reason,retest\n" +
			"b-1,2-1203,4,2,1,away,\n" + "b-1,2-1203,4,3,0,refused,P-0042\n",
			a: func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0042", "2-1203") },
			want: Outcome{Sampled: 3, MissedHouseholds: []string{"2-1203"},
				Missed: []HouseholdMissed{{"2-1203", 1, sweepv1alpha1.MissedRefused}}}},
		{name: "retest then reason, the sweep's row", text: "building,household,residents,sampled,home_visited,retest,reason\n" +
			"b-1,2-1203,4,2,1,,vacant\n" + "b-1,2-1203,4,3,0,P-0042,refused\n",
			a: func(p string) Assignment { return csvAssignment(p, "b-1", 4) },
			want: Outcome{Sampled: 2, HomeVisited: 1, MissedHouseholds: []string{"2-1203"},
				Missed: []HouseholdMissed{{"2-1203", 2, sweepv1alpha1.MissedVacant}}}},
		{name: "a free-text reason is not repeated", text: reasonsCSV + "b-1,4-0101,2,0,0,ZHANG Canary-Wei moved to Daqing\n",
			a:        func(p string) Assignment { return csvAssignment(p, "b-1", 13) },
			errParts: []string{"samples.csv line 8, column reason: not one of not-home, refused, away, in-hospital, moved-out, vacant, unreachable, unknown (or empty)"}},
		{name: "a bad reason where nobody is missed", text: reasonsCSV + "b-1,4-0101,2,2,0,13800138000\n",
			a:        func(p string) Assignment { return csvAssignment(p, "b-1", 13) },
			errParts: []string{"samples.csv line 8, column reason: not one of"}},
		{name: "reason twice in the header", text: "building,household,residents,sampled,home_visited,reason,reason\n",
			a:        func(p string) Assignment { return csvAssignment(p, "b-1", 13) },
			errParts: []string{`samples.csv line 1, column 7: header has "reason" twice`}},
		{name: "a missing reason cell", text: "building,household,residents,sampled,home_visited,reason\nb-1,2-1203,4,2,1\n",
			a:        func(p string) Assignment { return csvAssignment(p, "b-1", 4) },
			errParts: []string{"samples.csv line 2, column reason: missing (the row has 5 columns, want 6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a(writeCSV(t, tc.text))
			out, err := CSVSource{}.Visit(context.Background(), a, nil)
			if tc.errParts != nil {
				wantErr(t, err, tc.errParts...)
				checkError(t, err, []byte(tc.text), "samples.csv")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Errorf("outcome %+v, want %+v", out, tc.want)
			}
			checkOutcome(t, out, a)
		})
	}
}

// An old export and the same export with an empty reason column give the
// same outcome: no reason is the same as none given.
func TestCSVSourceOldExportsUnchangedByTheReasonColumn(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(goodCSV, "\n"), "\n")
	for i, l := range lines {
		switch {
		case i == 0:
			lines[i] = l + ",reason"
		case strings.TrimSpace(l) != "":
			lines[i] = l + ","
		}
	}
	withColumn := strings.Join(lines, "\n") + "\n"
	for _, b := range []string{"b-1", "b-2", "b-3"} {
		old, oldErr := CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, goodCSV), b, 100), nil)
		got, err := CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, withColumn), b, 100), nil)
		if !reflect.DeepEqual(old, got) || fmt.Sprint(oldErr) != fmt.Sprint(err) {
			t.Errorf("building %s: %+v, %v with the reason column; %+v, %v without", b, got, err, old, oldErr)
		}
	}
}

// ReportFor is the one place that fits the source's residents by reason to
// the roster: whatever the source counts, the report's counts by reason add
// up to missed.
func TestReportForFitsReasonsToMissed(t *testing.T) {
	nh, rf, aw, ih := sweepv1alpha1.MissedNotHome, sweepv1alpha1.MissedRefused, sweepv1alpha1.MissedAway, sweepv1alpha1.MissedInHospital
	for _, tc := range []struct {
		name     string
		expected int32
		o        Outcome
		want     *sweepv1alpha1.MissedReasonCounts
		wantHH   []string
		wantWhy  []sweepv1alpha1.HouseholdReason
	}{
		{name: "no reasons: everyone missed is unknown", expected: 10,
			o:    Outcome{Sampled: 7, MissedHouseholds: []string{"1-0101", "1-0102"}},
			want: &sweepv1alpha1.MissedReasonCounts{Unknown: 3}, wantHH: []string{"1-0101", "1-0102"}},
		{name: "reasons add up already", expected: 10,
			o:    Outcome{Sampled: 7, Missed: []HouseholdMissed{{"1-0101", 2, nh}, {"1-0102", 1, rf}}},
			want: &sweepv1alpha1.MissedReasonCounts{NotHome: 2, Refused: 1}, wantHH: []string{"1-0101", "1-0102"},
			wantWhy: []sweepv1alpha1.HouseholdReason{{Household: "1-0101", Reason: nh}, {Household: "1-0102", Reason: rf}}},
		{name: "short: the rest is unknown", expected: 10,
			o:    Outcome{Sampled: 5, MissedHouseholds: []string{"1-0103"}, Missed: []HouseholdMissed{{"1-0101", 2, nh}}},
			want: &sweepv1alpha1.MissedReasonCounts{NotHome: 2, Unknown: 3}, wantHH: []string{"1-0103", "1-0101"},
			wantWhy: []sweepv1alpha1.HouseholdReason{{Household: "1-0101", Reason: nh}}},
		// The registry counts the exempt patient the roster left out:
		// trimmed, unknown first, then away and in hospital, refused last.
		{name: "beyond missed: trimmed in order", expected: 10,
			o:    Outcome{Sampled: 7, Missed: []HouseholdMissed{{"1-0101", 1, rf}, {"1-0102", 1, ih}, {"1-0103", 2, aw}, {"1-0104", 1, ""}, {"1-0105", 1, nh}}},
			want: &sweepv1alpha1.MissedReasonCounts{Refused: 1, NotHome: 1, InHospital: 1}, wantHH: []string{"1-0101", "1-0102", "1-0103", "1-0104", "1-0105"},
			wantWhy: []sweepv1alpha1.HouseholdReason{{Household: "1-0101", Reason: rf}, {Household: "1-0102", Reason: ih}, {Household: "1-0103", Reason: aw}, {Household: "1-0105", Reason: nh}}},
		{name: "nobody missed: no reasons", expected: 10,
			o: Outcome{Sampled: 12, MissedHouseholds: []string{"1-0101"}, Missed: []HouseholdMissed{{"1-0101", 2, nh}}}},
		{name: "unknown reason is not listed per household", expected: 4,
			o:    Outcome{Sampled: 2, Missed: []HouseholdMissed{{"1-0101", 2, sweepv1alpha1.MissedUnknown}}},
			want: &sweepv1alpha1.MissedReasonCounts{Unknown: 2}, wantHH: []string{"1-0101"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Assignment{Visit: 1, Expected: tc.expected}
			r := ReportFor(a, tc.o, true, time.Now())
			if !reflect.DeepEqual(r.MissedByReason, tc.want) {
				t.Errorf("missed by reason %+v, want %+v", r.MissedByReason, tc.want)
			}
			if !reflect.DeepEqual(r.MissedHouseholds, tc.wantHH) {
				t.Errorf("missed households %v, want %v", r.MissedHouseholds, tc.wantHH)
			}
			if !reflect.DeepEqual(r.MissedHouseholdReasons, tc.wantWhy) {
				t.Errorf("household reasons %+v, want %+v", r.MissedHouseholdReasons, tc.wantWhy)
			}
			checkOutcome(t, tc.o, a)
		})
	}
}

// The drill gives reasons from its seed: the same on every run and every
// visit, and adding up to its missed residents.
func TestDrillGivesDeterministicReasons(t *testing.T) {
	a := drillAssignment(1)
	first, err := DrillSource{}.Visit(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := DrillSource{}.Visit(context.Background(), a, nil)
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("two runs differ: %+v and %+v", first, again)
	}
	reasons := map[sweepv1alpha1.MissedReason]int{}
	for _, m := range first.Missed {
		reasons[m.Reason]++
	}
	if len(reasons) < 3 {
		t.Errorf("visit 1 gives %d different reasons (%v); a drill should show several", len(reasons), reasons)
	}
	r := ReportFor(a, first, true, time.Now())
	if r.MissedByReason == nil || r.MissedByReason.Total() != int64(r.Missed) || r.MissedByReason.Unknown == r.Missed {
		t.Errorf("report's missed by reason %+v with %d missed", r.MissedByReason, r.Missed)
	}
	a2 := drillAssignment(2)
	second, _ := DrillSource{}.Visit(context.Background(), a2, nil)
	why := map[string]sweepv1alpha1.MissedReason{}
	for _, m := range first.Missed {
		why[m.Household] = m.Reason
	}
	for _, m := range second.Missed {
		if why[m.Household] != m.Reason {
			t.Errorf("household %s: %q on visit 2, %q on visit 1", m.Household, m.Reason, why[m.Household])
		}
	}
}
