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
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/masstesting/sweep/internal/untrusted"
)

// CSVSource reads a lab's exported result list, stored in a ConfigMap key
// (the round's spec.lab.csv). The controller reads the ConfigMap and hands
// over its bytes; the export is replaced, not appended to, and holds every
// result of the round so far. Its cursor is the number of results already
// returned; pages hold at most MaxPage results.
type CSVSource struct {
	// Data is the export, at most 1 MiB (what a ConfigMap holds).
	Data []byte
	// Name names the export in error messages, such as "results.csv".
	Name string
}

// Results returns the export's results after the first cursor ones. A
// cursor beyond the end (the export was replaced by a shorter one) starts
// again from the first result: Tally counts a tube once, so reading again
// changes nothing.
func (s CSVSource) Results(ctx context.Context, q Query, cursor string) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return Page{}, fmt.Errorf("lab cursor for round %s is not a count of %s rows: was the round's lab source changed?", q.Round, s.Name)
		}
		start = n
	}
	results, err := ParseCSV(s.Data, s.Name)
	if err != nil {
		return Page{}, err
	}
	if start > len(results) {
		start = 0
	}
	end := min(start+MaxPage, len(results))
	return Page{Results: results[start:end], Next: strconv.Itoa(end), More: end < len(results)}, nil
}

// The export's columns, by their names in the header.
const (
	colTube       = "tube"
	colBuilding   = "building"
	colKind       = "kind"
	colPositive   = "positive"
	colSwabTime   = "swab_time"
	colResultTime = "result_time"
	colSwabs      = "swabs"
	colHouseholds = "households"
	colPool       = "pool"
	colHousehold  = "household"
)

var (
	// csvColumns are the columns the export may have, in the order the
	// documentation lists them; the header may list them in any order.
	csvColumns = []string{colTube, colBuilding, colKind, colPositive, colSwabTime, colResultTime,
		colSwabs, colHouseholds, colPool, colHousehold}
	// csvRequired are the columns every export must have.
	csvRequired = []string{colTube, colBuilding, colKind, colPositive, colResultTime}
	// columnName is what a header cell that names a column looks like; a
	// cell that does not is not repeated (the first line may be data).
	columnName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
)

// csvColumn is the column for a field Check names.
func csvColumn(field string) string {
	switch field {
	case "swabTime":
		return colSwabTime
	case "resultTime":
		return colResultTime
	}
	return field
}

const (
	// csvMaxBytes is the most a ConfigMap holds.
	csvMaxBytes = 1 << 20
)

// ParseCSV reads an exported result list; name names it in errors.
//
// Line 1 is the header: the column names, in any order, each once. tube,
// building, kind, positive and result_time are required; swab_time, swabs,
// households (unit-room ids separated by spaces), pool and household are
// optional. A column Sweep does not know is refused: an export must not
// carry residents' names or phone numbers, and a refused column cannot
// reach Sweep. Every other line is one result, checked like an API result
// (Check). Spaces around values, blank lines, quotes and a UTF-8 byte
// order mark are fine.
//
// Every bad line is reported, up to 20, with its line number and the
// column at fault; a value that is not valid is never repeated. A tube
// listed twice is not an error: Tally counts it once.
func ParseCSV(data []byte, name string) ([]TubeResult, error) {
	if len(data) > csvMaxBytes {
		return nil, fmt.Errorf("%s is larger than 1 MiB, the most a ConfigMap holds", name)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1 // a short or long row is reported with its line below

	var (
		results []TubeResult
		columns []string // the header, in file order
	)
	problems := untrusted.NewLineProblems(name)
	report := problems.Add

	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			// The reader resumes on the next line, so later lines still
			// get checked. Its message quotes no field.
			report(perr.Line, fmt.Sprintf(": cannot read CSV: %v", perr.Err))
			if columns == nil {
				return nil, problems.Err()
			}
			continue
		} else if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}

		if columns == nil {
			if msg := checkCSVHeader(rec); msg != "" {
				// Without the right header the columns cannot be trusted.
				report(line, msg)
				return nil, problems.Err()
			}
			columns = rec
			continue
		}

		if len(rec) != len(columns) {
			col := "column " + strconv.Itoa(len(columns)+1) + ": unexpected"
			if len(rec) < len(columns) {
				col = "column " + columns[len(rec)] + ": missing"
			}
			report(line, fmt.Sprintf(", %s (the row has %d columns, the header %d)", col, len(rec), len(columns)))
			continue
		}
		res, col, msg := csvResult(columns, rec)
		if msg == "" {
			if p := Check(res); p != nil {
				col = csvColumn(p.Field)
				msg = p.Msg
				if p.Item > 0 {
					msg = fmt.Sprintf("item %d %s", p.Item, p.Msg)
				}
			}
		}
		if msg != "" {
			report(line, fmt.Sprintf(", column %s: %s", col, msg))
			continue
		}
		results = append(results, res)
	}

	if columns == nil && problems.Empty() {
		report(1, fmt.Sprintf(": the file is empty, want a header naming the columns (%s)", strings.Join(csvColumns, ",")))
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

// csvResult reads one row by type; Check does the rest. It returns the
// column at fault and a message, or "".
func csvResult(columns, rec []string) (TubeResult, string, string) {
	var r TubeResult
	for i, col := range columns {
		v := rec[i]
		switch col {
		case colTube:
			r.Tube = v
		case colBuilding:
			r.Building = v
		case colKind:
			r.Kind = Kind(v)
		case colPool:
			r.Pool = v
		case colHousehold:
			r.Household = v
		case colHouseholds:
			if v == "" {
				continue
			}
			r.Households = strings.Fields(v)
			if len(r.Households) > MaxSwabs {
				return r, col, fmt.Sprintf("has %d unit-room ids, at most %d (one per swab)", len(r.Households), MaxSwabs)
			}
		case colPositive:
			switch strings.ToLower(v) {
			case "true":
				r.Positive = true
			case "false":
			case "":
				return r, col, "missing"
			default:
				return r, col, "not true or false"
			}
		case colSwabs:
			if v == "" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 || n > MaxSwabs {
				return r, col, fmt.Sprintf("not a whole number from 0 to %d", MaxSwabs)
			}
			r.Swabs = int32(n)
		case colSwabTime, colResultTime:
			if v == "" {
				if col == colResultTime {
					return r, col, "missing"
				}
				continue
			}
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return r, col, `not an RFC 3339 time such as "2026-11-26T21:40:00+08:00"`
			}
			if col == colSwabTime {
				r.SwabTime = &t
			} else {
				r.ResultTime = t
			}
		}
	}
	return r, "", ""
}

// checkCSVHeader returns a message for report if rec is not a header of
// known, distinct columns with the required ones among them, or "".
func checkCSVHeader(rec []string) string {
	want := fmt.Sprintf("(the columns are %s; %s are required)", strings.Join(csvColumns, ","), strings.Join(csvRequired, ","))
	for i, cell := range rec {
		if !slices.Contains(csvColumns, cell) {
			if !columnName.MatchString(cell) {
				return fmt.Sprintf(", column %d: header is not a column name %s", i+1, want)
			}
			return fmt.Sprintf(", column %d: header %q is not a column of the lab export %s", i+1, cell, want)
		}
		if j := slices.Index(rec[:i], cell); j >= 0 {
			return fmt.Sprintf(", column %d: header %q repeats column %d", i+1, cell, j+1)
		}
	}
	for _, col := range csvRequired {
		if !slices.Contains(rec, col) {
			return fmt.Sprintf(": header has no column %q %s", col, want)
		}
	}
	return ""
}
