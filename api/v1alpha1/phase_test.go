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

package v1alpha1_test

import (
	"testing"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// TestFinishedPhases lists every phase: a phase added later must be put
// here, and so decided finished or not.
func TestFinishedPhases(t *testing.T) {
	jobs := map[sweepv1alpha1.JobPhase]bool{
		"": false, sweepv1alpha1.JobQueued: false, sweepv1alpha1.JobActive: false, sweepv1alpha1.JobWaiting: false,
		sweepv1alpha1.JobCompleted: true, sweepv1alpha1.JobExpired: true, sweepv1alpha1.JobFailed: true,
	}
	for p, want := range jobs {
		if got := p.Finished(); got != want {
			t.Errorf("JobPhase(%q).Finished() = %t, want %t", p, got, want)
		}
	}
	rounds := map[sweepv1alpha1.RoundPhase]bool{
		"": false, sweepv1alpha1.RoundPending: false, sweepv1alpha1.RoundRunning: false, sweepv1alpha1.RoundSuspended: false,
		sweepv1alpha1.RoundCompleted: true, sweepv1alpha1.RoundDeadlineExceeded: true,
	}
	for p, want := range rounds {
		if got := p.Finished(); got != want {
			t.Errorf("RoundPhase(%q).Finished() = %t, want %t", p, got, want)
		}
	}
}
