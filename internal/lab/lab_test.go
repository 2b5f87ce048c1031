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

package lab

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBuildingNotInTheRoundIsSkippedAlone: a well-formed result for a
// building the round never swept is returned by the source; Problem names
// it and the rest of the page is taken, from either source.
func TestBuildingNotInTheRoundIsSkippedAlone(t *testing.T) {
	const body = `{"results":[
	 {"tube":"P-1","building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"},
	 {"tube":"P-2","building":"b-9","kind":"pooled","positive":true,"resultTime":"2026-11-26T18:05:00Z","swabs":3,"households":["1-0101"]},
	 {"tube":"P-3","building":"b-2","kind":"pooled","positive":true,"resultTime":"2026-11-26T18:05:00Z","swabs":3,"households":["1-0101"]}]}`
	const csv = "tube,building,kind,positive,result_time,swabs,households\n" +
		"P-1,b-1,pooled,false,2026-11-26T18:05:00Z,,\n" +
		"P-2,b-9,pooled,true,2026-11-26T18:05:00Z,3,1-0101\n" +
		"P-3,b-2,pooled,true,2026-11-26T18:05:00Z,3,1-0101\n"
	srv, _ := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) { _, _ = fmt.Fprint(w, body) })
	round := map[string]bool{"b-1": true, "b-2": true}
	for name, src := range map[string]Source{"http": fastSource(srv.URL, 0), "csv": CSVSource{Data: []byte(csv), Name: "results.csv"}} {
		t.Run(name, func(t *testing.T) {
			page, err := src.Results(context.Background(), q, "")
			if err != nil {
				t.Fatal(err)
			}
			tally := NewTally()
			var problems []string
			for _, r := range page.Results {
				if p := Problem(r, round); p != "" {
					problems = append(problems, p)
					continue
				}
				tally.Add(r)
			}
			if len(problems) != 1 || problems[0] != `tube P-2: building "b-9" is not in this round` {
				t.Errorf("problems %q, want P-2's building", problems)
			}
			if tally.Pooled["b-1"] != 1 || tally.Pooled["b-2"] != 1 || len(tally.Positive) != 1 || tally.Positive["P-3"].Tube != "P-3" {
				t.Errorf("tally %+v, want P-1 and P-3 taken", tally)
			}
		})
	}
}

// TestDuplicateTubesCountOnce: a tube resulted twice, in one page or on a
// re-read, counts once and the first result stands.
func TestDuplicateTubesCountOnce(t *testing.T) {
	const csv = "tube,building,kind,positive,result_time,swabs,households\n" +
		"P-1,b-1,pooled,true,2026-11-26T18:05:00Z,3,1-0101\n" +
		"P-2,b-1,pooled,false,2026-11-26T18:05:00Z,,\n" +
		"P-1,b-1,pooled,false,2026-11-26T19:05:00Z,,\n"
	page, err := CSVSource{Data: []byte(csv), Name: "results.csv"}.Results(context.Background(), q, "")
	if err != nil {
		t.Fatal(err)
	}
	tally := NewTally()
	var added int
	for range 2 { // the page, then the same page read again after a restart
		for _, r := range page.Results {
			if Problem(r, map[string]bool{"b-1": true}) == "" && tally.Add(r) {
				added++
			}
		}
	}
	if added != 2 || tally.Pooled["b-1"] != 2 || !tally.Positive["P-1"].Positive {
		t.Errorf("%d added, tally %+v; want P-1 (positive, first) and P-2 once each", added, tally)
	}
}

func TestProblemNeverRepeatsABadValue(t *testing.T) {
	const name = "ZHANG Canary-Wei"
	round := map[string]bool{"b-1": true}
	r := goodResults[1]
	for field, change := range map[string]func(r *TubeResult){
		"tube":       func(r *TubeResult) { r.Tube = name },
		"building":   func(r *TubeResult) { r.Building = name },
		"households": func(r *TubeResult) { r.Households = []string{"1-0101", name} },
		"pool":       func(r *TubeResult) { r.Kind, r.Pool, r.Household = Single, name, "1-0101" },
		"household":  func(r *TubeResult) { r.Kind, r.Pool, r.Household = Single, "P-1", name },
		"kind":       func(r *TubeResult) { r.Kind = Kind(name) },
	} {
		bad := r
		change(&bad)
		p := Problem(bad, round)
		if p == "" || !strings.Contains(p, `"`+field+`"`) || strings.Contains(p, "Canary") {
			t.Errorf("%s: Problem says %q; want the field named and the value not repeated", field, p)
		}
	}
	if p := Problem(r, round); p != "" {
		t.Errorf("a good result: %s", p)
	}
}
