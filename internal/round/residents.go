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

package round

import sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"

// Residents is one job's residents as its round counts them: what the
// round's status, its metrics, `sweep status` and `sweep missed` all sum.
// Expected = Sampled + Outstanding + Missed always holds.
type Residents struct {
	Expected, Sampled, Outstanding, Missed int64
	Exempt, HomeVisited, ExtraSampled      int64
	// Over is whether the residents not sampled are missed rather than
	// outstanding: the job finished, or the round's deadline passed.
	Over bool
	// NotSampledByReason is Outstanding+Missed by reason: the job's counts
	// fitted to them, unknown where it gave none.
	NotSampledByReason sweepv1alpha1.MissedReasonCounts
}

// JobResidents is the one rule for a job's residents in a round in phase
// roundPhase. Every count is clamped to the job's own: expected to 0 and
// over, sampled to [0, expected] and home-visited to [0, sampled]. The
// status is written from collectors' reports, and a hostile or older
// collector's may hold more sampled than expected, a negative count, or
// counts by reason that do not add up (people beyond the roster are
// ExtraSampled, never Sampled); clamping here keeps expected = sampled +
// outstanding + missed, and every reader's totals the same.
//
// The residents not sampled are outstanding while the job runs and
// missed once it finished or the round's deadline passed
// (RoundDeadlineExceeded), whether or not the job has written Expired
// yet: a job over by the deadline, or one never visited, counts everyone
// expected and not sampled as missed then, and as outstanding before.
// Their counts by reason are the job's fitted to them (FitTo), so they
// add up whatever the job wrote.
func JobResidents(j *sweepv1alpha1.CollectionJob, roundPhase sweepv1alpha1.RoundPhase) Residents {
	expected := int64(max(j.Spec.Expected, 0))
	sampled := min(int64(max(j.Status.Sampled, 0)), expected)
	r := Residents{
		Expected:     expected,
		Sampled:      sampled,
		Exempt:       int64(max(j.Spec.Exempt, 0)),
		HomeVisited:  min(int64(max(j.Status.HomeVisited, 0)), sampled),
		ExtraSampled: int64(max(j.Status.ExtraSampled, 0)),
		Over:         j.Status.Phase.Finished() || roundPhase == sweepv1alpha1.RoundDeadlineExceeded,
	}
	if r.Over {
		r.Missed = expected - sampled
	} else {
		r.Outstanding = expected - sampled
	}
	r.NotSampledByReason = j.Status.NotSampledByReason.OrZero().FitTo(int32(expected - sampled))
	return r
}

// NotSampled is the residents not sampled, outstanding or missed.
func (r Residents) NotSampled() int64 { return r.Outstanding + r.Missed }

// AddTo adds r to a round's (or any group's) counts; only missed
// residents count by reason, as ResidentCounts.MissedByReason does.
func (r Residents) AddTo(c *sweepv1alpha1.ResidentCounts) {
	c.Expected += r.Expected
	c.Sampled += r.Sampled
	c.Outstanding += r.Outstanding
	c.Missed += r.Missed
	c.Exempt += r.Exempt
	c.HomeVisited += r.HomeVisited
	c.ExtraSampled += r.ExtraSampled
	if r.Over {
		c.MissedByReason.AddCounts(r.NotSampledByReason)
	}
}
