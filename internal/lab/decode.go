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
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/masstesting/sweep/internal/untrusted"
)

// DecodePage reads a 200 answer of the lab API (docs/lab-api.md) field by
// field, so that an error names the field at fault, and checks every
// result with Check. cursor is the one asked with and limit the limit
// asked for. Unknown fields are ignored, so the lab can add some, and
// dropped: nothing of them reaches a result or an error. No error repeats
// a value from the body, because it may be a resident's data.
func DecodePage(body []byte, cursor string, limit int) (Page, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return Page{}, fmt.Errorf("not a JSON object (%s, %d bytes)", untrusted.DescribeBody(body), len(body))
	}
	page := Page{Next: cursor}

	raw, ok := fields["results"]
	if !ok || untrusted.IsNull(raw) {
		return Page{}, fmt.Errorf(`field "results": is missing (send [] when there are no new results)`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return Page{}, fmt.Errorf(`field "results": is %s, want a list of results`, untrusted.JSONKind(raw))
	}
	if len(items) > limit {
		return Page{}, fmt.Errorf(`field "results": has %d results, more than the limit %d asked for`, len(items), limit)
	}
	for i, item := range items {
		r, p := decodeResult(item)
		if p == nil {
			p = Check(r)
		}
		if p != nil {
			where := ""
			if IsTubeID(r.Tube) {
				where = " (tube " + r.Tube + ")"
			}
			sep := ", "
			if p.Field == "" {
				sep = " "
			}
			return Page{}, fmt.Errorf(`field "results": item %d%s%s%s`, i+1, where, sep, p)
		}
		page.Results = append(page.Results, r)
	}

	if raw, ok := fields["more"]; ok && !untrusted.IsNull(raw) {
		if err := json.Unmarshal(raw, &page.More); err != nil {
			return Page{}, fmt.Errorf(`field "more": is %s, want a boolean`, untrusted.JSONKind(raw))
		}
	}
	if raw, ok := fields["next"]; ok && !untrusted.IsNull(raw) {
		var next string
		if err := json.Unmarshal(raw, &next); err != nil {
			return Page{}, fmt.Errorf(`field "next": is %s, want a string`, untrusted.JSONKind(raw))
		}
		if !validCursor(next) {
			return Page{}, fmt.Errorf(`field "next": is not a cursor (at most %d letters, digits and . _ ~ : + / = -)`, maxCursor)
		}
		if next != "" {
			page.Next = next
		}
	}
	// A page that says "more" but would be asked for again unchanged
	// would have the operator ask forever.
	switch {
	case page.More && len(page.Results) == 0:
		return Page{}, fmt.Errorf(`field "more": is true for a page without results`)
	case page.More && page.Next == cursor:
		return Page{}, fmt.Errorf(`field "next": is missing or the cursor asked with, while "more" is true`)
	}
	return page, nil
}

// decodeResult reads one result's fields by type; Check does the rest.
func decodeResult(raw json.RawMessage) (TubeResult, *FieldProblem) {
	var r TubeResult
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return r, &FieldProblem{Msg: "is " + untrusted.JSONKind(raw) + ", want an object"}
	}
	bad := func(field, format string, args ...any) *FieldProblem {
		return &FieldProblem{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	get := func(name string, required bool) (json.RawMessage, *FieldProblem) {
		v, ok := fields[name]
		if !ok || untrusted.IsNull(v) {
			if required {
				return nil, bad(name, "is missing")
			}
			return nil, nil
		}
		return v, nil
	}
	text := func(name string, required bool, dst *string) *FieldProblem {
		v, p := get(name, required)
		if p != nil || v == nil {
			return p
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return bad(name, "is %s, want a string", untrusted.JSONKind(v))
		}
		return nil
	}
	when := func(name string, required bool) (*time.Time, *FieldProblem) {
		var s string
		if p := text(name, required, &s); p != nil || s == "" {
			return nil, p
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, bad(name, `is not an RFC 3339 time such as "2026-11-26T21:40:00+08:00"`)
		}
		return &t, nil
	}

	var kind string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"tube", &r.Tube}, {"building", &r.Building}, {"kind", &kind}} {
		if p := text(f.name, true, f.dst); p != nil {
			return r, p
		}
	}
	r.Kind = Kind(kind)
	v, p := get("positive", true)
	if p != nil {
		return r, p
	}
	if err := json.Unmarshal(v, &r.Positive); err != nil {
		return r, bad("positive", "is %s, want a boolean", untrusted.JSONKind(v))
	}
	if r.SwabTime, p = when("swabTime", false); p != nil {
		return r, p
	}
	result, p := when("resultTime", true)
	if p != nil {
		return r, p
	}
	r.ResultTime = *result
	if v, p = get("swabs", false); p != nil {
		return r, p
	}
	if v != nil {
		if kind := untrusted.JSONKind(v); kind != "a number" {
			return r, bad("swabs", "is %s, want a whole number", kind)
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 32)
		if err != nil || n < 0 || n > MaxSwabs {
			return r, bad("swabs", "is not a whole number from 0 to %d", MaxSwabs)
		}
		r.Swabs = int32(n)
	}
	if v, p = get("households", false); p != nil {
		return r, p
	}
	if v != nil {
		var hs []json.RawMessage
		if err := json.Unmarshal(v, &hs); err != nil {
			return r, bad("households", "is %s, want a list of unit-room ids", untrusted.JSONKind(v))
		}
		if len(hs) > MaxSwabs {
			return r, bad("households", "has %d items, at most %d (one per swab)", len(hs), MaxSwabs)
		}
		for i, h := range hs {
			var id string
			if err := json.Unmarshal(h, &id); err != nil {
				return r, &FieldProblem{Field: "households", Item: i + 1, Msg: "is " + untrusted.JSONKind(h) + ", want a string"}
			}
			r.Households = append(r.Households, id)
		}
	}
	if p := text("pool", false, &r.Pool); p != nil {
		return r, p
	}
	if p := text("household", false, &r.Household); p != nil {
		return r, p
	}
	return r, nil
}
