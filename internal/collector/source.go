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

// Package collector is the code that runs one visit of one building: it
// learns its assignment from the environment, asks its source who has been
// sampled, and reports through the CollectionJob's status subresource with
// server-side apply under its own field manager. The same code runs in a
// visit Job's pod (`sweep collect`) and in the manager's local executor.
package collector

import (
	"context"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Outcome is what a source knows about a building after a visit: counts for
// the whole round so far, this visit included, as the source counts them.
// A registry does not know the roster: it may count more residents than
// Sweep expects and list households of exempt residents. ReportFor turns an
// outcome into counts against the roster (docs/collector-api.md, "Counts
// and the roster").
type Outcome struct {
	// Sampled is the residents the source counts as sampled so far in this
	// round, 0 or more; it may exceed the residents expected.
	Sampled int32
	// HomeVisited is the sampled residents who were sampled at home, at
	// most Sampled.
	HomeVisited int32
	// MissedHouseholds are the unit-room ids ("2-1203") of households with
	// residents the source has not sampled yet. May be longer than the
	// status can keep; the reporter caps it.
	MissedHouseholds []string
	// Missed is what the source says about the residents not sampled, one
	// entry per household it knows them for: how many and, if it gave one,
	// why. A household here is missed even when MissedHouseholds leaves it
	// out. ReportFor fits the residents to the roster's count
	// (sweepv1alpha1.MissedReasonCounts.FitTo); nil when the source gives
	// no counts per household (every resident not sampled is then
	// unknown).
	Missed []HouseholdMissed
}

// HouseholdMissed is one household's residents not sampled, as a source
// counts them.
type HouseholdMissed struct {
	// Household is the unit-room id, such as "2-1203".
	Household string
	// Residents is how many of its residents the source has not sampled.
	Residents int32
	// Reason is why, from the fixed list; "" or unknown when the source
	// gave none.
	Reason sweepv1alpha1.MissedReason
}

// Source says who has been sampled in a building.
type Source interface {
	// Visit runs (or, for a real system, looks up) visit a.Visit of the
	// building and returns the round's outcome so far. progress, when not
	// nil, may be called with interim outcomes during a long visit.
	Visit(ctx context.Context, a Assignment, progress func(Outcome)) (Outcome, error)
}
