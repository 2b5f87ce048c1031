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
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// TestOpenAPIMissedReasons keeps docs/collector-api.openapi.yaml's missed
// reasons true to the code: the same list of reasons, the
// required fields of an item are the ones whose absence parseSamples
// refuses, and the 200 answer's example parses with its reasons.
func TestOpenAPIMissedReasons(t *testing.T) {
	raw, err := os.ReadFile("../../docs/collector-api.openapi.yaml")
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

	var reasons []any
	for _, r := range sweepv1alpha1.MissedReasons {
		reasons = append(reasons, string(r))
	}
	if got := at("components/schemas/MissedReason/enum"); !reflect.DeepEqual(got, reasons) {
		t.Errorf("MissedReason enum %v, the code has %v", got, reasons)
	}
	if got := at("components/schemas/HouseholdMissed/properties/household/pattern"); got != householdPattern.String() {
		t.Errorf("household pattern %v, the code has %v", got, householdPattern)
	}

	item := "components/schemas/HouseholdMissed/"
	var required []string
	for _, f := range at(item + "required").([]any) {
		required = append(required, f.(string))
	}
	var fields []string
	for k := range at(item + "properties").(map[string]any) {
		fields = append(fields, k)
	}
	good := map[string]any{"household": "2-1203", "residents": 2, "reason": "not-home"}
	for _, f := range fields {
		obj := map[string]any{}
		for k, v := range good {
			if k != f {
				obj[k] = v
			}
		}
		body, _ := json.Marshal(map[string]any{"sampled": 1, "homeVisited": 0, "missedReasons": []any{obj}})
		_, err := parseSamples(body, Assignment{Building: "b-1", Visit: 1})
		refused := err != nil && strings.Contains(err.Error(), `"`+f+`" is missing`)
		if refused != slices.Contains(required, f) {
			t.Errorf("field %s: required in the OpenAPI file: %t; refused when missing: %t (%v)", f, slices.Contains(required, f), refused, err)
		}
	}

	example, err := json.Marshal(at("paths/~1v1~1rounds~1{round}~1buildings~1{building}~1samples/get/responses/200/content/application~1json/example"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := parseSamples(example, Assignment{Round: "baoguo-2026-11-26", Building: "xinjiang-7", Visit: 2})
	if err != nil {
		t.Fatalf("the example answer: %v", err)
	}
	if len(out.Missed) == 0 {
		t.Errorf("the example answer gives no missed reasons: %+v", out)
	}
	for _, m := range out.Missed {
		if !m.Reason.Valid() {
			t.Errorf("the example's reason %q", m.Reason)
		}
	}
}
