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

package lab_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/lab/labtest"
)

var canaryResults = func() []lab.TubeResult {
	swab := time.Date(2026, 11, 26, 13, 40, 0, 0, time.UTC)
	at := swab.Add(4 * time.Hour)
	return []lab.TubeResult{
		{Tube: "P-1", Building: "b-1", Kind: lab.Pooled, SwabTime: &swab, ResultTime: at, Swabs: 10},
		{Tube: "P-2", Building: "b-1", Kind: lab.Pooled, Positive: true, ResultTime: at, Swabs: 3, Households: []string{"1-0101", "2-1203"}},
		{Tube: "S-1", Building: "b-1", Kind: lab.Single, Positive: true, ResultTime: at, Pool: "P-2", Household: "2-1203"},
	}
}()

// TestLabSourcesDropResidentData is the lab's canary at the source level
// (the controllers' TestNoResidentDataLeaks covers the collector): a lab
// answer whose results carry a name, an ID number and a phone number in
// extra fields gives results without them; an answer that puts them where
// an id, a count or a column goes fails without repeating them. The
// sources write no log at all; their results and errors are all they say.
func TestLabSourcesDropResidentData(t *testing.T) {
	round := map[string]bool{"b-1": true}
	noCanary := func(t *testing.T, what string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if c := labtest.Find(string(b)); c != "" {
			t.Errorf("%s repeats resident data %q: %s", what, c, b)
		}
	}
	serve := func(body []byte) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
		t.Cleanup(srv.Close)
		return srv
	}
	src := func(url string) lab.Source {
		return &lab.HTTPSource{URL: url, Timeout: time.Second}
	}

	t.Run("http extra fields are dropped", func(t *testing.T) {
		body := labtest.PageJSON(canaryResults, "c-3", false, true)
		if labtest.Find(string(body)) == "" {
			t.Fatal("the answer carries no canary, so this test proves nothing")
		}
		page, err := src(serve(body).URL).Results(context.Background(), lab.Query{Namespace: "ns-1", Round: "r-1"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Results) != len(canaryResults) {
			t.Fatalf("%d results, want %d", len(page.Results), len(canaryResults))
		}
		noCanary(t, "the page", page)
		for _, r := range page.Results {
			if p := lab.Problem(r, round); p != "" {
				t.Errorf("result %s: %s", r.Tube, p)
			}
		}
	})

	t.Run("csv extra columns are refused", func(t *testing.T) {
		data := labtest.CSV(canaryResults, true)
		_, err := lab.CSVSource{Data: data, Name: "results.csv"}.Results(context.Background(), lab.Query{Round: "r-1"}, "")
		if err == nil || !strings.Contains(err.Error(), `header "name" is not a column of the lab export`) {
			t.Fatalf("error %v, want the name column refused", err)
		}
		noCanary(t, "the error", err.Error())
		results, err := lab.ParseCSV(labtest.CSV(canaryResults, false), "results.csv")
		if err != nil || len(results) != len(canaryResults) {
			t.Fatalf("the same export without the canary columns: %d results, %v", len(results), err)
		}
	})

	// Resident data where an id, a time or a count goes: the page or the
	// file fails, and says where without repeating it.
	for _, tc := range []struct{ name, body, csv string }{
		{name: "name as a tube id",
			body: `{"results":[{"tube":"张三CANARY","building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"}]}`,
			csv:  "tube,building,kind,positive,result_time\n张三CANARY,b-1,pooled,false,2026-11-26T18:05:00Z\n"},
		{name: "name as a building",
			body: `{"results":[{"tube":"P-1","building":"张三CANARY","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"}]}`,
			csv:  "tube,building,kind,positive,result_time\nP-1,张三CANARY,pooled,false,2026-11-26T18:05:00Z\n"},
		{name: "name as a household",
			body: `{"results":[{"tube":"P-1","building":"b-1","kind":"pooled","positive":true,"swabs":3,"households":["1-0101","张三CANARY"],"resultTime":"2026-11-26T18:05:00Z"}]}`,
			csv:  "tube,building,kind,positive,result_time,swabs,households\nP-1,b-1,pooled,true,2026-11-26T18:05:00Z,3,1-0101 张三CANARY\n"},
		{name: "ID number as a single tube's household",
			body: `{"results":[{"tube":"S-1","building":"b-1","kind":"single","positive":true,"pool":"P-1","household":"230102199001011234X","resultTime":"2026-11-26T18:05:00Z"}]}`,
			csv:  "tube,building,kind,positive,result_time,pool,household\nS-1,b-1,single,true,2026-11-26T18:05:00Z,P-1,230102199001011234X\n"},
		{name: "phone as a count",
			body: `{"results":[{"tube":"P-1","building":"b-1","kind":"pooled","positive":true,"swabs":13800138000,"households":["1-0101"],"resultTime":"2026-11-26T18:05:00Z"}]}`,
			csv:  "tube,building,kind,positive,result_time,swabs,households\nP-1,b-1,pooled,true,2026-11-26T18:05:00Z,13800138000,1-0101\n"},
		{name: "phone as a time",
			body: `{"results":[{"tube":"P-1","building":"b-1","kind":"pooled","positive":false,"resultTime":"13800138000"}]}`,
			csv:  "tube,building,kind,positive,result_time\nP-1,b-1,pooled,false,13800138000\n"},
		{name: "ID number as the kind",
			body: `{"results":[{"tube":"P-1","building":"b-1","kind":"230102199001011234","positive":false,"resultTime":"2026-11-26T18:05:00Z"}]}`,
			csv:  "tube,building,kind,positive,result_time\nP-1,b-1,230102199001011234,false,2026-11-26T18:05:00Z\n"},
		{name: "a name as the first line",
			body: `{"results":[],"next":"张三CANARY"}`,
			csv:  "张三CANARY,13800138000,230102199001011234\n"},
		{name: "a page of residents",
			body: `<table><tr><td>张三CANARY</td><td>13800138000</td><td>230102199001011234</td></tr></table>`,
			csv:  "tube,building,kind,positive,result_time\n\"张三CANARY\"x,13800138000,230102199001011234,,\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := src(serve([]byte(tc.body)).URL).Results(context.Background(), lab.Query{Namespace: "ns-1", Round: "r-1"}, "")
			if err == nil {
				t.Fatal("http: the page was taken")
			}
			t.Logf("http: %v", err)
			noCanary(t, "the http error", err.Error())
			_, err = lab.ParseCSV([]byte(tc.csv), "results.csv")
			if err == nil {
				t.Fatal("csv: the file was taken")
			}
			t.Logf("csv: %v", err)
			noCanary(t, "the csv error", err.Error())
		})
	}
}
