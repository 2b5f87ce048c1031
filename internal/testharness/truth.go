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

package testharness

import (
	"context"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collector"
)

// DrillTruth is what the drill source says a building ends with after a
// round of at most maxVisits visits that nothing cuts short: it plays the
// drill's visits one after another from visit 1 (a's Visit is ignored)
// until nobody is missed or no visit is left, and returns the last visit's
// report.
func DrillTruth(a collector.Assignment, maxVisits int32) (*sweepv1alpha1.VisitReport, error) {
	for v := int32(1); ; v++ {
		a.Visit = v
		o, err := collector.DrillSource{}.Visit(context.Background(), a, nil)
		if err != nil {
			return nil, err
		}
		if o.Sampled == a.Expected || v >= maxVisits {
			return collector.ReportFor(a, o, true, time.Now()), nil
		}
	}
}

// RosterAssignment is the drill assignment of building b in round tr,
// computed from the roster and the round's drill settings alone, without
// the operator's CollectionJob: what an end-to-end test compares the
// operator's work with. The round must set its drill's percentages.
func RosterAssignment(b *sweepv1alpha1.Building, tr *sweepv1alpha1.TestingRound) collector.Assignment {
	d := tr.Spec.Collector.Drill
	expected := b.Spec.Residents - b.Spec.Exempt
	return collector.Assignment{
		Round: tr.Name, Building: b.Name, Expected: expected, HomeVisit: min(b.Spec.HomeVisit, expected),
		Households: b.Spec.Households, Units: b.Spec.Units, Floors: b.Spec.Floors,
		Sealed: b.Spec.ControlLevel == sweepv1alpha1.ControlLevelSealed, Source: string(sweepv1alpha1.SourceDrill),
		DrillSeed: d.Seed, DrillAbsentPercent: *d.AbsentPercent, DrillStillAbsentPercent: *d.StillAbsentPercent,
	}
}
