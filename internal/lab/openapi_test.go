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
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestOpenAPIMatchesTheCode keeps docs/lab-api.openapi.yaml and
// docs/lab-api.md true to the decoder: the same fields, required ones,
// patterns and limits, and examples the sources take.
func TestOpenAPIMatchesTheCode(t *testing.T) {
	raw, err := os.ReadFile("../../docs/lab-api.openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	at := func(path string) any {
		var v any = doc
		for _, k := range strings.Split(path, "/") {
			k = strings.ReplaceAll(k, "~1", "/") // JSON pointer escaping
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: %q is not under an object", path, k)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%s: no %q", path, k)
			}
		}
		return v
	}
	schema := "components/schemas/TubeResult/"

	// The same fields as TubeResult's JSON names.
	var goFields []string
	rt := reflect.TypeFor[TubeResult]()
	for i := range rt.NumField() {
		goFields = append(goFields, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	var apiFields []string
	for k := range at(schema + "properties").(map[string]any) {
		apiFields = append(apiFields, k)
	}
	slices.Sort(goFields)
	slices.Sort(apiFields)
	if !slices.Equal(goFields, apiFields) {
		t.Errorf("TubeResult properties %q, the Go type has %q", apiFields, goFields)
	}

	// Required fields are the ones whose absence the decoder refuses.
	var required []string
	for _, f := range at(schema + "required").([]any) {
		required = append(required, f.(string))
	}
	good := map[string]any{"tube": "P-1", "building": "b-1", "kind": "pooled", "positive": false,
		"resultTime": "2026-11-26T18:05:00Z", "swabTime": "2026-11-26T13:40:00Z", "swabs": 3}
	for _, f := range goFields {
		item := map[string]any{}
		for k, v := range good {
			if k != f {
				item[k] = v
			}
		}
		body, _ := json.Marshal(map[string]any{"results": []any{item}})
		_, err := DecodePage(body, "", MaxPage)
		refused := err != nil && strings.Contains(err.Error(), `field "`+f+`": is missing`)
		if refused != slices.Contains(required, f) {
			t.Errorf("field %s: required in the OpenAPI file: %t; refused when missing: %t (%v)", f, slices.Contains(required, f), refused, err)
		}
	}

	for path, want := range map[string]any{
		schema + "properties/tube/pattern":                          tubeID.String(),
		schema + "properties/tube/maxLength":                        float64(maxTubeID),
		schema + "properties/pool/pattern":                          tubeID.String(),
		schema + "properties/pool/maxLength":                        float64(maxTubeID),
		"components/schemas/HouseholdID/pattern":                    householdID.String(),
		"components/schemas/HouseholdID/maxLength":                  float64(maxHouseholdID),
		schema + "properties/swabs/maximum":                         float64(MaxSwabs),
		schema + "properties/households/maxItems":                   float64(MaxSwabs),
		schema + "properties/kind/enum":                             []any{string(Pooled), string(Single)},
		"components/schemas/ResultPage/properties/results/maxItems": float64(MaxPage),
		"components/schemas/ResultPage/required":                    []any{"results"},
		"components/schemas/Cursor/maxLength":                       float64(maxCursor),
	} {
		if got := at(path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s is %v, the code has %v", path, got, want)
		}
	}
	cursor := regexp.MustCompile(at("components/schemas/Cursor/pattern").(string))
	for _, c := range []string{"", "c-1", "r-00000312", "a/b+c==", "a b", "张", "x?y", "a&b"} {
		if cursor.MatchString(c) != validCursor(c) {
			t.Errorf("cursor %q: OpenAPI pattern says %t, the code %t", c, cursor.MatchString(c), validCursor(c))
		}
	}
	building := regexp.MustCompile(at(schema + "properties/building/pattern").(string))
	for _, b := range []string{"b-1", "xinjiang-7", "a.b", "B-1", "-b", "b_1", ""} {
		if building.MatchString(b) != isBuildingName(b) {
			t.Errorf("building %q: OpenAPI pattern says %t, the code %t", b, building.MatchString(b), isBuildingName(b))
		}
	}
	var params []string
	for _, p := range at("paths/~1v1~1rounds~1{round}~1results/get/parameters").([]any) {
		params = append(params, p.(map[string]any)["name"].(string))
	}
	if want := []string{"round", "namespace", "after", "limit"}; !slices.Equal(params, want) {
		t.Errorf("parameters %q, want %q", params, want)
	}

	// The 200 example is a page the source takes.
	example := at("paths/~1v1~1rounds~1{round}~1results/get/responses/200/content/application~1json/example")
	body, _ := json.Marshal(example)
	page, err := DecodePage(body, "", MaxPage)
	if err != nil || len(page.Results) != 3 {
		t.Errorf("the OpenAPI example gives %d results, %v", len(page.Results), err)
	}
	checkResults(t, page.Results)
}

// TestLabAPIDocExamples: the examples in docs/lab-api.md are taken by the
// sources, and it lists every CSV column.
func TestLabAPIDocExamples(t *testing.T) {
	raw, err := os.ReadFile("../../docs/lab-api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	block := func(lang string) string {
		start := strings.Index(doc, "```"+lang+"\n")
		if start < 0 {
			t.Fatalf("no %s example", lang)
		}
		rest := doc[start+len(lang)+4:]
		example, _, found := strings.Cut(rest, "```")
		if !found {
			t.Fatalf("the %s example does not end", lang)
		}
		return example
	}
	page, err := DecodePage([]byte(block("json")), "", MaxPage)
	if err != nil || len(page.Results) != 3 || page.Next != "r-00000312" {
		t.Errorf("the JSON example: %+v, %v", page, err)
	}
	results, err := ParseCSV([]byte(block("csv")), "results.csv")
	if err != nil || len(results) != 3 {
		t.Errorf("the CSV example: %+v, %v", results, err)
	}
	for i := range results {
		if !reflect.DeepEqual(results[i].Households, page.Results[i].Households) || results[i].Tube != page.Results[i].Tube {
			t.Errorf("the CSV example's line %d is not the JSON example's result %d", i+2, i+1)
		}
	}
	for _, col := range csvColumns {
		if !strings.Contains(doc, "| `"+col+"` |") {
			t.Errorf("docs/lab-api.md does not describe the column %s", col)
		}
	}
}
