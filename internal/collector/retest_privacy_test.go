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
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRetestCarriesNoResidentData follows the retest path with
// resident data in every input a registry controls: the visit pod's
// environment, each source's outcome, the report it becomes, and each
// error must hold unit-room ids, tube ids and counts only, never a name or
// phone number (Privacy; the canaries of FuzzReadCSV).
func TestRetestCarriesNoResidentData(t *testing.T) {
	ctx := context.Background()
	leaks := func(t *testing.T, what string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(canaries, "Canary") {
			if strings.Contains(string(b), c) || strings.Contains(fmt.Sprintf("%+v", v), c) {
				t.Errorf("%s carries resident data %q: %s", what, c, b)
			}
		}
	}
	a := retestAssignment(1)
	leaks(t, "the visit pod's environment", a.Env())

	// The http registry sends the residents along with the counts, in
	// fields Sweep ignores.
	srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		_, _ = fmt.Fprint(w, `{"retest":"P-0042","sampled":3,"homeVisited":0,"missedHouseholds":["2-1204"],`+
			`"residents":[{"name":"ZHANG Canary-Wei","phone":"13800138000","household":"2-1204"}],"note":"LI Canary-Na 13900139000"}`)
	})
	h := httpAssignment(srv.URL)
	h.Expected, h.PoolSize, h.Retest, h.RetestHouseholds = a.Expected, 1, a.Retest, a.RetestHouseholds
	// The csv export carries a retest row with a phone number as its tube
	// id: not this tube's, so skipped unread.
	csvPath := writeCSV(t, retestCSV+"b-1,2-1204,1,1,0,13800138000\n")
	c := retestCSVAssignment(csvPath, "b-1", "P-0042", "2-1203", "2-1204")
	for _, tc := range []struct {
		name string
		src  Source
		a    Assignment
	}{
		{"drill", DrillSource{}, a},
		{"http", fastSource(srv, 0), h},
		{"csv", CSVSource{}, c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.src.Visit(ctx, tc.a, nil)
			if err != nil {
				t.Fatal(err)
			}
			leaks(t, "the outcome", o)
			leaks(t, "the report", ReportFor(tc.a, o, true, time.Now()))
		})
	}

	// Where the data sits in a field Sweep reads, the visit fails, and the
	// error says where, not what.
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"http household", func() error {
			srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				_, _ = fmt.Fprint(w, `{"sampled":3,"homeVisited":0,"missedHouseholds":["ZHANG Canary-Wei"]}`)
			})
			h := h
			h.HTTPURL = srv.URL
			_, err := fastSource(srv, 0).Visit(ctx, h, nil)
			return err
		}},
		{"http retest", func() error {
			srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				_, _ = fmt.Fprint(w, `{"retest":"13800138000","sampled":3,"homeVisited":0}`)
			})
			h := h
			h.HTTPURL = srv.URL
			_, err := fastSource(srv, 0).Visit(ctx, h, nil)
			return err
		}},
		{"csv household", func() error {
			_, err := CSVSource{}.Visit(ctx, retestCSVAssignment(writeCSV(t, retestCSV+"b-1,ZHANG Canary-Wei,1,1,0,P-0042\n"), "b-1", "P-0042", "2-1203"), nil)
			return err
		}},
		{"csv count", func() error {
			_, err := CSVSource{}.Visit(ctx, retestCSVAssignment(writeCSV(t, retestCSV+"b-1,2-1205,13800138000,1,0,P-0042\n"), "b-1", "P-0042", "2-1203"), nil)
			return err
		}},
		{"environment", func() error {
			env := a.Env()
			env[EnvRetestHouseholds] = "2-1203,ZHANG/Canary-Wei"
			env[EnvRetest] = "13800138000 LI"
			_, err := FromEnv(lookupIn(env))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			leaks(t, "the error", err.Error())
		})
	}
}
