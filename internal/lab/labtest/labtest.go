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

// Package labtest builds lab answers for tests: API pages and CSV exports
// of given results, optionally carrying canary resident data (a name, an
// ID number, a phone number) that nothing Sweep writes may repeat.
package labtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/masstesting/sweep/internal/lab"
)

// The canary resident: what a lab may wrongly send along with its results.
const (
	CanaryName     = "张三CANARY"
	CanaryIDNumber = "230102199001011234"
	CanaryPhone    = "13800138000"
)

// Canaries are the canary resident's data. Search everything the operator
// wrote (objects, events, logs, metrics) for each.
var Canaries = []string{CanaryName, CanaryIDNumber, CanaryPhone}

// Find returns the first canary in text, or "".
func Find(text string) string {
	for _, c := range Canaries {
		if strings.Contains(text, c) {
			return c
		}
	}
	return ""
}

// canaryFields are extra JSON fields carrying the canaries, as a lab that
// exports its whole record would send them.
var canaryFields = map[string]any{
	"name": CanaryName, "idNumber": CanaryIDNumber, "phone": CanaryPhone,
	"resident": map[string]any{"name": CanaryName, "idNumber": CanaryIDNumber, "phone": CanaryPhone},
}

// PageJSON is a lab API page (docs/lab-api.md) of results. With canaries,
// the page and every result carry extra fields holding the canaries, which
// the source must drop.
func PageJSON(results []lab.TubeResult, next string, more, canaries bool) []byte {
	items := make([]map[string]any, 0, len(results))
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			panic(err)
		}
		if canaries {
			for k, v := range canaryFields {
				m[k] = v
			}
		}
		items = append(items, m)
	}
	page := map[string]any{"results": items, "more": more}
	if next != "" {
		page["next"] = next
	}
	if canaries {
		page["patients"] = []any{canaryFields}
	}
	b, err := json.Marshal(page)
	if err != nil {
		panic(err)
	}
	return b
}

// CSV is a lab export (docs/lab-api.md, "CSV export") of results, every
// column present. With canaries it has extra columns name, id_number and
// phone holding them: ParseCSV refuses such a file, without repeating
// them.
func CSV(results []lab.TubeResult, canaries bool) []byte {
	var b bytes.Buffer
	b.WriteString("tube,building,kind,positive,swab_time,result_time,swabs,households,pool,household")
	if canaries {
		b.WriteString(",name,id_number,phone")
	}
	b.WriteString("\n")
	for _, r := range results {
		swab := ""
		if r.SwabTime != nil {
			swab = r.SwabTime.Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s,%s,%s,%t,%s,%s,%s,%s,%s,%s", r.Tube, r.Building, r.Kind, r.Positive, swab,
			r.ResultTime.Format(time.RFC3339), strconv.Itoa(int(r.Swabs)), strings.Join(r.Households, " "), r.Pool, r.Household)
		if canaries {
			fmt.Fprintf(&b, ",%s,%s,%s", CanaryName, CanaryIDNumber, CanaryPhone)
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}
