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

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func TestJobResidents(t *testing.T) {
	job := func(expected int32, phase sweepv1alpha1.JobPhase, st sweepv1alpha1.CollectionJobStatus) *sweepv1alpha1.CollectionJob {
		j := &sweepv1alpha1.CollectionJob{}
		j.Spec.Expected, j.Spec.Exempt = expected, 2
		j.Status = st
		j.Status.Phase = phase
		return j
	}
	unknown := func(n int32) sweepv1alpha1.MissedReasonCounts { return sweepv1alpha1.MissedReasonCounts{Unknown: n} }
	for _, tc := range []struct {
		name  string
		job   *sweepv1alpha1.CollectionJob
		phase sweepv1alpha1.RoundPhase
		want  Residents
	}{{
		name: "running job: those not sampled are outstanding",
		job:  job(10, sweepv1alpha1.JobWaiting, sweepv1alpha1.CollectionJobStatus{Sampled: 7, HomeVisited: 1}),
		want: Residents{Expected: 10, Sampled: 7, Outstanding: 3, Exempt: 2, HomeVisited: 1, NotSampledByReason: unknown(3)},
	}, {
		name: "finished job: those not sampled are missed",
		job:  job(10, sweepv1alpha1.JobCompleted, sweepv1alpha1.CollectionJobStatus{Sampled: 7}),
		want: Residents{Expected: 10, Sampled: 7, Missed: 3, Exempt: 2, Over: true, NotSampledByReason: unknown(3)},
	}, {
		name: "sampled above expected counts expected, home-visits above sampled count sampled",
		job:  job(10, sweepv1alpha1.JobCompleted, sweepv1alpha1.CollectionJobStatus{Sampled: 14, HomeVisited: 20, ExtraSampled: 4}),
		want: Residents{Expected: 10, Sampled: 10, Exempt: 2, HomeVisited: 10, ExtraSampled: 4, Over: true},
	}, {
		name: "negative counts count as none",
		job: job(10, sweepv1alpha1.JobCompleted, sweepv1alpha1.CollectionJobStatus{Sampled: -3, HomeVisited: -1, ExtraSampled: -5,
			NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Refused: -4}}),
		want: Residents{Expected: 10, Missed: 10, Exempt: 2, Over: true, NotSampledByReason: unknown(10)},
	}, {
		name: "negative expected: nobody to sample, however many sampled",
		job:  job(-5, sweepv1alpha1.JobCompleted, sweepv1alpha1.CollectionJobStatus{Sampled: 3, HomeVisited: 3}),
		want: Residents{Exempt: 2, Over: true},
	}, {
		name: "absurd counts stay within the job's",
		job:  job(100, sweepv1alpha1.JobActive, sweepv1alpha1.CollectionJobStatus{Sampled: 1<<31 - 1, HomeVisited: 1<<31 - 1}),
		want: Residents{Expected: 100, Sampled: 100, Exempt: 2, HomeVisited: 100},
	}, {
		name: "never visited while the round runs: everyone outstanding",
		job:  job(8, "", sweepv1alpha1.CollectionJobStatus{}),
		// Running, Pending and Suspended rounds are all not over.
		phase: sweepv1alpha1.RoundRunning,
		want:  Residents{Expected: 8, Outstanding: 8, Exempt: 2, NotSampledByReason: unknown(8)},
	}, {
		name:  "never visited once the deadline passed: everyone missed, reason unknown",
		job:   job(8, sweepv1alpha1.JobQueued, sweepv1alpha1.CollectionJobStatus{}),
		phase: sweepv1alpha1.RoundDeadlineExceeded,
		want:  Residents{Expected: 8, Missed: 8, Exempt: 2, Over: true, NotSampledByReason: unknown(8)},
	}, {
		name: "over by the deadline before it wrote Expired: its outstanding are missed",
		job: job(10, sweepv1alpha1.JobWaiting, sweepv1alpha1.CollectionJobStatus{Sampled: 6, Outstanding: 4,
			NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{NotHome: 3}}),
		phase: sweepv1alpha1.RoundDeadlineExceeded,
		want: Residents{Expected: 10, Sampled: 6, Missed: 4, Exempt: 2, Over: true,
			NotSampledByReason: sweepv1alpha1.MissedReasonCounts{NotHome: 3, Unknown: 1}},
	}, {
		name: "reasons beyond those not sampled are fitted to them",
		job: job(20, sweepv1alpha1.JobExpired, sweepv1alpha1.CollectionJobStatus{Sampled: 5, Missed: 40,
			NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{NotHome: 30, Refused: 5, Away: 2}}),
		want: Residents{Expected: 20, Sampled: 5, Missed: 15, Exempt: 2, Over: true,
			NotSampledByReason: sweepv1alpha1.MissedReasonCounts{NotHome: 10, Refused: 5}},
	}, {
		name: "a job's own missed is not read: expected minus sampled is",
		job:  job(10, sweepv1alpha1.JobFailed, sweepv1alpha1.CollectionJobStatus{Sampled: 4, Missed: 1, Outstanding: 9}),
		want: Residents{Expected: 10, Sampled: 4, Missed: 6, Exempt: 2, Over: true, NotSampledByReason: unknown(6)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := JobResidents(tc.job, tc.phase)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("JobResidents (-want +got):\n%s", diff)
			}
			if got.Expected != got.Sampled+got.Outstanding+got.Missed {
				t.Errorf("expected %d != sampled %d + outstanding %d + missed %d", got.Expected, got.Sampled, got.Outstanding, got.Missed)
			}
			if n := got.NotSampledByReason.Total(); n != got.NotSampled() {
				t.Errorf("reasons add up to %d, not to the %d not sampled", n, got.NotSampled())
			}
		})
	}
}

// AddTo counts reasons of missed residents only, as the round's
// MissedByReason does.
func TestResidentsAddTo(t *testing.T) {
	var c sweepv1alpha1.ResidentCounts
	Residents{Expected: 10, Sampled: 6, Outstanding: 4, NotSampledByReason: sweepv1alpha1.MissedReasonCounts{NotHome: 4}}.AddTo(&c)
	Residents{Expected: 5, Sampled: 2, Missed: 3, Exempt: 1, HomeVisited: 2, ExtraSampled: 7, Over: true,
		NotSampledByReason: sweepv1alpha1.MissedReasonCounts{Refused: 3}}.AddTo(&c)
	want := sweepv1alpha1.ResidentCounts{Expected: 15, Sampled: 8, Outstanding: 4, Missed: 3, Exempt: 1, HomeVisited: 2, ExtraSampled: 7,
		MissedByReason: sweepv1alpha1.MissedReasonTotals{Refused: 3}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("AddTo (-want +got):\n%s", diff)
	}
}
