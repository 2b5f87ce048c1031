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

package collection

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Edits of a running round reach its unfinished jobs: Decide is called on
// the job as its round says now (FollowRound), and holds new visits while
// the round is suspended.
func TestDecideFollowsTheRound(t *testing.T) {
	running := Observed{State: VisitRunning, Started: t0}
	waitingDue := func(cj *sweepv1alpha1.CollectionJob) {
		cj.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, Missed: 10,
			NextVisitTime: &metav1.Time{Time: t0.Add(time.Hour)}}
	}
	retryDue := func(cj *sweepv1alpha1.CollectionJob) {
		active(1, nil)(cj)
		cj.Status.FailedAttempts, cj.Status.ActiveJob = 1, ""
		cj.Status.NextVisitTime = &metav1.Time{Time: t0.Add(RetryBackoff)}
	}
	// The job was expanded with a deadline at t0+10h; the round's is the
	// one in each case.
	cases := []struct {
		name      string
		job       func(*sweepv1alpha1.CollectionJob)
		deadline  time.Time
		suspended bool
		obs       Observed
		now       time.Time
		phase     sweepv1alpha1.JobPhase
		start     string
		stop      string
		// roundEnded: the round exceeded its deadline then
		roundEnded *time.Time
	}{
		{"deadline moved later: the old one passes, the visit goes on", active(1, nil), t0.Add(12 * time.Hour), false, running, t0.Add(10*time.Hour + time.Minute),
			sweepv1alpha1.JobActive, "", "", nil},
		{"deadline moved later: a re-knock after the old deadline is planned", active(1, report(1, 90, true)), t0.Add(12 * time.Hour), false, running, t0.Add(9*time.Hour + time.Minute),
			sweepv1alpha1.JobWaiting, "", "", nil},
		{"deadline moved earlier: the visit is stopped then", active(1, nil), t0.Add(2 * time.Hour), false, running, t0.Add(2 * time.Hour),
			sweepv1alpha1.JobExpired, "", "r-b1-v1", nil},
		{"deadline moved earlier: no re-knock after it", active(1, report(1, 90, true)), t0.Add(time.Hour), false, running, t0.Add(time.Minute),
			sweepv1alpha1.JobCompleted, "", "", nil},
		{"never admitted: expired at the deadline", func(cj *sweepv1alpha1.CollectionJob) { cj.Spec.Suspend = true }, t0.Add(2 * time.Hour), false, Observed{}, t0.Add(2 * time.Hour),
			sweepv1alpha1.JobExpired, "", "", nil},
		{"an expired job stays expired when the deadline moves later", func(cj *sweepv1alpha1.CollectionJob) {
			cj.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobExpired, Visits: 1, Sampled: 90, Missed: 10}
		}, t0.Add(20 * time.Hour), false, Observed{}, t0.Add(11 * time.Hour), sweepv1alpha1.JobExpired, "", "", nil},
		{"suspended: an admitted job starts no first visit", nil, t0.Add(10 * time.Hour), true, Observed{}, t0,
			"", "", "", nil},
		{"suspended: a due re-knock is held", waitingDue, t0.Add(10 * time.Hour), true, Observed{}, t0.Add(2 * time.Hour),
			sweepv1alpha1.JobWaiting, "", "", nil},
		{"resumed: the held re-knock starts", waitingDue, t0.Add(10 * time.Hour), false, Observed{}, t0.Add(2 * time.Hour),
			sweepv1alpha1.JobActive, "r-b1-v2", "", nil},
		{"suspended: another attempt of a failed visit is held", retryDue, t0.Add(10 * time.Hour), true, Observed{}, t0.Add(time.Hour),
			sweepv1alpha1.JobActive, "", "", nil},
		{"suspended: a visit under way finishes", active(1, report(1, 90, true)), t0.Add(10 * time.Hour), true, running, t0.Add(time.Minute),
			sweepv1alpha1.JobWaiting, "", "", nil},
		{"suspended: the deadline still ends the job", waitingDue, t0.Add(3 * time.Hour), true, Observed{}, t0.Add(3 * time.Hour),
			sweepv1alpha1.JobExpired, "", "", nil},
		{"a round that exceeded its deadline is over, even if the deadline is moved later", active(1, nil), t0.Add(20 * time.Hour), false, running, t0.Add(10*time.Hour + time.Second),
			sweepv1alpha1.JobExpired, "", "r-b1-v1", ptr.To(t0.Add(10 * time.Hour))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cj := newJob(c.job)
			r := &sweepv1alpha1.TestingRound{Spec: sweepv1alpha1.TestingRoundSpec{Deadline: metav1.Time{Time: c.deadline}, Suspend: c.suspended,
				Visits: cj.Spec.Visits}}
			if c.roundEnded != nil {
				r.Status.Phase, r.Status.CompletionTime = sweepv1alpha1.RoundDeadlineExceeded, &metav1.Time{Time: *c.roundEnded}
			}
			FollowRound(cj, r)
			obs := c.obs
			obs.RoundSuspended = c.suspended
			d := Decide(cj, obs, c.now)
			if d.Status.Phase != c.phase || d.Start != c.start || d.Stop != c.stop {
				t.Errorf("phase %q start %q stop %q, want %q %q %q", d.Status.Phase, d.Start, d.Stop, c.phase, c.start, c.stop)
			}
		})
	}
}

// A fixed registry URL or token reaches the next visit: the job's collector
// settings are the round's current ones.
func TestFollowRoundTakesTheCollector(t *testing.T) {
	cj := newJob(func(cj *sweepv1alpha1.CollectionJob) {
		cj.Spec.Collector = sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceHTTP, HTTP: &sweepv1alpha1.HTTPSource{URL: "http://wrong"}}
	})
	r := &sweepv1alpha1.TestingRound{Spec: sweepv1alpha1.TestingRoundSpec{Deadline: metav1.Time{Time: t0.Add(12 * time.Hour)},
		Visits:    sweepv1alpha1.VisitPolicy{Max: 5},
		Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceHTTP, HTTP: &sweepv1alpha1.HTTPSource{URL: "http://fixed"}}}}}
	FollowRound(cj, r)
	if cj.Spec.Collector.HTTP.URL != "http://fixed" || !cj.Spec.Deadline.Time.Equal(t0.Add(12*time.Hour)) || cj.Spec.Visits.Max != 5 {
		t.Errorf("job spec does not follow the round: %+v", cj.Spec)
	}
}
