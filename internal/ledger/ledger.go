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

// Package ledger reads a district's building ledger (台账) from CSV into
// Buildings, and says what applying them would change. It is pure: no API
// access, so `sweep import` can check a whole file before it writes
// anything, and the parser can be fuzzed.
//
// The file has a header row naming its columns, in any order:
//
//	building        required: the Building's name (lower case, digits, '-', '.')
//	residents       required: registered residents
//	street          label value of sweep.masstesting.io/street, e.g. baoguo
//	community       label value of sweep.masstesting.io/community, e.g. xinjiang
//	street_name     the street as people write it (default: street)
//	community_name  the community as people write it (default: community)
//	address, households, exempt, home_visit, control_level, units, floors
//
// control_level is Precaution (default), Controlled or Sealed, in any case,
// or 防范区, 管控区, 封控区. Lines starting with '#' and blank lines are
// skipped; a UTF-8 byte order mark (spreadsheet exports) is ignored.
package ledger

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Row is one usable line of the ledger: the Building it describes.
type Row struct {
	// Line is the line of the file the row starts on, from 1 (the header).
	Line int
	// Name is the Building's name.
	Name string
	// Labels are the street and community labels (when given).
	Labels map[string]string
	// Spec is the building's counts.
	Spec sweepv1alpha1.BuildingSpec
}

// RowError is a line that cannot be used, and why.
type RowError struct {
	Line     int
	Building string
	// Field is the column at fault, or empty when the whole line is.
	Field  string
	Reason string
}

func (e RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", e.Line)
	if e.Building != "" {
		fmt.Fprintf(&b, " (building %s)", e.Building)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Columns are the columns a ledger may have.
var Columns = []string{"building", "street", "community", "street_name", "community_name", "address",
	"households", "residents", "exempt", "home_visit", "control_level", "units", "floors"}

// Limits the schema enforces, checked here first so that a bad row is
// reported with its line before anything is sent.
var limits = map[string]int64{"households": 100000, "residents": 1000000, "exempt": 1000000, "home_visit": 1000000, "units": 1000, "floors": 300}

// MaxRows bounds a ledger: a district has thousands of buildings, not
// millions, and the whole file is held in memory.
const MaxRows = 200000

// Parse reads a ledger. It returns the usable rows and the unusable ones,
// each with its line; err is set only when the file as a whole cannot be
// read (no header, an unknown column, too many rows, a read error).
func Parse(r io.Reader) ([]Row, []RowError, error) {
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked per row, to report the line
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false

	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("the ledger is empty: it needs a header row naming its columns, e.g. building,street,community,residents")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the header: %w", err)
	}
	col := map[string]int{}
	known := map[string]bool{}
	for _, c := range Columns {
		known[c] = true
	}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		name = strings.ReplaceAll(strings.ReplaceAll(name, "-", "_"), " ", "_")
		if !known[name] {
			return nil, nil, fmt.Errorf("header: unknown column %q (column %d); the columns are %s", h, i+1, strings.Join(Columns, ", "))
		}
		if _, dup := col[name]; dup {
			return nil, nil, fmt.Errorf("header: column %q appears twice", name)
		}
		col[name] = i
	}
	for _, req := range []string{"building", "residents"} {
		if _, ok := col[req]; !ok {
			return nil, nil, fmt.Errorf("header: the column %q is required", req)
		}
	}

	var rows []Row
	var bad []RowError
	firstLine := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad = append(bad, RowError{Line: pe.StartLine, Reason: pe.Err.Error()})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rows)+len(bad) >= MaxRows {
			return nil, nil, fmt.Errorf("line %d: more than %d rows; split the ledger", line, MaxRows)
		}
		if len(rec) != len(header) {
			bad = append(bad, RowError{Line: line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(header))})
			continue
		}
		row, errs := parseRow(line, rec, col)
		if len(errs) == 0 {
			if first, dup := firstLine[row.Name]; dup {
				errs = append(errs, RowError{Line: line, Building: row.Name, Field: "building", Reason: fmt.Sprintf("appears again (first on line %d)", first)})
			} else {
				firstLine[row.Name] = line
			}
		}
		if len(errs) > 0 {
			bad = append(bad, errs...)
			continue
		}
		rows = append(rows, row)
	}
	return rows, bad, nil
}

func parseRow(line int, rec []string, col map[string]int) (Row, []RowError) {
	get := func(c string) string {
		if i, ok := col[c]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	row := Row{Line: line, Name: get("building"), Labels: map[string]string{}}
	var errs []RowError
	fail := func(field, format string, args ...any) {
		errs = append(errs, RowError{Line: line, Building: row.Name, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch row.Name {
	case "":
		fail("building", "is empty")
	default:
		for _, msg := range validation.IsDNS1123Subdomain(row.Name) {
			fail("building", "%q is not a valid name: %s", row.Name, msg)
		}
	}
	num := func(c string, required bool) int32 {
		v := get(c)
		if v == "" {
			if required {
				fail(c, "is empty")
			}
			return 0
		}
		n, err := strconv.ParseInt(strings.ReplaceAll(v, ",", ""), 10, 64)
		switch {
		case err != nil:
			fail(c, "%q is not a whole number", v)
		case n < 0:
			fail(c, "%d is negative", n)
		case n > limits[c]:
			fail(c, "%d is more than %d", n, limits[c])
		default:
			return int32(n)
		}
		return 0
	}
	s := &row.Spec
	s.Residents = num("residents", true)
	s.Households = num("households", false)
	s.Exempt = num("exempt", false)
	s.HomeVisit = num("home_visit", false)
	s.Units = num("units", false)
	s.Floors = num("floors", false)
	if len(errs) == 0 {
		if s.Exempt > s.Residents {
			fail("exempt", "%d is more than residents (%d)", s.Exempt, s.Residents)
		} else if s.HomeVisit > s.Residents-s.Exempt {
			fail("home_visit", "%d is more than residents minus exempt (%d)", s.HomeVisit, s.Residents-s.Exempt)
		}
	}
	level, ok := parseLevel(get("control_level"))
	if !ok {
		fail("control_level", "%q is not Precaution, Controlled or Sealed", get("control_level"))
	}
	s.ControlLevel = level

	for _, l := range []struct{ col, label, nameCol string }{
		{"street", sweepv1alpha1.LabelStreet, "street_name"},
		{"community", sweepv1alpha1.LabelCommunity, "community_name"},
	} {
		id, display := get(l.col), get(l.nameCol)
		if id != "" {
			for _, msg := range validation.IsValidLabelValue(id) {
				fail(l.col, "%q cannot be a label value (put the name people write in %s): %s", id, l.nameCol, msg)
			}
			row.Labels[l.label] = id
		}
		if display == "" {
			display = id
		}
		// The schema counts characters, not bytes: 瑞明社区 is four.
		if n := utf8.RuneCountInString(display); n > 63 {
			fail(l.nameCol, "is %d characters long, at most 63", n)
		}
		if l.col == "street" {
			s.Street = display
		} else {
			s.Community = display
		}
	}
	if s.Address = get("address"); utf8.RuneCountInString(s.Address) > 256 {
		fail("address", "is %d characters long, at most 256", utf8.RuneCountInString(s.Address))
	}
	return row, errs
}

func parseLevel(v string) (sweepv1alpha1.ControlLevel, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "precaution", "防范", "防范区":
		// Precaution is the schema's default; set it here so that comparing
		// with a stored Building does not report a change.
		return sweepv1alpha1.ControlLevelPrecaution, true
	case "controlled", "管控", "管控区":
		return sweepv1alpha1.ControlLevelControlled, true
	case "sealed", "封控", "封控区":
		return sweepv1alpha1.ControlLevelSealed, true
	}
	return "", false
}

// Change is what applying a row does to the Building of the same name.
type Change struct {
	Row Row
	// Action is "create", "update" or "unchanged".
	Action string
	// Fields are the changes of an update, e.g. "residents 120 -> 118",
	// sorted by field name.
	Fields []string
}

// Plan compares rows with the Buildings that exist (by name) and says what
// applying each row changes. Labels are compared for the keys the row (or
// extra) sets; other labels are left alone by the apply.
func Plan(rows []Row, existing map[string]*sweepv1alpha1.Building, extra map[string]string) []Change {
	out := make([]Change, 0, len(rows))
	for _, r := range rows {
		b, ok := existing[r.Name]
		if !ok {
			out = append(out, Change{Row: r, Action: "create"})
			continue
		}
		var f []string
		diff := func(name string, old, new any) {
			if old != new {
				f = append(f, fmt.Sprintf("%s %v -> %v", name, show(old), show(new)))
			}
		}
		o, n := b.Spec, r.Spec
		if o.ControlLevel == "" {
			o.ControlLevel = sweepv1alpha1.ControlLevelPrecaution
		}
		diff("address", o.Address, n.Address)
		diff("street", o.Street, n.Street)
		diff("community", o.Community, n.Community)
		diff("households", o.Households, n.Households)
		diff("residents", o.Residents, n.Residents)
		diff("exempt", o.Exempt, n.Exempt)
		diff("homeVisit", o.HomeVisit, n.HomeVisit)
		diff("controlLevel", o.ControlLevel, n.ControlLevel)
		diff("units", o.Units, n.Units)
		diff("floors", o.Floors, n.Floors)
		for k, v := range Labels(r, extra) {
			diff("label "+k, b.Labels[k], v)
		}
		sort.Strings(f)
		action := "unchanged"
		if len(f) > 0 {
			action = "update"
		}
		out = append(out, Change{Row: r, Action: action, Fields: f})
	}
	return out
}

func show(v any) any {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if l, ok := v.(sweepv1alpha1.ControlLevel); ok {
		return string(l)
	}
	return v
}

// Labels are the labels a row's Building gets: extra (from the command
// line, e.g. the district), then the row's street and community.
func Labels(r Row, extra map[string]string) map[string]string {
	out := make(map[string]string, len(extra)+len(r.Labels))
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range r.Labels {
		out[k] = v
	}
	return out
}

// Building is the Building a row describes, in namespace ns.
func Building(r Row, ns string, extra map[string]string) *sweepv1alpha1.Building {
	b := &sweepv1alpha1.Building{Spec: r.Spec}
	b.SetGroupVersionKind(sweepv1alpha1.GroupVersion.WithKind("Building"))
	b.Name, b.Namespace, b.Labels = r.Name, ns, Labels(r, extra)
	return b
}
