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
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeCSV writes text as samples.csv in a fresh directory and returns its
// path, the way a ConfigMap key is mounted.
func writeCSV(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "samples.csv")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func csvAssignment(path, building string, expected int32) Assignment {
	return Assignment{Namespace: "ns-1", Round: "r-1", Building: building, Visit: 1, Expected: expected, Source: "csv", CSVFile: path}
}

const goodCSV = "\ufeffbuilding, household ,residents,sampled,home_visited\n" +
	"b-1,1-0101,3,3,3\n" + // line 2
	"b-2,1-0101,2,0,0\n" + // same household id, other building: fine
	"b-1,2-1203,4,2,1\n" +
	"\n" + // blank lines are skipped
	"  b-1 , 1-0102 , 2 , 0 , 0 \n" +
	"b-1,3-0401,0,0,0\n" + // nobody registered: not missed
	"b-2,\"1-0102\",5,5,2\n" +
	"b-1,1-0103,1,1,0\n" +
	"b-1,B-0907,2,1,1\n"

func TestCSVSourceGoodFile(t *testing.T) {
	path := writeCSV(t, goodCSV)
	for _, tc := range []struct {
		building string
		expected int32
		want     Outcome
	}{
		{"b-1", 100, Outcome{Sampled: 7, HomeVisited: 5, MissedHouseholds: []string{"2-1203", "1-0102", "B-0907"},
			Missed: []HouseholdMissed{{"2-1203", 2, ""}, {"1-0102", 2, ""}, {"B-0907", 1, ""}}}},
		{"b-2", 100, Outcome{Sampled: 5, HomeVisited: 2, MissedHouseholds: []string{"1-0101"}, Missed: []HouseholdMissed{{"1-0101", 2, ""}}}},
		// The source counts what the export says; ReportFor fits it to
		// the roster (TestReportsFitTheRoster).
		{"b-1", 4, Outcome{Sampled: 7, HomeVisited: 5, MissedHouseholds: []string{"2-1203", "1-0102", "B-0907"},
			Missed: []HouseholdMissed{{"2-1203", 2, ""}, {"1-0102", 2, ""}, {"B-0907", 1, ""}}}},
	} {
		t.Run(fmt.Sprintf("%s expected %d", tc.building, tc.expected), func(t *testing.T) {
			out, err := CSVSource{}.Visit(context.Background(), csvAssignment(path, tc.building, tc.expected), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Errorf("outcome %+v, want %+v", out, tc.want)
			}
		})
	}
}

func TestCSVSourceBrokenFiles(t *testing.T) {
	const header = "building,household,residents,sampled,home_visited\n"
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"empty file", "", []string{"samples.csv line 1: the file is empty"}},
		{"bad header", "building,household,resident,sampled,home_visited\nb-1,1-0101,3,3,3\n",
			[]string{`samples.csv line 1, column 3: header is "resident", want "residents"`}},
		{"header in another order", "household,building,residents,sampled,home_visited\n",
			[]string{`samples.csv line 1, column 1: header is "household", want "building"`}},
		{"header too short", "building,household,residents,sampled\n",
			[]string{`samples.csv line 1, column 5: header is missing "home_visited"`}},
		{"header too long", header[:len(header)-1] + ",note\n",
			[]string{`samples.csv line 1, column 6: header has an extra column "note"`}},
		{"too few columns", header + "b-1,1-0101,3,3,3\nb-1,1-0102,3,3\n",
			[]string{"samples.csv line 3, column home_visited: missing (the row has 4 columns, want 5"}},
		{"too many columns", header + "b-1,1-0101,3,3,3,9\n",
			[]string{"samples.csv line 2, column 6: unexpected (the row has 6 columns, want 5"}},
		{"residents not a number", header + "b-1,1-0101,three,3,3\n",
			[]string{`samples.csv line 2, column residents: not a whole number`}},
		{"sampled not a number", header + "b-1,1-0101,3,x,3\n",
			[]string{`samples.csv line 2, column sampled: not a whole number`}},
		{"sampled empty", header + "b-1,1-0101,3,,0\n",
			[]string{`samples.csv line 2, column sampled: not a whole number`}},
		{"negative home_visited", header + "b-1,1-0101,3,3,-1\n",
			[]string{"samples.csv line 2, column home_visited: negative"}},
		{"sampled more than residents", header + "b-1,1-0101,3,4,0\n",
			[]string{"samples.csv line 2, column sampled: 4 is more than residents (3)"}},
		{"home_visited more than sampled", header + "b-1,1-0101,3,2,3\n",
			[]string{"samples.csv line 2, column home_visited: 3 is more than sampled (2)"}},
		{"residents too large", header + "b-1,1-0101,99999999999999999999,0,0\n",
			[]string{`samples.csv line 2, column residents: too large`}},
		{"bad household id", header + "b-1,2单元1203,3,3,3\n",
			[]string{`samples.csv line 2, column household: not a unit-room id`}},
		{"household id with double dash", header + "b-1,2--1203,3,3,3\n",
			[]string{`samples.csv line 2, column household: not a unit-room id`}},
		{"household id too long", header + "b-1," + strings.Repeat("1", 33) + ",3,3,3\n",
			[]string{"samples.csv line 2, column household:", "at most 32 characters"}},
		{"duplicate household", header + "b-1,1-0101,3,3,3\nb-2,1-0102,1,1,1\nb-1,1-0102,1,1,1\nb-1,1-0101,3,3,3\n",
			[]string{`samples.csv line 5, column household: "1-0101" already appeared on line 2`}},
		{"stray quote", header + "b-1,1-0101,3,3,3\nb-1,1-01\"02,3,3,3\n",
			[]string{"samples.csv line 3: cannot read CSV"}},
		{"building not in file", header + "b-2,1-0101,3,3,3\n",
			[]string{"samples.csv has no rows for building b-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeCSV(t, tc.text)
			_, err := CSVSource{}.Visit(context.Background(), csvAssignment(path, "b-1", 100), nil)
			wantErr(t, err, tc.want...)
		})
	}
}

func TestCSVSourceMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "samples.csv")
	_, err := CSVSource{}.Visit(context.Background(), csvAssignment(path, "b-1", 100), nil)
	wantErr(t, err, "reading samples.csv", "no such file")
}

func TestCSVSourceReportsBadLinesTogether(t *testing.T) {
	text := "building,household,residents,sampled,home_visited\n" +
		"b-1,1-0101,3,3,3\n" +
		"b-1,1-0102,3,x,3\n" + // line 3
		"b-1,1-0103,3,3\n" + // line 4
		"b-1,1-0104,3,3,3\n" +
		"b-1,1 0105,3,3,3\n" // line 6
	_, err := CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, text), "b-1", 100), nil)
	wantErr(t, err,
		"samples.csv line 3, column sampled:",
		"samples.csv line 4, column home_visited: missing",
		"samples.csv line 6, column household:")
	if got := strings.Count(err.Error(), "samples.csv line"); got != 3 {
		t.Errorf("error names %d lines, want 3: %v", got, err)
	}
}

func TestCSVSourceListsAtMost20BadLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("building,household,residents,sampled,home_visited\n")
	for i := range 25 {
		fmt.Fprintf(&b, "b-1,1-%04d,3,x,3\n", i)
	}
	_, err := CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, b.String()), "b-1", 100), nil)
	wantErr(t, err, "samples.csv line 2, column sampled", "samples.csv line 21, column sampled", "and 5 more bad lines")
	if got := strings.Count(err.Error(), "samples.csv line"); got != 20 {
		t.Errorf("error names %d lines, want 20", got)
	}
}

func TestCSVSourceIgnoresOtherBuildingsBadRows(t *testing.T) {
	text := "building,household,residents,sampled,home_visited\n" +
		"b-1,1-0101,3,2,1\n" +
		"b-2,1-0101,3,x\n" +
		"b-2,bad id,3,9,9\n"
	out, err := CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, text), "b-1", 100), nil)
	if err != nil {
		t.Fatalf("b-2's rows stopped b-1: %v", err)
	}
	if want := (Outcome{Sampled: 2, HomeVisited: 1, MissedHouseholds: []string{"1-0101"}, Missed: []HouseholdMissed{{"1-0101", 1, ""}}}); !reflect.DeepEqual(out, want) {
		t.Errorf("outcome %+v, want %+v", out, want)
	}
	_, err = CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, text), "b-2", 100), nil)
	wantErr(t, err, "line 3, column home_visited: missing", "line 4, column household")
}

// retestCSV is an export with the optional retest column: b-1's sweep
// rows, the retests of two of its pooled tubes, and b-2's sweep.
const retestCSV = "building,household,residents,sampled,home_visited,retest\n" +
	"b-1,1-0101,3,3,0,\n" + // line 2: the sweep
	"b-1,2-1203,4,4,1,\n" +
	"b-1,3-0401,2,1,0,\n" +
	"b-1,2-1203,4,3,0,P-0042\n" + // line 5: tube P-0042's retest
	"b-1,2-1204,2,0,0,P-0042\n" +
	"b-1,9-0901,5,5,0,P-0042\n" + // not one of P-0042's households
	"b-1,2-1203,4,4,0,P-0043\n" + // another tube, same household: fine
	"b-2,1-0101,2,2,0,\n" +
	"b-2,1-0102,2,0,0,\"\"\n"

func retestCSVAssignment(path, building, tube string, households ...string) Assignment {
	a := csvAssignment(path, building, 6)
	a.PoolSize, a.Retest, a.RetestHouseholds = 1, tube, households
	return a
}

func TestCSVSourceRetest(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		a          func(path string) Assignment
		want       Outcome
		errParts   []string
	}{
		{name: "the sweep skips retest rows", text: retestCSV,
			a:    func(p string) Assignment { return csvAssignment(p, "b-1", 9) },
			want: Outcome{Sampled: 8, HomeVisited: 1, MissedHouseholds: []string{"3-0401"}, Missed: []HouseholdMissed{{"3-0401", 1, ""}}}},
		{name: "an empty retest cell is the sweep", text: retestCSV,
			a:    func(p string) Assignment { return csvAssignment(p, "b-2", 4) },
			want: Outcome{Sampled: 2, MissedHouseholds: []string{"1-0102"}, Missed: []HouseholdMissed{{"1-0102", 2, ""}}}},
		{name: "the tube's rows only, other households left out", text: retestCSV,
			a:    func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0042", "2-1203", "2-1204") },
			want: Outcome{Sampled: 3, MissedHouseholds: []string{"2-1203", "2-1204"}, Missed: []HouseholdMissed{{"2-1203", 1, ""}, {"2-1204", 2, ""}}}},
		{name: "another tube", text: retestCSV,
			a:    func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0043", "2-1203") },
			want: Outcome{Sampled: 4}},
		{name: "a tube with no rows", text: retestCSV,
			a:        func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0044", "2-1203") },
			errParts: []string{"samples.csv has no rows for the retest of tube P-0044 in building b-1"}},
		{name: "an old export has no retest rows", text: goodCSV,
			a:        func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0042", "2-1203") },
			errParts: []string{"samples.csv has no retest column, so no rows for the retest of tube P-0042 in building b-1"}},
		{name: "a bad row of the tube names its line", text: retestCSV + "b-1,2-1205,2,x,0,P-0042\n",
			a:        func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0042", "2-1203", "2-1204") },
			errParts: []string{"samples.csv line 11, column sampled: not a whole number"}},
		{name: "a bad row of the tube does not stop the sweep", text: retestCSV + "b-1,2-1205,2,x,0,P-0042\n",
			a:    func(p string) Assignment { return csvAssignment(p, "b-1", 9) },
			want: Outcome{Sampled: 8, HomeVisited: 1, MissedHouseholds: []string{"3-0401"}, Missed: []HouseholdMissed{{"3-0401", 1, ""}}}},
		{name: "a household twice in one tube", text: retestCSV + "b-1,2-1204,2,2,0,P-0042\n",
			a:        func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0042", "2-1204") },
			errParts: []string{`samples.csv line 11, column household: "2-1204" already appeared on line 6`}},
		{name: "a row without the retest cell", text: retestCSV + "b-1,2-1205,2,2,0\n",
			a:        func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0042", "2-1203") },
			errParts: []string{"samples.csv line 11, column retest: missing (the row has 5 columns, want 6"}},
		{name: "a column after retest", text: "building,household,residents,sampled,home_visited,retest,note\n",
			a:        func(p string) Assignment { return retestCSVAssignment(p, "b-1", "P-0042", "2-1203") },
			errParts: []string{`samples.csv line 1, column 7: header has an extra column "note"`}},
		{name: "retest in the wrong place", text: "building,household,retest,residents,sampled,home_visited\n",
			a:        func(p string) Assignment { return csvAssignment(p, "b-1", 9) },
			errParts: []string{`samples.csv line 1, column 3: header is "retest", want "residents"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.text)
			a := tc.a(writeCSV(t, tc.text))
			out, err := CSVSource{}.Visit(context.Background(), a, nil)
			if tc.errParts != nil {
				wantErr(t, err, tc.errParts...)
				checkError(t, err, data, "samples.csv")
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

// An old export and the same export with an empty retest column give a
// sweep the same outcome.
func TestCSVSourceOldExportsUnchangedByTheRetestColumn(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(goodCSV, "\n"), "\n")
	for i, l := range lines {
		switch {
		case i == 0:
			lines[i] = l + ",retest"
		case strings.TrimSpace(l) != "":
			lines[i] = l + ","
		}
	}
	withColumn := strings.Join(lines, "\n") + "\n"
	for _, b := range []string{"b-1", "b-2", "b-3"} {
		old, oldErr := CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, goodCSV), b, 100), nil)
		got, err := CSVSource{}.Visit(context.Background(), csvAssignment(writeCSV(t, withColumn), b, 100), nil)
		if !reflect.DeepEqual(old, got) || fmt.Sprint(oldErr) != fmt.Sprint(err) {
			t.Errorf("building %s: %+v, %v with the retest column; %+v, %v without", b, got, err, old, oldErr)
		}
	}
}

// The retest example of docs/collector-api.md ("Retest rows") gives what
// the doc says it gives.
func TestCSVSourceRetestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/collector-api.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```csv\nbuilding,household,residents,sampled,home_visited,retest\n"
	i := strings.Index(string(doc), start)
	if i < 0 {
		t.Fatal("docs/collector-api.md has no retest CSV example")
	}
	example, _, closed := strings.Cut(string(doc[i+len("```csv\n"):]), "```")
	if !closed {
		t.Fatal("the retest CSV example in docs/collector-api.md is not closed")
	}
	path := writeCSV(t, example)
	sweep, err := CSVSource{}.Visit(context.Background(), csvAssignment(path, "xinjiang-7", 9), nil)
	if want := (Outcome{Sampled: 8, HomeVisited: 1, MissedHouseholds: []string{"2-1204"}, Missed: []HouseholdMissed{{"2-1204", 1, ""}}}); err != nil || !reflect.DeepEqual(sweep, want) {
		t.Errorf("the sweep reads %+v, %v; want %+v", sweep, err, want)
	}
	retest, err := CSVSource{}.Visit(context.Background(), retestCSVAssignment(path, "xinjiang-7", "P-0042", "2-1203", "2-1204"), nil)
	if want := (Outcome{Sampled: 3, MissedHouseholds: []string{"2-1203", "2-1204"}, Missed: []HouseholdMissed{{"2-1203", 1, ""}, {"2-1204", 2, ""}}}); err != nil || !reflect.DeepEqual(retest, want) {
		t.Errorf("the retest reads %+v, %v; want %+v", retest, err, want)
	}
}
