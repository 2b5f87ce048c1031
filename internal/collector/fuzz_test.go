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
	"slices"
	"strings"
	"testing"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// maxErrorLen bounds a source's error message: it becomes the cause in a
// Warning event and a Failed condition (at most 32768 characters), and the
// kubelet keeps only 4096 bytes of a collector pod's termination message.
const maxErrorLen = 4096

// canaries are resident data a registry export may carry; no error message
// may repeat them.
var canaries = []string{"ZHANG Canary-Wei", "13800138000"}

// checkOutcome checks a source's outcome and the report ReportFor makes of
// it against the report contract (docs/collector-api.md): the operator must
// never find it impossible.
func checkOutcome(t *testing.T, o Outcome, a Assignment) {
	t.Helper()
	if o.Sampled < 0 || o.HomeVisited < 0 || o.HomeVisited > o.Sampled {
		t.Fatalf("outcome %d sampled, %d at home", o.Sampled, o.HomeVisited)
	}
	for _, h := range o.MissedHouseholds {
		if !isHouseholdID(h) {
			t.Fatalf("missed household %q is not an id the status accepts", h)
		}
	}
	r := ReportFor(a, o, true, time.Now())
	if r.Sampled < 0 || r.Missed < 0 || r.Sampled+r.Missed != a.Expected || r.HomeVisited > r.Sampled ||
		r.ExtraSampled != o.Sampled-r.Sampled || len(r.MissedHouseholds) > sweepv1alpha1.MaxMissedHouseholds ||
		(r.Missed == 0 && len(r.MissedHouseholds) > 0) {
		t.Fatalf("outcome %+v with %d expected gives an impossible report %+v", o, a.Expected, r)
	}
	// Missed reasons: by reason adds up to missed, every
	// household with a reason is on the knock list, none is unknown.
	if (r.Missed > 0) != (r.MissedByReason != nil) || (r.MissedByReason != nil && r.MissedByReason.Total() != int64(r.Missed)) {
		t.Fatalf("report's missed by reason %+v with %d missed", r.MissedByReason, r.Missed)
	}
	if len(r.MissedHouseholdReasons) > len(r.MissedHouseholds) {
		t.Fatalf("%d household reasons for %d missed households", len(r.MissedHouseholdReasons), len(r.MissedHouseholds))
	}
	for _, hr := range r.MissedHouseholdReasons {
		if !hr.Reason.Valid() || hr.Reason == sweepv1alpha1.MissedUnknown || !slices.Contains(r.MissedHouseholds, hr.Household) {
			t.Fatalf("household reason %+v: not a reason the status takes, or not on the knock list %v", hr, r.MissedHouseholds)
		}
	}
	for _, m := range o.Missed {
		if !isHouseholdID(m.Household) || m.Residents < 0 || (m.Reason != "" && !m.Reason.Valid()) {
			t.Fatalf("outcome's missed household %+v is not one the status accepts", m)
		}
	}
}

func checkError(t *testing.T, err error, data []byte, mustName ...string) {
	t.Helper()
	msg := err.Error()
	if len(msg) > maxErrorLen {
		t.Fatalf("error is %d bytes long, more than %d", len(msg), maxErrorLen)
	}
	named := false
	for _, s := range mustName {
		named = named || strings.Contains(msg, s)
	}
	if !named {
		t.Fatalf("error %q names none of %q", msg, mustName)
	}
	for _, c := range canaries {
		if strings.Contains(string(data), c) && strings.Contains(msg, c) {
			t.Fatalf("error repeats resident data %q: %s", c, msg)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte(goodCSV), "b-1", int32(12))
	f.Add([]byte("building,household,residents,sampled,home_visited\nb-1,ZHANG Canary-Wei,3,3,3\nb-1,1-0102,13800138000,1,1\n"), "b-1", int32(10))
	f.Add([]byte("building,household,residents,sampled,home_visited,name,phone\nb-1,1-0101,3,3,3,ZHANG Canary-Wei,13800138000\n"), "b-1", int32(3))
	f.Add([]byte("building,household,residents,sampled,home_visited\nb-1,1-0101,3,3,3,ZHANG Canary-Wei,13800138000\n"), "b-1", int32(3))
	f.Add([]byte("building,household,residents,sampled,home_visited\nb-1,\"1-01\"01,3,3,3\nb-1,1-0101,-13800138000,0,0\nb-1,1-0103,x,0,0\n"), "b-1", int32(3))
	f.Add([]byte("building,household\n"), "b-1", int32(3))
	f.Add([]byte(""), "b-1", int32(0))
	f.Add([]byte(reasonsCSV), "b-1", int32(13))
	f.Add([]byte(reasonsCSV), "b-1", int32(3))
	f.Add([]byte("building,household,residents,sampled,home_visited,reason,retest\nb-1,1-0101,3,1,0,ZHANG Canary-Wei,\nb-1,1-0102,3,1,0,away,\n"), "b-1", int32(6))
	f.Add([]byte("building,household,residents,sampled,home_visited\n"+strings.Repeat("b-1,"+strings.Repeat("x-", 400)+"y,1,1,1\n", 25)), "b-1", int32(30))
	f.Fuzz(func(t *testing.T, data []byte, building string, expected int32) {
		a := csvAssignment("/mnt/samples.csv", building, max(expected, 0))
		o, err := readCSV(data, "samples.csv", a)
		if err != nil {
			// Every error points into the file: a line, or the building
			// the file has no rows for.
			checkError(t, err, data, "samples.csv line ", "samples.csv has no rows for building")
			return
		}
		checkOutcome(t, o, a)
		if n := strings.Count(string(data), "\n") + 1; len(o.MissedHouseholds) > n {
			t.Fatalf("%d missed households from %d lines", len(o.MissedHouseholds), n)
		}
	})
}

func FuzzParseSamples(f *testing.F) {
	f.Add([]byte(`{"round":"r-1","building":"b-1","visit":1,"sampled":3,"homeVisited":1,"missedHouseholds":["1-0101"]}`), int32(5))
	f.Add([]byte(`{"sampled":3,"homeVisited":1,"residents":[{"name":"ZHANG Canary-Wei","phone":"13800138000"}]}`), int32(5))
	f.Add([]byte(`{"sampled":13800138000,"homeVisited":1}`), int32(5))
	f.Add([]byte(`{"sampled":"ZHANG Canary-Wei","homeVisited":1}`), int32(5))
	f.Add([]byte(`{"sampled":1,"homeVisited":1,"missedHouseholds":["ZHANG Canary-Wei"]}`), int32(5))
	f.Add([]byte(`{"sampled":1.5e3,"homeVisited":-0}`), int32(5))
	f.Add([]byte(`[1,2,3]`), int32(5))
	f.Add([]byte(`{"sampled":3,"homeVisited":1,"missedReasons":[{"household":"1-0101","residents":2,"reason":"not-home"},{"household":"1-0102","residents":9,"reason":"away"}]}`), int32(5))
	f.Add([]byte(`{"sampled":3,"homeVisited":1,"missedReasons":[{"household":"1-0101","residents":2,"reason":"ZHANG Canary-Wei"}]}`), int32(5))
	f.Add([]byte(`{"sampled":3,"homeVisited":1,"missedReasons":[{"household":"1-0101","residents":13800138000,"reason":"away"}]}`), int32(5))
	f.Add([]byte(`null`), int32(5))
	f.Fuzz(func(t *testing.T, body []byte, expected int32) {
		a := Assignment{Namespace: "ns-1", Round: "r-1", Building: "b-1", Visit: 1, Expected: max(expected, 0), Source: "http"}
		o, err := parseSamples(body, a)
		if err != nil {
			checkError(t, err, body, "malformed body", "does not add up")
			return
		}
		checkOutcome(t, o, a)
	})
}

// retestFuzzAssignment is the retest of tube P-0042 of building b-1.
func retestFuzzAssignment(source string, expected int32) Assignment {
	return Assignment{Namespace: "ns-1", Round: "r-1", Building: "b-1", Visit: 1, Expected: max(expected, 0), PoolSize: 1,
		Source: source, CSVFile: "/mnt/samples.csv", Retest: "P-0042", RetestHouseholds: []string{"2-1203", "2-1204", "3-0401"}}
}

// checkRetestOutcome adds to checkOutcome what a retest promises: the knock
// list holds only the tube's households.
func checkRetestOutcome(t *testing.T, o Outcome, a Assignment) {
	t.Helper()
	checkOutcome(t, o, a)
	for _, h := range o.MissedHouseholds {
		if !slices.Contains(a.RetestHouseholds, h) {
			t.Fatalf("retest of %s misses household %q, not one of %v", a.Retest, h, a.RetestHouseholds)
		}
	}
}

func FuzzReadCSVRetest(f *testing.F) {
	f.Add([]byte(retestCSV), int32(5))
	f.Add([]byte(goodCSV), int32(5))
	f.Add([]byte("building,household,residents,sampled,home_visited,retest\nb-1,ZHANG Canary-Wei,3,3,0,P-0042\nb-1,2-1203,13800138000,1,0,P-0042\n"), int32(5))
	f.Add([]byte("building,household,residents,sampled,home_visited,retest\nb-1,2-1203,3,3,0,ZHANG Canary-Wei\nb-1,2-1204,2,1,0,P-0042,13800138000\n"), int32(5))
	f.Add([]byte("building,household,residents,sampled,home_visited,retest,name\nb-1,2-1203,3,3,0,P-0042,ZHANG Canary-Wei\n"), int32(3))
	f.Fuzz(func(t *testing.T, data []byte, expected int32) {
		a := retestFuzzAssignment("csv", expected)
		o, err := readCSV(data, "samples.csv", a)
		if err != nil {
			checkError(t, err, data, "samples.csv line ", "samples.csv has no")
			return
		}
		checkRetestOutcome(t, o, a)
	})
}

func FuzzParseSamplesRetest(f *testing.F) {
	f.Add([]byte(`{"round":"r-1","building":"b-1","retest":"P-0042","sampled":3,"homeVisited":0,"missedHouseholds":["2-1204","9-0901"]}`), int32(5))
	f.Add([]byte(`{"retest":"ZHANG Canary-Wei","sampled":3,"homeVisited":0}`), int32(5))
	f.Add([]byte(`{"retest":13800138000,"sampled":3,"homeVisited":0}`), int32(5))
	f.Add([]byte(`{"sampled":3,"homeVisited":0,"residents":[{"name":"ZHANG Canary-Wei","phone":"13800138000","household":"2-1204"}]}`), int32(5))
	f.Fuzz(func(t *testing.T, body []byte, expected int32) {
		a := retestFuzzAssignment("http", expected)
		o, err := parseSamples(body, a)
		if err != nil {
			checkError(t, err, body, "malformed body", "does not add up")
			return
		}
		checkRetestOutcome(t, o, a)
	})
}
