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
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func newJob(mod func(*sweepv1alpha1.CollectionJob)) *sweepv1alpha1.CollectionJob {
	cj := testobjects.Job("ns", "r-b1").Round("r").Building("b1").Expected(100).Households(40).PoolSize(10).
		Visits(3, time.Hour).Deadline(t0.Add(10 * time.Hour)).Obj()
	if mod != nil {
		mod(cj)
	}
	return cj
}

func active(visit int32, report *sweepv1alpha1.VisitReport) func(*sweepv1alpha1.CollectionJob) {
	return func(cj *sweepv1alpha1.CollectionJob) {
		cj.Status.Phase = sweepv1alpha1.JobActive
		cj.Status.Visits = visit
		cj.Status.ActiveJob = VisitName(cj.Name, visit, 0)
		cj.Status.Report = report
	}
}

func report(visit, sampled int32, final bool, households ...string) *sweepv1alpha1.VisitReport {
	return &sweepv1alpha1.VisitReport{Visit: visit, Sampled: sampled, Missed: 100 - sampled, Final: final,
		MissedHouseholds: households, Time: metav1.Time{Time: t0.Add(time.Minute)}}
}

func TestDecide(t *testing.T) {
	running := Observed{State: VisitRunning, Started: t0}
	cases := []struct {
		name      string
		job       *sweepv1alpha1.CollectionJob
		obs       Observed
		now       time.Time
		phase     sweepv1alpha1.JobPhase
		visits    int32
		sampled   int32
		start     string
		stop      string
		event     string
		condition string
	}{
		{"queued while suspended: no status written", newJob(func(cj *sweepv1alpha1.CollectionJob) { cj.Spec.Suspend = true }), Observed{}, t0,
			"", 0, 0, "", "", "", ""},
		{"admitted: visit 1 starts", newJob(nil), Observed{}, t0,
			sweepv1alpha1.JobActive, 1, 0, "r-b1-v1", "", "", ""},
		{"progress report is taken", newJob(active(1, report(1, 40, false))), running, t0.Add(time.Minute),
			sweepv1alpha1.JobActive, 1, 40, "", "", "", ""},
		{"everyone sampled: completed", newJob(active(1, report(1, 100, true))), running, t0.Add(time.Minute),
			sweepv1alpha1.JobCompleted, 1, 100, "", "", "", ""},
		{"some missed: wait for a re-knock", newJob(active(1, report(1, 90, true, "1-101"))), running, t0.Add(time.Minute),
			sweepv1alpha1.JobWaiting, 1, 90, "", "", "", ""},
		{"visits used up: completed with missed", newJob(active(3, report(3, 97, true, "1-101"))), running, t0.Add(time.Minute),
			sweepv1alpha1.JobCompleted, 3, 97, "", "", "", ""},
		{"next visit would start after the deadline: completed", newJob(active(1, report(1, 90, true))), running, t0.Add(9*time.Hour + time.Minute),
			sweepv1alpha1.JobCompleted, 1, 90, "", "", "", ""},
		{"waiting, not yet time", newJob(func(cj *sweepv1alpha1.CollectionJob) {
			cj.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, NextVisitTime: &metav1.Time{Time: t0.Add(time.Hour)}}
		}), Observed{}, t0.Add(30 * time.Minute), sweepv1alpha1.JobWaiting, 1, 90, "", "", "", ""},
		{"waiting, time for visit 2", newJob(func(cj *sweepv1alpha1.CollectionJob) {
			cj.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, NextVisitTime: &metav1.Time{Time: t0.Add(time.Hour)},
				Report: report(1, 90, true)}
		}), Observed{}, t0.Add(time.Hour), sweepv1alpha1.JobActive, 2, 90, "r-b1-v2", "", "", ""},
		{"the last visit's report during the next visit is not a warning", newJob(active(2, report(1, 90, true))), Observed{State: VisitRunning, Started: t0.Add(time.Hour)}, t0.Add(time.Hour),
			sweepv1alpha1.JobActive, 2, 0, "", "", "", ""},
		{"a report for another visit written now is ignored with a warning", newJob(active(2, report(1, 95, false))), Observed{State: VisitRunning, Started: t0}, t0.Add(time.Hour),
			sweepv1alpha1.JobActive, 2, 0, "", "", sweepv1alpha1.ReasonReportForAnotherVisit, sweepv1alpha1.ConditionReportIgnored},
		{"sampled above expected is ignored", newJob(active(1, &sweepv1alpha1.VisitReport{Visit: 1, Sampled: 150, Final: true, Time: metav1.Time{Time: t0}})), running, t0,
			sweepv1alpha1.JobActive, 1, 0, "", "", sweepv1alpha1.ReasonImpossibleReport, sweepv1alpha1.ConditionReportIgnored},
		{"missed households with nobody missed is ignored", newJob(active(1, report(1, 100, true, "1-101"))), running, t0,
			sweepv1alpha1.JobActive, 1, 0, "", "", sweepv1alpha1.ReasonImpossibleReport, sweepv1alpha1.ConditionReportIgnored},
		{"more missed households than missed residents is accepted", newJob(active(1, report(1, 99, true, "1-101", "1-102"))), running, t0,
			sweepv1alpha1.JobWaiting, 1, 99, "", "", "", ""},
		{"fewer sampled than already reported is ignored", newJob(func(cj *sweepv1alpha1.CollectionJob) {
			active(2, report(2, 50, true))(cj)
			cj.Status.Sampled = 90
		}), running, t0, sweepv1alpha1.JobActive, 2, 90, "", "", sweepv1alpha1.ReasonImpossibleReport, sweepv1alpha1.ConditionReportIgnored},
		{"attempt lost: started again", newJob(active(1, nil)), Observed{State: VisitUnknown}, t0,
			sweepv1alpha1.JobActive, 1, 0, "r-b1-v1", "", "", ""},
		{"attempt failed: retry later", newJob(active(1, nil)), Observed{State: VisitFailed, Cause: "BackoffLimitExceeded: pod crashed"}, t0,
			sweepv1alpha1.JobActive, 1, 0, "", "r-b1-v1", sweepv1alpha1.ReasonVisitFailed, ""},
		{"succeeded without a report: a failed attempt", newJob(active(1, nil)), Observed{State: VisitSucceeded}, t0,
			sweepv1alpha1.JobActive, 1, 0, "", "r-b1-v1", sweepv1alpha1.ReasonNoFinalReport, ""},
		{"third failure: failed", newJob(func(cj *sweepv1alpha1.CollectionJob) {
			active(1, nil)(cj)
			cj.Status.FailedAttempts = 2
			cj.Status.ActiveJob = VisitName(cj.Name, 1, 2)
		}), Observed{State: VisitFailed, Cause: "pod crashed"}, t0, sweepv1alpha1.JobFailed, 1, 0, "", "r-b1-v1-r2", "Failed", sweepv1alpha1.ConditionFailed},
		{"retry after the pause", newJob(func(cj *sweepv1alpha1.CollectionJob) {
			active(1, nil)(cj)
			cj.Status.FailedAttempts, cj.Status.ActiveJob = 1, ""
			cj.Status.NextVisitTime = &metav1.Time{Time: t0.Add(RetryBackoff)}
		}), Observed{}, t0.Add(RetryBackoff), sweepv1alpha1.JobActive, 1, 0, "r-b1-v1-r1", "", "", ""},
		{"deadline mid-visit: expired, visit stopped, results kept", newJob(func(cj *sweepv1alpha1.CollectionJob) {
			active(2, report(2, 93, false))(cj)
			cj.Status.Sampled = 90
		}), running, t0.Add(10 * time.Hour), sweepv1alpha1.JobExpired, 2, 93, "", "r-b1-v2", "Expired", ""},
		{"deadline while queued", newJob(func(cj *sweepv1alpha1.CollectionJob) { cj.Spec.Suspend = true }), Observed{}, t0.Add(11 * time.Hour),
			sweepv1alpha1.JobExpired, 0, 0, "", "", "Expired", ""},
		{"finished jobs never change", newJob(func(cj *sweepv1alpha1.CollectionJob) {
			cj.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, Visits: 1, Sampled: 100}
		}), Observed{}, t0.Add(11 * time.Hour), sweepv1alpha1.JobCompleted, 1, 100, "", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.job, c.obs, c.now)
			st := d.Status
			if st.Phase != c.phase || st.Visits != c.visits || st.Sampled != c.sampled || d.Start != c.start || d.Stop != c.stop {
				t.Errorf("got phase %s visits %d sampled %d start %q stop %q; want %s %d %d %q %q",
					st.Phase, st.Visits, st.Sampled, d.Start, d.Stop, c.phase, c.visits, c.sampled, c.start, c.stop)
			}
			if st.Report != nil {
				t.Error("the operator's status must not carry the collector's report")
			}
			// The API's words match the CLI's: residents not sampled are
			// outstanding while visits remain and missed once finished.
			switch {
			case st.Phase.Finished() && !c.job.Status.Phase.Finished():
				if st.Outstanding != 0 || st.Sampled+st.Missed != c.job.Spec.Expected {
					t.Errorf("finished with sampled %d, outstanding %d, missed %d of %d expected", st.Sampled, st.Outstanding, st.Missed, c.job.Spec.Expected)
				}
			case st.Phase == sweepv1alpha1.JobActive || st.Phase == sweepv1alpha1.JobWaiting:
				if st.Missed != 0 || st.Sampled+st.Outstanding != c.job.Spec.Expected {
					t.Errorf("%s with sampled %d, outstanding %d, missed %d of %d expected", st.Phase, st.Sampled, st.Outstanding, st.Missed, c.job.Spec.Expected)
				}
			}
			if c.event != "" {
				found := false
				for _, e := range d.Events {
					found = found || e.Reason == c.event
				}
				if !found {
					t.Errorf("no %s event in %+v", c.event, d.Events)
				}
			}
			if c.condition != "" {
				if cond := meta.FindStatusCondition(st.Conditions, c.condition); cond == nil || cond.Status != metav1.ConditionTrue || !strings.Contains(cond.Message, "visit") {
					t.Errorf("condition %s: %+v", c.condition, cond)
				}
			}
		})
	}
}

// TestImpossible is the report contract of docs/collector-api.md: counts
// against the roster add up, and missed households are the knock list,
// whose length is not tied to missed or to the roster's households.
func TestImpossible(t *testing.T) {
	households := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("1-%d", i)
		}
		return ids
	}
	for _, c := range []struct {
		name   string
		r      sweepv1alpha1.VisitReport
		before int32  // sampled already accepted
		want   string // part of the reason; "" for a possible report
	}{
		// Expected 9: 10 registered, 1 exempt (in hospital), all 9 sampled.
		// The registry still lists the patient's household, which the
		// collector drops once nobody is missed.
		{"exempt resident, all sampled", sweepv1alpha1.VisitReport{Sampled: 9}, 0, ""},
		// The registry knows 3 residents the roster does not; all sampled.
		{"registry larger than the roster", sweepv1alpha1.VisitReport{Sampled: 9, ExtraSampled: 3, HomeVisited: 2}, 0, ""},
		// Households holding sampled and unsampled residents, and exempt
		// residents' households: more households than missed residents.
		{"more households than missed", sweepv1alpha1.VisitReport{Sampled: 8, Missed: 1, MissedHouseholds: households(3)}, 0, ""},
		{"fewer households than missed", sweepv1alpha1.VisitReport{Sampled: 5, Missed: 4, MissedHouseholds: households(1)}, 0, ""},
		{"more households than the roster's", sweepv1alpha1.VisitReport{Sampled: 4, Missed: 5, MissedHouseholds: households(7)}, 0, ""},
		{"negative extraSampled", sweepv1alpha1.VisitReport{Sampled: 9, ExtraSampled: -1}, 0, "negative counts"},
		{"negative missed", sweepv1alpha1.VisitReport{Sampled: 9, Missed: -1}, 0, "negative counts"},
		{"sampled above expected", sweepv1alpha1.VisitReport{Sampled: 10}, 0, "10 sampled but only 9 residents are expected"},
		{"counts do not add up", sweepv1alpha1.VisitReport{Sampled: 5, Missed: 3}, 0, "sampled 5 + missed 3 is not the 9 expected"},
		{"missed overflows int32", sweepv1alpha1.VisitReport{Sampled: 9, Missed: math.MaxInt32}, 0, "is not the 9 expected"},
		{"home above sampled", sweepv1alpha1.VisitReport{Sampled: 2, Missed: 7, HomeVisited: 3}, 0, "3 sampled at home but only 2 sampled"},
		{"households with nobody missed", sweepv1alpha1.VisitReport{Sampled: 9, MissedHouseholds: households(1)}, 0, "1 missed households but no missed residents"},
		{"more households than a report holds", sweepv1alpha1.VisitReport{Sampled: 0, Missed: 9, MissedHouseholds: households(501)}, 0, "more than the 500"},
		{"sampled going down", sweepv1alpha1.VisitReport{Sampled: 5, Missed: 4}, 6, "5 sampled is fewer than the 6 already reported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cj := newJob(func(cj *sweepv1alpha1.CollectionJob) { cj.Spec.Expected, cj.Spec.Households = 9, 4 })
			got := impossible(cj, &c.r, &sweepv1alpha1.CollectionJobStatus{Sampled: c.before})
			if (got == "") != (c.want == "") || !strings.Contains(got, c.want) {
				t.Errorf("impossible = %q, want %q", got, c.want)
			}
		})
	}
}

func TestAnIgnoredReportWarnsOnce(t *testing.T) {
	cj := newJob(active(1, &sweepv1alpha1.VisitReport{Visit: 1, Sampled: 150, Time: metav1.Time{Time: t0}}))
	d := Decide(cj, Observed{State: VisitRunning, Started: t0}, t0)
	if len(d.Events) != 1 {
		t.Fatalf("want one warning, got %+v", d.Events)
	}
	cj.Status.Conditions = d.Status.Conditions
	if again := Decide(cj, Observed{State: VisitRunning, Started: t0}, t0.Add(time.Second)); len(again.Events) != 0 {
		t.Errorf("the same ignored report warned again: %+v", again.Events)
	}
}

func TestRetryBackoffGrows(t *testing.T) {
	cj := newJob(active(1, nil))
	d1 := Decide(cj, Observed{State: VisitFailed}, t0)
	cj.Status = d1.Status
	cj.Status.ActiveJob = VisitName(cj.Name, 1, 1)
	d2 := Decide(cj, Observed{State: VisitFailed}, t0)
	if d1.RequeueAfter != RetryBackoff || d2.RequeueAfter != 2*RetryBackoff {
		t.Errorf("backoff %v then %v, want %v then %v", d1.RequeueAfter, d2.RequeueAfter, RetryBackoff, 2*RetryBackoff)
	}
}

// Counts by reason reach the status fitted to the residents not sampled:
// outstanding while visits remain, missed once final.
func TestDecideNotSampledByReason(t *testing.T) {
	withReasons := func(r *sweepv1alpha1.VisitReport, c sweepv1alpha1.MissedReasonCounts, hr ...sweepv1alpha1.HouseholdReason) *sweepv1alpha1.VisitReport {
		r.MissedByReason, r.MissedHouseholdReasons = &c, hr
		return r
	}
	running := Observed{State: VisitRunning, Started: t0}
	nh := sweepv1alpha1.HouseholdReason{Household: "1-0101", Reason: sweepv1alpha1.MissedNotHome}
	for _, tc := range []struct {
		name          string
		job           *sweepv1alpha1.CollectionJob
		now           time.Time
		want          *sweepv1alpha1.MissedReasonCounts
		wantHousehold []sweepv1alpha1.HouseholdReason
		outstanding   bool
		ignored       bool
	}{
		{name: "no report yet: everyone outstanding is unknown", job: newJob(active(1, nil)), now: t0.Add(time.Minute),
			want: &sweepv1alpha1.MissedReasonCounts{Unknown: 100}, outstanding: true},
		{name: "a report with reasons, visits left: outstanding",
			job: newJob(active(1, withReasons(report(1, 90, true, "1-0101", "1-0102"), sweepv1alpha1.MissedReasonCounts{NotHome: 6, Unknown: 4}, nh))),
			now: t0.Add(time.Minute), want: &sweepv1alpha1.MissedReasonCounts{NotHome: 6, Unknown: 4}, wantHousehold: []sweepv1alpha1.HouseholdReason{nh}, outstanding: true},
		{name: "the last visit's report: missed",
			job: newJob(active(3, withReasons(report(3, 95, true, "1-0101"), sweepv1alpha1.MissedReasonCounts{Refused: 5}))),
			now: t0.Add(time.Minute), want: &sweepv1alpha1.MissedReasonCounts{Refused: 5}},
		{name: "an older collector's report without reasons: unknown", job: newJob(active(3, report(3, 95, true, "1-0101"))),
			now: t0.Add(time.Minute), want: &sweepv1alpha1.MissedReasonCounts{Unknown: 5}},
		{name: "everyone sampled: none", job: newJob(active(1, withReasons(report(1, 100, true), sweepv1alpha1.MissedReasonCounts{}))),
			now: t0.Add(time.Minute)},
		{name: "reasons that do not add up: report ignored",
			job: newJob(active(1, withReasons(report(1, 90, true, "1-0101"), sweepv1alpha1.MissedReasonCounts{NotHome: 60}))),
			now: t0.Add(time.Minute), want: &sweepv1alpha1.MissedReasonCounts{Unknown: 100}, outstanding: true, ignored: true},
		{name: "a household reason not in the list: report ignored",
			job: newJob(active(1, withReasons(report(1, 90, true, "1-0101"), sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				sweepv1alpha1.HouseholdReason{Household: "1-0101", Reason: "ZHANG Canary-Wei"}))),
			now: t0.Add(time.Minute), want: &sweepv1alpha1.MissedReasonCounts{Unknown: 100}, outstanding: true, ignored: true},
		{name: "deadline with the reasons of an earlier visit: missed",
			job: newJob(func(cj *sweepv1alpha1.CollectionJob) {
				active(2, nil)(cj)
				cj.Status.Sampled = 90
				cj.Status.NotSampledByReason = &sweepv1alpha1.MissedReasonCounts{Away: 10}
			}),
			now: t0.Add(11 * time.Hour), want: &sweepv1alpha1.MissedReasonCounts{Away: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.job, running, tc.now)
			st := d.Status
			if fmt.Sprint(st.NotSampledByReason) != fmt.Sprint(tc.want) {
				t.Errorf("not sampled by reason %+v, want %+v", st.NotSampledByReason, tc.want)
			}
			if fmt.Sprint(st.MissedHouseholdReasons) != fmt.Sprint(tc.wantHousehold) {
				t.Errorf("household reasons %+v, want %+v", st.MissedHouseholdReasons, tc.wantHousehold)
			}
			if n := st.Outstanding; (n > 0) != tc.outstanding {
				t.Errorf("outstanding %d, missed %d (phase %s)", st.Outstanding, st.Missed, st.Phase)
			}
			if st.NotSampledByReason != nil && st.NotSampledByReason.Total() != int64(st.Outstanding+st.Missed) {
				t.Errorf("by reason %+v does not add up to %d outstanding + %d missed", st.NotSampledByReason, st.Outstanding, st.Missed)
			}
			c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionReportIgnored)
			if ignored := c != nil && c.Status == metav1.ConditionTrue; ignored != tc.ignored {
				t.Errorf("report ignored %v, want %v (%v)", ignored, tc.ignored, c)
			} else if ignored && strings.Contains(c.Message, "Canary") {
				t.Errorf("condition repeats the bad reason: %s", c.Message)
			}
		})
	}
}
