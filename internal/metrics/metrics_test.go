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

package metrics

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func TestLastProgress(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }
	report := func(visit int32, d time.Duration) *sweepv1alpha1.VisitReport {
		return &sweepv1alpha1.VisitReport{Visit: visit, Time: *at(d)}
	}
	cases := []struct {
		name   string
		status sweepv1alpha1.CollectionJobStatus
		want   *metav1.Time // nil: not under way
	}{
		{"queued", sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobQueued}, nil},
		{"completed", sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, StartTime: at(0), Report: report(1, time.Hour)}, nil},
		{"first visit, no report yet", sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Visits: 1, StartTime: at(0)}, at(0)},
		{"first visit, progress reported", sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Visits: 1, StartTime: at(0), Report: report(1, 20*time.Minute)}, at(20 * time.Minute)},
		{"waiting for the re-knock", sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, StartTime: at(0), Report: report(1, time.Hour), NextVisitTime: at(3 * time.Hour)}, at(3 * time.Hour)},
		// The 2h interval below: the second visit started about when the
		// first one's final report plus the interval came.
		{"re-knock under way, only the last visit's report", sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Visits: 2, StartTime: at(0), Report: report(1, time.Hour)}, at(3 * time.Hour)},
		{"retry paused after a failed attempt", sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Visits: 1, StartTime: at(0), NextVisitTime: at(time.Minute)}, at(time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := &sweepv1alpha1.CollectionJob{
				Status: c.status,
			}
			got, ok := LastProgress(j, 2*time.Hour)
			switch {
			case c.want == nil && ok:
				t.Errorf("LastProgress = %v, want none (not under way)", got)
			case c.want != nil && (!ok || !got.Equal(c.want.Time)):
				t.Errorf("LastProgress = %v (%v), want %v", got, ok, c.want.Time)
			}
		})
	}
}
