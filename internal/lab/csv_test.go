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
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodCSV = "\ufeffbuilding, tube ,kind,positive,result_time,swab_time,swabs,households,pool,household\n" +
	"b-1,P-0001,pooled,false,2026-11-26T18:05:00Z,2026-11-26T13:40:00Z,10,,,\n" +
	"\n" + // blank lines are skipped
	" b-1 , P-0002 , pooled , TRUE , 2026-11-26T18:05:00Z , 2026-11-26T13:40:00Z , 10 , 2-1203 2-1204  3-0401 ,,\n" +
	"b-1,\"S-0001\",single,true,2026-11-26T18:05:00Z,,,,P-0002,2-1203\n"

func TestParseCSVGoodFile(t *testing.T) {
	got, err := ParseCSV([]byte(goodCSV), "results.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(goodResults) {
		t.Fatalf("%d results, want %d", len(got), len(goodResults))
	}
	for i, r := range got {
		w := goodResults[i]
		if r.Tube != w.Tube || r.Building != w.Building || r.Kind != w.Kind || r.Positive != w.Positive || !r.ResultTime.Equal(w.ResultTime) ||
			(r.SwabTime == nil) != (w.SwabTime == nil) || r.Swabs != w.Swabs || !reflect.DeepEqual(r.Households, w.Households) ||
			r.Pool != w.Pool || r.Household != w.Household {
			t.Errorf("line %d gives %+v, want %+v", i+2, r, w)
		}
	}
}

func TestParseCSVOptionalColumnsMayBeLeftOut(t *testing.T) {
	got, err := ParseCSV([]byte("kind,positive,result_time,tube,building\npooled,false,2026-11-26T18:05:00+08:00,P-1,b-1\n"), "results.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := TubeResult{Tube: "P-1", Building: "b-1", Kind: Pooled, ResultTime: time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)}
	if len(got) != 1 || !got[0].ResultTime.Equal(want.ResultTime) || got[0].Tube != "P-1" || got[0].SwabTime != nil {
		t.Errorf("results %+v, want %+v", got, want)
	}
	if got, err := ParseCSV([]byte("tube,building,kind,positive,result_time\n"), "results.csv"); err != nil || len(got) != 0 {
		t.Errorf("a header alone gives %v, %v; want no results, no error", got, err)
	}
}

func TestParseCSVBrokenFiles(t *testing.T) {
	const header = "tube,building,kind,positive,swab_time,result_time,swabs,households,pool,household\n"
	const at = "2026-11-26T18:05:00Z"
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"empty file", "", []string{"results.csv line 1: the file is empty, want a header naming the columns (tube,building,kind,positive,swab_time,result_time,swabs,households,pool,household)"}},
		{"unknown column", "tube,building,kind,positive,result_time,note\n", []string{`results.csv line 1, column 6: header "note" is not a column of the lab export`}},
		{"data instead of a header", "P-1,b-1,pooled,false," + at + "\n", []string{`results.csv line 1, column 1: header is not a column name (the columns are tube,building,`}},
		{"repeated column", "tube,building,kind,positive,result_time,tube\n", []string{`results.csv line 1, column 6: header "tube" repeats column 1`}},
		{"required column missing", "tube,building,kind,positive\n", []string{`results.csv line 1: header has no column "result_time"`}},
		{"stray quote in the header", "tube,\"build\"ing\n", []string{"results.csv line 1: cannot read CSV"}},
		{"too few columns", header + "P-1,b-1,pooled,false\n", []string{"results.csv line 2, column swab_time: missing (the row has 4 columns, the header 10)"}},
		{"too many columns", header + "P-1,b-1,pooled,false,," + at + ",,,,,x\n", []string{"results.csv line 2, column 11: unexpected (the row has 11 columns, the header 10)"}},
		{"positive not a boolean", header + "P-1,b-1,pooled,yes,," + at + ",,,,\n", []string{"results.csv line 2, column positive: not true or false"}},
		{"positive empty", header + "P-1,b-1,pooled,,," + at + ",,,,\n", []string{"results.csv line 2, column positive: missing"}},
		{"result_time empty", header + "P-1,b-1,pooled,false,,,,,,\n", []string{"results.csv line 2, column result_time: missing"}},
		{"result_time not RFC 3339", header + "P-1,b-1,pooled,false,,26.11.2026 18:05,,,,\n", []string{"results.csv line 2, column result_time: not an RFC 3339 time"}},
		{"swab_time after result_time", header + "P-1,b-1,pooled,false,2026-11-27T00:00:00Z," + at + ",,,,\n", []string{"results.csv line 2, column swab_time: is after resultTime"}},
		{"swabs not a number", header + "P-1,b-1,pooled,true,," + at + ",ten,1-0101,,\n", []string{"results.csv line 2, column swabs: not a whole number from 0 to 20"}},
		{"swabs too many", header + "P-1,b-1,pooled,true,," + at + ",30,1-0101,,\n", []string{"results.csv line 2, column swabs: not a whole number from 0 to 20"}},
		{"bad tube id", header + "P 1,b-1,pooled,false,," + at + ",,,,\n", []string{"results.csv line 2, column tube: is not a lab tube id"}},
		{"bad building", header + "P-1,B_1,pooled,false,," + at + ",,,,\n", []string{"results.csv line 2, column building: is not a Building name"}},
		{"bad kind", header + "P-1,b-1,mixed,false,," + at + ",,,,\n", []string{`results.csv line 2, column kind: is neither "pooled" nor "single"`}},
		{"positive pool without households", header + "P-1,b-1,pooled,true,," + at + ",5,,,\n", []string{"results.csv line 2, column households: lists 0 households"}},
		{"bad household id", header + "P-1,b-1,pooled,true,," + at + ",5,1-0101 2单元1203,,\n", []string{"results.csv line 2, column households: item 2 is not a unit-room id"}},
		{"too many households", header + "P-1,b-1,pooled,true,," + at + ",20," + strings.Repeat("1-0101 ", 21) + ",,\n", []string{"results.csv line 2, column households: has 21 unit-room ids, at most 20"}},
		{"single without pool", header + "S-1,b-1,single,true,," + at + ",,,,1-0101\n", []string{"results.csv line 2, column pool: is not a lab tube id"}},
		{"single with bad household", header + "S-1,b-1,single,true,," + at + ",,,P-1,1--0101\n", []string{"results.csv line 2, column household: is not a unit-room id"}},
		{"stray quote in a row", header + "P-1,b-1,pooled,false,," + at + ",,,,\nP-\"2,b-1\n", []string{"results.csv line 3: cannot read CSV"}},
		{"larger than a ConfigMap", header + strings.Repeat("P-1,b-1,pooled,false,,"+at+",,,,\n", 1<<20/40), []string{"results.csv is larger than 1 MiB, the most a ConfigMap holds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCSV([]byte(tc.text), "results.csv")
			wantErr(t, err, tc.want...)
			if got != nil {
				t.Errorf("results %+v with an error", got)
			}
		})
	}
}

func TestParseCSVReportsBadLinesTogether(t *testing.T) {
	text := "tube,building,kind,positive,result_time\n" +
		"P-1,b-1,pooled,false,2026-11-26T18:05:00Z\n" +
		"P-2,b-1,pooled,maybe,2026-11-26T18:05:00Z\n" + // line 3
		"P-3,b-1,pooled\n" + // line 4
		"P-4,b-1,pooled,false,2026-11-26T18:05:00Z\n" +
		"P 5,b-1,pooled,false,2026-11-26T18:05:00Z\n" // line 6
	_, err := ParseCSV([]byte(text), "results.csv")
	wantErr(t, err,
		"results.csv line 3, column positive:",
		"results.csv line 4, column positive: missing",
		"results.csv line 6, column tube:")
	if got := strings.Count(err.Error(), "results.csv line"); got != 3 {
		t.Errorf("error names %d lines, want 3: %v", got, err)
	}
}

func TestParseCSVListsAtMost20BadLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("tube,building,kind,positive,result_time\n")
	for i := range 25 {
		fmt.Fprintf(&b, "P-%d,b-1,pooled,x,2026-11-26T18:05:00Z\n", i)
	}
	_, err := ParseCSV([]byte(b.String()), "results.csv")
	wantErr(t, err, "results.csv line 2, column positive", "results.csv line 21, column positive", "and 5 more bad lines")
	if got := strings.Count(err.Error(), "results.csv line"); got != 20 {
		t.Errorf("error names %d lines, want 20", got)
	}
}

// TestCSVSourcePagesByRowCount: the cursor is the rows already returned.
func TestCSVSourcePagesByRowCount(t *testing.T) {
	var b strings.Builder
	b.WriteString("tube,building,kind,positive,result_time\n")
	for i := range 2500 {
		fmt.Fprintf(&b, "P-%d,b-1,pooled,false,2026-11-26T18:05:00Z\n", i)
	}
	s := CSVSource{Data: []byte(b.String()), Name: "results.csv"}
	var sizes []int
	var nexts []string
	cursor := ""
	for range 10 {
		page, err := s.Results(context.Background(), q, cursor)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Results))
		nexts = append(nexts, page.Next)
		if cursor == "1000" && page.Results[0].Tube != "P-1000" {
			t.Errorf("page after 1000 starts at %s", page.Results[0].Tube)
		}
		cursor = page.Next
		if !page.More {
			break
		}
	}
	if !reflect.DeepEqual(sizes, []int{1000, 1000, 500}) || !reflect.DeepEqual(nexts, []string{"1000", "2000", "2500"}) {
		t.Errorf("pages of %v with cursors %q, want 1000, 1000, 500 and 1000, 2000, 2500", sizes, nexts)
	}
	page, err := s.Results(context.Background(), q, "2500")
	if err != nil || len(page.Results) != 0 || page.Next != "2500" || page.More {
		t.Errorf("at the end: %+v, %v; want nothing new and the cursor kept", page, err)
	}
	// A shorter export replaced the file: read it again from the start.
	page, err = s.Results(context.Background(), q, "9999")
	if err != nil || len(page.Results) != 1000 || page.Results[0].Tube != "P-0" {
		t.Errorf("beyond the end: %d results, %v; want the first page again", len(page.Results), err)
	}
	_, err = s.Results(context.Background(), q, "c-17")
	wantErr(t, err, "lab cursor for round r-1 is not a count of results.csv rows")
	_, err = CSVSource{Data: []byte("tube\n"), Name: "results.csv"}.Results(context.Background(), q, "")
	wantErr(t, err, `results.csv line 1: header has no column "building"`)
}
