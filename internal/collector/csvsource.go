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
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/untrusted"
)

// CSVSource reads a CSV export of the sample-registration system, mounted
// from a ConfigMap key as the file a.CSVFile. The export is cumulative for
// the round: it is replaced, not appended to, between visits.
//
// Format (see also docs/collector-api.md):
//
//	building,household,residents,sampled,home_visited
//	xinjiang-7,1-0101,3,3,3
//	xinjiang-7,2-1203,4,2,1
//
// Line 1 is exactly that header, columns in that order. Every other line is
// one household:
//
//   - building: the Building's name, as in Sweep;
//   - household: unit-room id such as 2-1203: letters and digits in groups
//     joined by single dashes, at most 32 characters, once per building;
//   - residents: residents registered in the household, 0 or more;
//   - sampled: residents sampled so far this round, 0 to residents;
//   - home_visited: of those, the ones sampled at home, 0 to sampled.
//
// Spaces around values are ignored, as are blank lines and a leading UTF-8
// byte order mark (spreadsheet exports add one). Values may be quoted.
//
// A visit reads only its own building's rows: rows of other buildings are
// skipped unchecked, so one bad row stops only the building it belongs to.
// Lines the CSV reader cannot split (a stray quote) are reported by every
// building, because nobody can tell whose they are.
//
// Retests: the header may end with a sixth column, retest, holding the
// lab's id of a positive pooled tube on the rows of its single-tube retest
// (one row per household of the tube: its residents to retest, those swabbed
// one by one since the pooled result, and of those at home). Rows with the
// column empty are the sweep's, exactly as in a five-column export. A sweep
// visit reads only its building's sweep rows; the retest of tube T reads
// only its building's rows marked T, and only those of T's households
// (Assignment.RetestHouseholds): a row of another household counts neither
// as sampled nor as missed, because the team knocks only the tube's doors.
// A household may appear once per building and tube.
//
// Mop-ups: a mop-up visit (a.MopUpOf) reads its building's sweep rows of
// the export its round names, like a sweep, and counts only the households
// the earlier round missed (Assignment.KnockList; every household when
// that round listed none): the rows are the mop-up round's own totals, as
// every round's are (docs/collector-api.md, "Mop-up rounds").
//
// Reasons: the header may also add a column reason (before or after
// retest), why the household's residents not sampled were missed, one of
// not-home, refused, away, in-hospital, moved-out, vacant, unreachable or
// unknown; empty means none given (unknown). It is used on rows with
// sampled below residents; ReportFor fits the counts to the roster.
type CSVSource struct{}

// csvHeader is the header the export must start with.
var csvHeader = []string{"building", "household", "residents", "sampled", "home_visited"}

// The optional columns an export may add after csvHeader, in either order,
// each at most once.
const (
	// csvRetestColumn holds a positive pooled tube's id on its retest's
	// rows.
	csvRetestColumn = "retest"
	// csvReasonColumn holds why a household's residents were not sampled,
	// one of sweepv1alpha1.MissedReasons, or nothing.
	csvReasonColumn = "reason"
)

const (
	// householdMaxLen and householdPattern match what a CollectionJob
	// status accepts for missedHouseholds.
	householdMaxLen = 32
)

var householdPattern = regexp.MustCompile(`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`)

// isHouseholdID says whether s is a unit-room id the status accepts.
func isHouseholdID(s string) bool {
	return len(s) <= householdMaxLen && householdPattern.MatchString(s)
}

// Visit reads the export and adds up a.Building's households. progress is
// not called: reading a file has nothing interim to say.
func (CSVSource) Visit(ctx context.Context, a Assignment, _ func(Outcome)) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	name := filepath.Base(a.CSVFile)
	// A ConfigMap holds at most 1 MiB, so reading it whole is fine.
	data, err := os.ReadFile(a.CSVFile)
	if err != nil {
		return Outcome{}, fmt.Errorf("reading %s: %w", name, err)
	}
	return readCSV(data, name, a)
}

// readCSV does the work of Visit on the export's bytes; name is the file
// name used in error messages.
func readCSV(data []byte, name string, a Assignment) (Outcome, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1 // a short or long row is reported with its line below

	var (
		out       Outcome
		sampled   int64
		home      int64
		found     bool
		seen      = map[string]int{} // household -> line it first appeared on
		isHeader  = true
		header    = csvHeader // with the optional columns the export has
		retestCol = -1        // index of csvRetestColumn, if there is one
		reasonCol = -1        // index of csvReasonColumn, if there is one
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
			// The reader resumes on the next line, so later lines still get
			// checked.
			report(perr.Line, fmt.Sprintf(": cannot read CSV: %v", perr.Err))
			isHeader = false
			continue
		} else if err != nil {
			return Outcome{}, fmt.Errorf("reading %s: %w", name, err)
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}

		if isHeader {
			isHeader = false
			if msg := checkHeader(rec); msg != "" {
				// Without the right header the columns cannot be trusted.
				report(line, msg)
				return Outcome{}, problems.Err()
			}
			header = slices.Clone(rec)
			retestCol = slices.Index(header, csvRetestColumn)
			reasonCol = slices.Index(header, csvReasonColumn)
			continue
		}

		if rec[0] != a.Building {
			continue
		}
		if len(rec) != len(header) {
			// Whose row it is cannot be told: it stops the building's
			// sweep and retests alike.
			found = true
			col := "column " + strconv.Itoa(len(header)+1) + ": unexpected"
			if len(rec) < len(header) {
				col = "column " + header[len(rec)] + ": missing"
			}
			report(line, fmt.Sprintf(", %s (the row has %d columns, want %d: %s)",
				col, len(rec), len(header), strings.Join(header, ",")))
			continue
		}
		rowRetest := "" // an export without retest column holds only the sweep's rows
		if retestCol >= 0 {
			rowRetest = rec[retestCol]
		}
		if rowRetest != a.Retest {
			// The sweep's row on a retest visit, another tube's row, or a
			// retest's row on a sweep visit: skipped unchecked, like
			// another building's.
			continue
		}
		found = true

		household := rec[1]
		if !isHouseholdID(household) {
			// The value is not repeated: a column that holds no id may hold
			// a resident's name or phone number.
			report(line, fmt.Sprintf(`, column household: not a unit-room id like "2-1203" (letters and digits joined by single dashes, at most %d characters)`,
				householdMaxLen))
			continue
		}
		if first, dup := seen[household]; dup {
			report(line, fmt.Sprintf(", column household: %q already appeared on line %d", household, first))
			continue
		}
		seen[household] = line

		// Each count is bounded by the one before it, so the first column
		// that is wrong is the one named.
		residents, msg := csvCount(rec[2], "residents", math.MaxInt32, "")
		var s, h int64
		if msg == "" {
			s, msg = csvCount(rec[3], "sampled", residents, "residents")
		}
		if msg == "" {
			h, msg = csvCount(rec[4], "home_visited", s, "sampled")
		}
		reason := sweepv1alpha1.MissedReason("")
		if msg == "" && reasonCol >= 0 {
			reason = sweepv1alpha1.MissedReason(rec[reasonCol])
			if reason != "" && !reason.Valid() {
				// Not repeated: a reason column may hold a free-text
				// note naming the resident.
				msg = ", column reason: not one of " + reasonList + " (or empty)"
			}
		}
		if msg != "" {
			report(line, msg)
			continue
		}
		if !a.Knocks(household) {
			// Checked, so a mistake in the tube's rows is still named, but
			// not counted: the retest knocks only the tube's households,
			// a mop-up only those the earlier round missed.
			continue
		}
		sampled += s
		home += h
		if s < residents {
			// A reason on a row with nobody left to sample is checked
			// above but not used: nobody is missed there.
			out.MissedHouseholds = append(out.MissedHouseholds, household)
			out.Missed = append(out.Missed, HouseholdMissed{Household: household, Residents: int32(residents - s), Reason: reason})
		}
	}

	if isHeader {
		report(1, fmt.Sprintf(": the file is empty, want the header %q", strings.Join(csvHeader, ",")))
	}
	if err := problems.Err(); err != nil {
		return Outcome{}, err
	}
	if !found {
		// Probably a misspelled name or an export that leaves the building
		// out; reporting zero sampled would look like nobody came.
		switch {
		case a.Retest == "":
			return Outcome{}, fmt.Errorf("%s has no rows for building %s", name, a.Building)
		case retestCol < 0:
			return Outcome{}, fmt.Errorf("%s has no %s column, so no rows for the retest of tube %s in building %s",
				name, csvRetestColumn, a.Retest, a.Building)
		}
		return Outcome{}, fmt.Errorf("%s has no rows for the retest of tube %s in building %s", name, a.Retest, a.Building)
	}

	// Raw counts: ReportFor fits them to the roster (exempt residents,
	// people the roster does not know). Each row is bounded by int32, the
	// sum is not.
	out.Sampled = int32(min(sampled, math.MaxInt32))
	out.HomeVisited = int32(min(home, int64(out.Sampled)))
	return out, nil
}

// csvCount parses one count column; limit is the largest value allowed and
// limitName the column it comes from ("" when it is just a sanity bound).
// It returns the value or a message for report.
func csvCount(v, col string, limit int64, limitName string) (int64, string) {
	// Values that are not counts are not repeated: a shifted column may
	// hold a resident's name or phone number, and the
	// line and column are enough to find them.
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, fmt.Sprintf(", column %s: too large", col)
	case err != nil:
		return 0, fmt.Sprintf(", column %s: not a whole number", col)
	case n < 0:
		return 0, fmt.Sprintf(", column %s: negative", col)
	case n > limit && limitName != "":
		return 0, fmt.Sprintf(", column %s: %d is more than %s (%d)", col, n, limitName, limit)
	case n > limit:
		return 0, fmt.Sprintf(", column %s: too large (at most %d)", col, limit)
	}
	return n, ""
}

// checkHeader returns a message for report if rec is not csvHeader, with
// none, one or both of csvRetestColumn and csvReasonColumn after it, or "".
func checkHeader(rec []string) string {
	want := fmt.Sprintf("the header must be %q, optionally followed by %q and %q in either order",
		strings.Join(csvHeader, ","), csvRetestColumn, csvReasonColumn)
	for i, col := range csvHeader {
		if i >= len(rec) {
			return fmt.Sprintf(", column %d: header is missing %q (%s)", i+1, col, want)
		}
		if rec[i] != col {
			return fmt.Sprintf(", column %d: header is %s, want %q (%s)", i+1, headerCell(rec[i]), col, want)
		}
	}
	for i := len(csvHeader); i < len(rec); i++ {
		switch col := rec[i]; {
		case col != csvRetestColumn && col != csvReasonColumn:
			return fmt.Sprintf(", column %d: header has an extra column %s (%s)", i+1, headerCell(col), want)
		case slices.Index(rec, col) < i:
			return fmt.Sprintf(", column %d: header has %q twice (%s)", i+1, col, want)
		}
	}
	return ""
}

// headerCell is a header cell as an error message shows it: quoted when it
// looks like a column name (lower-case letters, digits and underscores, at
// most 40 bytes), described otherwise. A file whose first line is data,
// not a header, must not have a resident's name or phone number repeated
// in the message (the fuzzer found a phone number quoted here).
func headerCell(s string) string {
	if len(s) <= 40 && columnName.MatchString(s) {
		return strconv.Quote(s)
	}
	return "a value that is not a column name"
}

var columnName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
