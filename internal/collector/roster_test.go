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
)

// rosterCase is one building as a real registry sees it: every registered
// resident, per household (residents, sampled, at home), while Sweep expects
// the roster's residents minus the exempt.
type rosterCase struct {
	name       string
	expected   int32
	households [][4]string // id, residents, sampled, home visited
	// The report: sampled, missed, extraSampled, homeVisited, households.
	sampled, missed, extra, home int32
	missedHouseholds             []string
}

var rosterCases = []rosterCase{
	{
		// 10 registered, 1 in hospital (exempt), the other 9
		// sampled. The patient's household is not a missed one.
		name: "exempt resident, everyone else sampled", expected: 9,
		households: [][4]string{{"1-0101", "3", "3", "1"}, {"1-0102", "4", "4", "0"}, {"1-0201", "3", "2", "0"}},
		sampled:    9, missed: 0, extra: 0, home: 1,
	},
	{
		// Exempt residents still unsampled sit in other households than
		// the one missed resident: three households to knock for one.
		name: "exempt and missed in different households", expected: 8,
		households: [][4]string{{"1-0101", "3", "2", "0"}, {"1-0102", "4", "4", "2"}, {"1-0201", "3", "1", "0"}},
		sampled:    7, missed: 1, extra: 0, home: 2, missedHouseholds: []string{"1-0101", "1-0201"},
	},
	{
		// The registry knows 3 people the roster does not (moved in);
		// everyone is sampled: the surplus is reported, not counted.
		name: "registry larger than the roster, all sampled", expected: 10,
		households: [][4]string{{"1-0101", "5", "5", "2"}, {"1-0102", "4", "4", "0"}, {"2-0301", "4", "4", "0"}},
		sampled:    10, missed: 0, extra: 3, home: 2,
	},
	{
		// More sampled than expected while some registered residents are
		// not: counted by number, nobody the roster expects is missed, so
		// there is nobody to knock for.
		name: "registry larger than the roster, some unsampled", expected: 10,
		households: [][4]string{{"1-0101", "5", "4", "3"}, {"1-0102", "4", "4", "0"}, {"2-0301", "4", "4", "0"}},
		sampled:    10, missed: 0, extra: 2, home: 3,
	},
	{
		// Households with both sampled and unsampled residents, one of them
		// holding two of the missed.
		name: "mixed households", expected: 12,
		households: [][4]string{{"1-0101", "4", "2", "1"}, {"1-0102", "4", "3", "0"}, {"1-0201", "4", "4", "4"}},
		sampled:    9, missed: 3, extra: 0, home: 5, missedHouseholds: []string{"1-0101", "1-0102"},
	},
	{
		name: "nobody expected", expected: 0,
		households: [][4]string{{"1-0101", "2", "0", "0"}},
		sampled:    0, missed: 0, extra: 0, home: 0,
	},
}

// TestReportsFitTheRoster runs each building through both registry sources
// and ReportFor: the report must be the one the operator accepts, with exact
// counts (docs/collector-api.md, "Counts and the roster").
func TestReportsFitTheRoster(t *testing.T) {
	for _, c := range rosterCases {
		var csvText strings.Builder
		csvText.WriteString("building,household,residents,sampled,home_visited\n")
		var sampled, home int
		var missed []string
		for _, h := range c.households {
			fmt.Fprintf(&csvText, "b-1,%s,%s,%s,%s\n", h[0], h[1], h[2], h[3])
			var n, s, v int
			_, _ = fmt.Sscan(h[1], &n)
			_, _ = fmt.Sscan(h[2], &s)
			_, _ = fmt.Sscan(h[3], &v)
			sampled, home = sampled+s, home+v
			if s < n {
				missed = append(missed, `"`+h[0]+`"`)
			}
		}
		body := fmt.Sprintf(`{"round":"r-1","building":"b-1","sampled":%d,"homeVisited":%d,"missedHouseholds":[%s]}`,
			sampled, home, strings.Join(missed, ","))

		sources := map[string]func(t *testing.T, a Assignment) (Outcome, error){
			"csv": func(t *testing.T, a Assignment) (Outcome, error) {
				a.CSVFile = writeCSV(t, csvText.String())
				return CSVSource{}.Visit(context.Background(), a, nil)
			},
			"http": func(t *testing.T, a Assignment) (Outcome, error) {
				srv, _ := registry(t, func(w http.ResponseWriter, _ *http.Request, _ int32) { _, _ = fmt.Fprint(w, body) })
				a.HTTPURL = srv.URL
				return fastSource(srv, 0).Visit(context.Background(), a, nil)
			},
		}
		for name, visit := range sources {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				a := Assignment{Namespace: "ns-1", Round: "r-1", Building: "b-1", Visit: 1, Expected: c.expected, PoolSize: 5, Source: name}
				o, err := visit(t, a)
				if err != nil {
					t.Fatal(err)
				}
				r := ReportFor(a, o, true, time.Now())
				if r.Sampled != c.sampled || r.Missed != c.missed || r.ExtraSampled != c.extra || r.HomeVisited != c.home ||
					!reflect.DeepEqual(r.MissedHouseholds, c.missedHouseholds) {
					t.Errorf("report sampled %d missed %d extra %d home %d households %q; want %d %d %d %d %q",
						r.Sampled, r.Missed, r.ExtraSampled, r.HomeVisited, r.MissedHouseholds,
						c.sampled, c.missed, c.extra, c.home, c.missedHouseholds)
				}
				if want := (c.sampled + 4) / 5; r.Tubes != want {
					t.Errorf("tubes %d, want %d", r.Tubes, want)
				}
			})
		}
	}
}
