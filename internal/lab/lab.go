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
	// Next is the cursor after the last result; empty when the source
	// does not page (the csv export is read whole).
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
	// an error that names the field or line it could not read.
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
)

// Problem returns why a result cannot be taken, or "". buildings are the
// round's buildings; a result for any other is refused, so that a lab's
// mix-up cannot send a team to a building the round never swept.
func Problem(r TubeResult, buildings map[string]bool) string {
	switch {
	case len(r.Tube) == 0 || len(r.Tube) > 64 || !tubeID.MatchString(r.Tube):
		return fmt.Sprintf("tube id %q is not a lab tube id", r.Tube)
	case !buildings[r.Building]:
		return fmt.Sprintf("tube %s: building %q is not in this round", r.Tube, r.Building)
	case r.ResultTime.IsZero():
		return fmt.Sprintf("tube %s: resultTime is missing", r.Tube)
	case r.SwabTime != nil && r.SwabTime.After(r.ResultTime):
		return fmt.Sprintf("tube %s: swabTime is after resultTime", r.Tube)
	}
	switch r.Kind {
	case Pooled:
		if !r.Positive {
			return ""
		}
		if r.Swabs < 1 || r.Swabs > 20 {
			return fmt.Sprintf("positive tube %s: swabs %d is not from 1 to 20", r.Tube, r.Swabs)
		}
		if len(r.Households) == 0 || len(r.Households) > sweepv1alpha1.MaxPoolHouseholds || len(r.Households) > int(r.Swabs) {
			return fmt.Sprintf("positive tube %s: %d households for %d swabs (1 to %d, at most one per swab)", r.Tube, len(r.Households), r.Swabs, sweepv1alpha1.MaxPoolHouseholds)
		}
		for _, h := range r.Households {
			if len(h) > 32 || !householdID.MatchString(h) {
				return fmt.Sprintf("positive tube %s: household %q is not a unit-room id", r.Tube, h)
			}
		}
	case Single:
		if len(r.Pool) == 0 || !tubeID.MatchString(r.Pool) {
			return fmt.Sprintf("single tube %s: pool %q is not a lab tube id", r.Tube, r.Pool)
		}
		if len(r.Household) > 32 || !householdID.MatchString(r.Household) {
			return fmt.Sprintf("single tube %s: household %q is not a unit-room id", r.Tube, r.Household)
		}
	default:
		return fmt.Sprintf("tube %s: kind %q is neither pooled nor single", r.Tube, r.Kind)
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
