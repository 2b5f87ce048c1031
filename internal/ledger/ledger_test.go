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

package ledger

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/yaml"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

const header = "building,street,community,residents,exempt,home_visit,control_level\n"

func TestParseRows(t *testing.T) {
	rows, bad, err := Parse(strings.NewReader("\ufeff" + header +
		"# a comment line\n" +
		"xinjiang-1,baoguo,xinjiang,106,0,0,Precaution\n" +
		"\n" +
		"xinjiang-2, baoguo ,xinjiang,\"1,120\",2,3,封控区\n" +
		"xinjiang-3,,,56,,,\n"))
	if err != nil || len(bad) != 0 {
		t.Fatalf("Parse: %v %v", err, bad)
	}
	want := []Row{
		{Line: 3, Name: "xinjiang-1", Labels: map[string]string{sweepv1alpha1.LabelStreet: "baoguo", sweepv1alpha1.LabelCommunity: "xinjiang"},
			Spec: sweepv1alpha1.BuildingSpec{Street: "baoguo", Community: "xinjiang", Residents: 106, ControlLevel: sweepv1alpha1.ControlLevelPrecaution}},
		{Line: 5, Name: "xinjiang-2", Labels: map[string]string{sweepv1alpha1.LabelStreet: "baoguo", sweepv1alpha1.LabelCommunity: "xinjiang"},
			Spec: sweepv1alpha1.BuildingSpec{Street: "baoguo", Community: "xinjiang", Residents: 1120, Exempt: 2, HomeVisit: 3, ControlLevel: sweepv1alpha1.ControlLevelSealed}},
		{Line: 6, Name: "xinjiang-3", Labels: map[string]string{},
			Spec: sweepv1alpha1.BuildingSpec{Residents: 56, ControlLevel: sweepv1alpha1.ControlLevelPrecaution}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", rows, want)
	}
}

func TestParseBadRowsNameLineAndField(t *testing.T) {
	for _, tc := range []struct{ name, row, want string }{
		{"empty name", ",baoguo,x,10,0,0,", "line 2: building: is empty"},
		{"bad name", "Building 7,baoguo,x,10,0,0,", `line 2 (building Building 7): building: "Building 7" is not a valid name`},
		{"words for residents", "b1,baoguo,x,many,0,0,", `line 2 (building b1): residents: "many" is not a whole number`},
		{"no residents", "b1,baoguo,x,,0,0,", "line 2 (building b1): residents: is empty"},
		{"negative", "b1,baoguo,x,10,-1,0,", "line 2 (building b1): exempt: -1 is negative"},
		{"too many", "b1,baoguo,x,2000000,0,0,", "residents: 2000000 is more than 1000000"},
		{"exempt > residents", "b1,baoguo,x,10,11,0,", "exempt: 11 is more than residents (10)"},
		{"home visit > expected", "b1,baoguo,x,10,4,7,", "home_visit: 7 is more than residents minus exempt (6)"},
		{"level", "b1,baoguo,x,10,0,0,Locked", `control_level: "Locked" is not Precaution, Controlled or Sealed`},
		{"label", "b1,宝国,x,10,0,0,", `street: "宝国" cannot be a label value`},
		{"fields", "b1,baoguo,x,10", "line 2: has 4 fields, the header has 7"},
		{"quote", `b1,"baoguo,x,10,0,0,`, "line 2: extraneous or missing \" in quoted-field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, bad, err := Parse(strings.NewReader(header + tc.row + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 0 || len(bad) == 0 || !strings.Contains(bad[0].Error(), tc.want) {
				t.Errorf("rows %v, errors %v; want an error containing %q", rows, bad, tc.want)
			}
		})
	}
	// Good rows around a bad one are kept; the bad one is reported on its
	// own line, and a repeated building names its first line.
	rows, bad, err := Parse(strings.NewReader(header + "a,s,c,1,0,0,\nb,s,c,x,0,0,\na,s,c,2,0,0,\nd,s,c,4,0,0,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Name != "d" || rows[1].Line != 5 {
		t.Errorf("rows = %+v", rows)
	}
	if len(bad) != 2 || bad[0].Line != 3 || bad[1].Error() != "line 4 (building a): building: appears again (first on line 2)" {
		t.Errorf("bad = %v", bad)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "the ledger is empty"},
		{"building,resident\n", `unknown column "resident" (column 2)`},
		{"building,street\n", `the column "residents" is required`},
		{"building,residents,Residents\n", `column "residents" appears twice`},
	} {
		if _, _, err := Parse(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	// Header names are forgiving about case, spaces and dashes.
	if _, _, err := Parse(strings.NewReader("Building,Residents,Home Visit,control-level\n")); err != nil {
		t.Errorf("forgiving header: %v", err)
	}
}

// The demo ledger describes exactly the Buildings of the demo district's
// manifest, so `sweep import` of it and `kubectl apply` of the YAML agree.
func TestDemoLedgerMatchesTheDemoDistrict(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "config", "samples", "ledger_demo_district.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, bad, err := Parse(f)
	if err != nil || len(bad) > 0 {
		t.Fatalf("demo ledger: %v %v", err, bad)
	}
	y, err := os.Open(filepath.Join("..", "..", "config", "samples", "sweep_demo_district.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	dec := yaml.NewYAMLOrJSONDecoder(y, 4096)
	var want []sweepv1alpha1.Building
	for {
		var b sweepv1alpha1.Building
		if err := dec.Decode(&b); err != nil {
			break
		}
		if b.Name != "" {
			want = append(want, b)
		}
	}
	if len(rows) != len(want) || len(rows) != 64 {
		t.Fatalf("ledger has %d rows, manifest %d buildings, want 64", len(rows), len(want))
	}
	extra := map[string]string{"sweep.masstesting.io/district": "demo"}
	for i, r := range rows {
		got := Building(r, "", extra)
		if got.Name != want[i].Name || !reflect.DeepEqual(got.Labels, want[i].Labels) || got.Spec != want[i].Spec {
			t.Errorf("line %d: %s %v %+v\nmanifest: %s %v %+v", r.Line, got.Name, got.Labels, got.Spec, want[i].Name, want[i].Labels, want[i].Spec)
		}
	}
}

func TestSampleLedgersParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "config", "samples", "ledger_*.csv"))
	if len(files) < 3 {
		t.Fatalf("sample ledgers: %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rows, bad, err := Parse(strings.NewReader(string(data)))
		if err != nil || len(bad) > 0 || len(rows) == 0 {
			t.Errorf("%s: %d rows, %v, %v", f, len(rows), bad, err)
		}
	}
}

func TestPlan(t *testing.T) {
	rows, _, _ := Parse(strings.NewReader(header + "a,s,c,10,0,0,\nb,s,c,20,1,0,Sealed\nc,s,c,30,0,0,\n"))
	have := map[string]*sweepv1alpha1.Building{
		"b": Building(rows[1], "ns", nil),
		"c": Building(rows[2], "ns", nil),
	}
	have["b"].Spec.Residents = 18
	have["b"].Spec.ControlLevel = sweepv1alpha1.ControlLevelPrecaution
	have["b"].Labels[sweepv1alpha1.LabelCommunity] = "old"
	have["c"].Spec.ControlLevel = "" // stored before defaulting: same as Precaution
	got := Plan(rows, have, nil)
	if got[0].Action != "create" || got[2].Action != "unchanged" || got[1].Action != "update" {
		t.Fatalf("actions: %+v", got)
	}
	want := []string{"controlLevel Precaution -> Sealed", `label sweep.masstesting.io/community "old" -> "c"`, "residents 18 -> 20"}
	if !reflect.DeepEqual(got[1].Fields, want) {
		t.Errorf("fields = %q, want %q", got[1].Fields, want)
	}
}

// FuzzParse: whatever the file, Parse does not panic, every row it accepts
// is one the schema accepts, and every line is either a row or an error.
func FuzzParse(f *testing.F) {
	f.Add(header + "xinjiang-1,baoguo,xinjiang,106,0,0,Precaution\n")
	f.Add(header + "b,\"s\"\"\",c,1,2,3,Sealed\n")
	f.Add("building,residents\n,\n\"")
	f.Fuzz(func(t *testing.T, in string) {
		rows, _, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range rows {
			s := r.Spec
			if r.Name == "" || s.Residents < 0 || s.Exempt > s.Residents || s.HomeVisit > s.Residents-s.Exempt || s.ControlLevel == "" {
				t.Errorf("accepted a row the schema rejects: %+v", r)
			}
		}
	})
}
