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

package statusview

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func TestRenderAndSummary(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tr := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Name: "today", Namespace: "pingfang"}}
	tr.Spec.Deadline = metav1.Time{Time: now.Add(8 * time.Hour)}
	tr.Status = sweepv1alpha1.TestingRoundStatus{
		Phase: sweepv1alpha1.RoundRunning, ProgressPercent: 50,
		Residents: sweepv1alpha1.ResidentCounts{Expected: 300, Sampled: 140, Missed: 10, Outstanding: 150},
		Tubes:     sweepv1alpha1.TubeCounts{Forecast: 30, Used: 14},
	}
	job := func(b string, suspend bool, phase sweepv1alpha1.JobPhase, sampled, missed int32, hh ...string) sweepv1alpha1.CollectionJob {
		return sweepv1alpha1.CollectionJob{
			Spec:   sweepv1alpha1.CollectionJobSpec{Building: b, Expected: 100, Suspend: suspend},
			Status: sweepv1alpha1.CollectionJobStatus{Phase: phase, Sampled: sampled, Missed: missed, Visits: 1, MissedHouseholds: hh},
		}
	}
	jobs := []sweepv1alpha1.CollectionJob{
		job("xinjiang-7", false, sweepv1alpha1.JobCompleted, 90, 10, "2-1203", "1-101"),
		job("xinjiang-8", false, sweepv1alpha1.JobActive, 50, 50),
		job("xinjiang-9", true, "", 0, 100),
	}
	var b bytes.Buffer
	Render(&b, tr, jobs, now)
	out := b.String()
	for _, want := range []string{
		"Round pingfang/today  Running",
		"[" + strings.Repeat("#", 20) + strings.Repeat(".", 20) + "]  50%",
		"140 of 300 residents sampled, 10 missed, 150 outstanding",
		"Tubes 14 used of 30 forecast",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("live view lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "xinjiang-8") || strings.Contains(out, "xinjiang-9  ") {
		t.Errorf("lagging list should show the active building and not the queued one:\n%s", out)
	}

	tr.Status.Phase = sweepv1alpha1.RoundCompleted
	tr.Status.StartTime = &metav1.Time{Time: now.Add(-2 * time.Hour)}
	tr.Status.CompletionTime = &metav1.Time{Time: now}
	b.Reset()
	Summary(&b, tr, jobs[:1])
	out = b.String()
	for _, want := range []string{"Completed in 2h0m0s", "(46.7%)", "xinjiang-7", "2-1203 1-101"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
