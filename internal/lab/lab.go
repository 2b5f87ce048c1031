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

// Package lab reads a round's lab results (docs/lab-api.md) and keeps what
// the follow-up of positive pools needs: per building, the pooled tubes
// resulted and the positive ones with the households whose swabs went into
// them; per positive pool, the single-tube results of its retest. A source
// returns results as a stream of tube results; Tally folds them in, checks
// each against the round, and says why it ignored one.
package lab

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Kind says whether a tube held a pool of swabs from the sweep or one swab
// of a retest.
type Kind string

const (
	// Pooled is a tube of the sweep: up to the round's pool size of swabs.
	Pooled Kind = "pooled"
	// Single is a tube of a retest: one swab, one resident of Household.
	Single Kind = "single"
)

// TubeResult is one resulted tube. Nothing in it names a person: households
// are unit-room ids and tubes are the lab's opaque ids.
type TubeResult struct {
	// Tube is the lab's id of the tube.
	Tube string `json:"tube"`
	// Building is the Building the swabs came from.
	Building string `json:"building"`
	// Kind is pooled or single.
	Kind Kind `json:"kind"`
	// Positive is the result.
	Positive bool `json:"positive"`
	// SwabTime is when the tube was filled, if the lab knows.
	SwabTime *time.Time `json:"swabTime,omitempty"`
	// ResultTime is when the lab resulted it.
	ResultTime time.Time `json:"resultTime"`
	// Swabs is the swabs in a pooled tube (1 to 20); required when a
	// pooled tube is positive.
	Swabs int32 `json:"swabs,omitempty"`
	// Households are the unit-room ids whose swabs went into a positive
	// pooled tube; required then, at most 20.
	Households []string `json:"households,omitempty"`
	// Pool is, for a single tube, the id of the positive pooled tube it
	// retests.
	Pool string `json:"pool,omitempty"`
	// Household is, for a single tube, the unit-room id of its resident.
	Household string `json:"household,omitempty"`
}

// Page is one answer of a source: the results after a cursor, and the
// cursor to ask from next time.
type Page struct {
	Results []TubeResult
	// Next is the cursor to ask from next time: after the last result, or
	// the cursor asked with when the page is empty. Store it as it is.
	Next string
	// More is true when the source has more results right away.
	More bool
}

// Source is where a round's lab results come from: the lab information
// system's API (HTTPSource) or an exported list (CSVSource). The drill lab
// is not a Source: it invents its results from the round's own jobs
// (Drill).
type Source interface {
	// Results returns the round's results after cursor ("" for the
	// first). A source must bound what it reads and time out, and return
	// an error that names the field or line it could not read. Every
	// result it returns passes Check; the caller still runs Problem,
	// which also knows the round's buildings.
	Results(ctx context.Context, q Query, cursor string) (Page, error)
}

// Query is what a lab source is asked about.
type Query struct {
	Namespace string
	Round     string
}

var (
	tubeID      = regexp.MustCompile(`^[0-9A-Za-z]+([-_.][0-9A-Za-z]+)*$`)
	householdID = regexp.MustCompile(`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`)
	// personalNumber is a run of 11 digits or more: a mobile number has
	// 11, an ID number 17 and a check character. No unit or room number
	// is that long.
	personalNumber = regexp.MustCompile(`[0-9]{11}`)
)

const (
	// maxTubeID and maxHouseholdID are the lengths the PositivePool and
	// CollectionJob schemas accept.
	maxTubeID      = 64
	maxHouseholdID = 32
	// MaxSwabs is the most swabs one tube holds (a 20-in-1 pool).
	MaxSwabs = 20
)

// IsTubeID says whether s is a lab tube id Sweep accepts: letters and
// digits in groups joined by single "-", "_" or ".", at most 64
// characters.
func IsTubeID(s string) bool { return len(s) <= maxTubeID && tubeID.MatchString(s) }

// IsHouseholdID says whether s is a unit-room id such as "2-1203": letters
// and digits in groups joined by single dashes, at most 32 characters, and
// no run of 11 digits or more (that is a phone or ID number, not a room).
func IsHouseholdID(s string) bool {
	return len(s) <= maxHouseholdID && householdID.MatchString(s) && !personalNumber.MatchString(s)
}

// isBuildingName says whether s can be the name of a Building (a DNS
// subdomain name), and so may be repeated in a message.
func isBuildingName(s string) bool { return len(validation.IsDNS1123Subdomain(s)) == 0 }

// FieldProblem is what is wrong with one field of a result in itself,
// whatever the round: Field is the field's JSON name (the CSV column is
// the same in snake_case), Item the 1-based item of a list field (0 when
// the field is not a list). Msg never repeats a value that is not a valid
// id: a field that holds no id may hold a resident's name or phone number.
type FieldProblem struct {
	Field string
	Item  int
	Msg   string
}

func (p *FieldProblem) String() string {
	if p.Field == "" {
		return p.Msg
	}
	if p.Item > 0 {
		return fmt.Sprintf("field %q: item %d %s", p.Field, p.Item, p.Msg)
	}
	return fmt.Sprintf("field %q: %s", p.Field, p.Msg)
}

// Check returns what is wrong with r in itself, or nil: the checks of
// Problem that need no round. The sources run it on every result they
// read, so that a malformed result fails its page (or CSV file) with the
// field named, and a result they return always passes it.
func Check(r TubeResult) *FieldProblem {
	bad := func(field string, item int, format string, args ...any) *FieldProblem {
		return &FieldProblem{Field: field, Item: item, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case !IsTubeID(r.Tube):
		return bad("tube", 0, "is not a lab tube id (letters and digits in groups joined by single -, _ or ., at most %d characters)", maxTubeID)
	case !isBuildingName(r.Building):
		return bad("building", 0, "is not a Building name (lower-case letters, digits, - and ., at most 253 characters)")
	case r.ResultTime.IsZero():
		return bad("resultTime", 0, "is missing")
	case r.SwabTime != nil && r.SwabTime.After(r.ResultTime):
		return bad("swabTime", 0, "is after resultTime")
	}
	switch r.Kind {
	case Pooled:
		if !r.Positive {
			return nil
		}
		if r.Swabs < 1 || r.Swabs > MaxSwabs {
			return bad("swabs", 0, "is %d for a positive pooled tube, want 1 to %d", r.Swabs, MaxSwabs)
		}
		limit := min(int(r.Swabs), sweepv1alpha1.MaxPoolHouseholds)
		if len(r.Households) == 0 || len(r.Households) > limit {
			return bad("households", 0, "lists %d households for a positive pooled tube of %d swabs, want 1 to %d (at most one per swab)",
				len(r.Households), r.Swabs, limit)
		}
		for i, h := range r.Households {
			if !IsHouseholdID(h) {
				return bad("households", i+1, "is not a unit-room id like \"2-1203\" (letters and digits joined by single dashes, at most %d characters, no 11 digits in a row)", maxHouseholdID)
			}
			if j := slices.Index(r.Households[:i], h); j >= 0 {
				return bad("households", i+1, "repeats item %d", j+1)
			}
		}
	case Single:
		if !IsTubeID(r.Pool) {
			return bad("pool", 0, "is not a lab tube id: a single tube names the pooled tube it retests")
		}
		if !IsHouseholdID(r.Household) {
			return bad("household", 0, "is not a unit-room id like \"2-1203\" (letters and digits joined by single dashes, at most %d characters, no 11 digits in a row)", maxHouseholdID)
		}
	default:
		return bad("kind", 0, "is neither %q nor %q", Pooled, Single)
	}
	return nil
}

// Problem returns why a result cannot be taken, or "". buildings are the
// round's buildings; a result for any other is refused, so that a lab's
// mix-up cannot send a team to a building the round never swept. The
// message may go into events and logs: it names the tube when its id is
// valid and never repeats a value that is not a valid id or name.
func Problem(r TubeResult, buildings map[string]bool) string {
	p := Check(r)
	switch {
	case p != nil && p.Field == "tube":
		return "a result's " + p.String()
	case p != nil:
		return fmt.Sprintf("tube %s: %s", r.Tube, p)
	case !buildings[r.Building]:
		return fmt.Sprintf("tube %s: building %q is not in this round", r.Tube, r.Building)
	}
	return ""
}

// Tally is what a round's lab has said so far, folded from its results.
// A tube resulted twice counts once (the first result stands), so reading
// the stream again from the start after a restart changes nothing.
type Tally struct {
	// Pooled is the pooled tubes resulted, by building.
	Pooled map[string]int32
	// Positive is the positive pooled tubes, by tube id.
	Positive map[string]TubeResult
	// Singles is the single-tube results, by pooled tube id then single
	// tube id.
	Singles map[string]map[string]TubeResult
	// seen is every tube id taken, so that a repeat is not counted twice.
	seen map[string]bool
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{Pooled: map[string]int32{}, Positive: map[string]TubeResult{},
		Singles: map[string]map[string]TubeResult{}, seen: map[string]bool{}}
}

// Add folds in one result and says whether it was new. It does not check
// the result: call Problem first.
func (t *Tally) Add(r TubeResult) bool {
	if t.seen[r.Tube] {
		return false
	}
	t.seen[r.Tube] = true
	switch r.Kind {
	case Pooled:
		t.Pooled[r.Building]++
		if r.Positive {
			r.Households = slices.Clone(r.Households)
			t.Positive[r.Tube] = r
		}
	case Single:
		if t.Singles[r.Pool] == nil {
			t.Singles[r.Pool] = map[string]TubeResult{}
		}
		t.Singles[r.Pool][r.Tube] = r
	}
	return true
}

// Turnaround is a tube's time from swab to result, when the lab gave both.
func (r TubeResult) Turnaround() (time.Duration, bool) {
	if r.SwabTime == nil {
		return 0, false
	}
	return r.ResultTime.Sub(*r.SwabTime), true
}

// SingleProblem returns why a single-tube result cannot be taken against
// what the tally knows, or "": it must retest a positive pooled tube of the
// same building, and its household must be one whose swab went into that
// tube.
func (t *Tally) SingleProblem(r TubeResult) string {
	if r.Kind != Single {
		return ""
	}
	pool, ok := t.Positive[r.Pool]
	switch {
	case !ok:
		return fmt.Sprintf("single tube %s retests %s, which is not a positive pooled tube of this round", r.Tube, r.Pool)
	case pool.Building != r.Building:
		return fmt.Sprintf("single tube %s is for building %s, but pool %s is from %s", r.Tube, r.Building, r.Pool, pool.Building)
	case !slices.Contains(pool.Households, r.Household):
		return fmt.Sprintf("single tube %s: household %s did not swab into pool %s", r.Tube, r.Household, r.Pool)
	}
	return ""
}
