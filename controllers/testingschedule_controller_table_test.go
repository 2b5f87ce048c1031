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

package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/expectations"
)

// The schedule of the table: "daily" at 15:00 in Asia/Shanghai, which is
// 07:00 UTC, an hour before tableNow (16:00 in Shanghai), rounds of 12
// hours.
var (
	schedToday     = time.Date(2026, time.April, 2, 7, 0, 0, 0, time.UTC)
	schedYesterday = schedToday.AddDate(0, 0, -1)
	schedTomorrow  = schedToday.AddDate(0, 0, 1)
	// beijingTime writes the scheduled times as the schedule's rounds
	// carry them: Asia/Shanghai has kept UTC+8 all year since 1991.
	beijingTime = time.FixedZone("CST", 8*60*60)
)

const (
	schedUID          = types.UID("schedule-daily-uid")
	roundToday        = "daily-202604021500"
	roundYesterday    = "daily-202604011500"
	roundTwoDaysAgo   = "daily-202603311500"
	nextRoundTomorrow = "The next round is due at 2026-04-03T15:00:00+08:00."
)

// tableSchedule is schedule "daily", created two hours before tableNow
// (after yesterday's time, before today's); mod changes it.
func tableSchedule(mod func(*sweepv1alpha1.TestingSchedule)) *sweepv1alpha1.TestingSchedule {
	s := &sweepv1alpha1.TestingSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: tableNamespace, Name: "daily", UID: schedUID,
			CreationTimestamp: metav1.Time{Time: tableNow.Add(-2 * time.Hour)}},
		Spec: sweepv1alpha1.TestingScheduleSpec{
			Schedule: "0 15 * * *", TimeZone: "Asia/Shanghai",
			RoundTemplate: sweepv1alpha1.RoundTemplate{Spec: sweepv1alpha1.RoundTemplateSpec{
				Duration:  sweepv1alpha1.Duration{Duration: 12 * time.Hour},
				Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}},
			}},
		},
	}
	if mod != nil {
		mod(s)
	}
	return s
}

// scheduledRound is a round the schedule made for scheduled time at, its
// status (phase, completion, residents missed) as the round controller
// wrote it.
func scheduledRound(name string, at time.Time, phase sweepv1alpha1.RoundPhase, completed time.Time, missed int64) seeded {
	tr := &sweepv1alpha1.TestingRound{
		ObjectMeta: metav1.ObjectMeta{Namespace: tableNamespace, Name: name, UID: types.UID(name + "-uid"),
			Labels:          map[string]string{sweepv1alpha1.LabelSchedule: "daily"},
			Annotations:     map[string]string{sweepv1alpha1.AnnotationScheduledTime: at.In(beijingTime).Format(time.RFC3339)},
			OwnerReferences: []metav1.OwnerReference{scheduleOwner()}},
		Spec: sweepv1alpha1.TestingRoundSpec{Start: &metav1.Time{Time: at}, Deadline: metav1.Time{Time: at.Add(12 * time.Hour)},
			Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}}},
	}
	st := &sweepv1alpha1.TestingRoundStatus{Phase: phase, Residents: sweepv1alpha1.ResidentCounts{Missed: missed}}
	if !completed.IsZero() {
		st.CompletionTime = &metav1.Time{Time: completed}
	}
	return seeded{kind: "TestingRound", obj: tr, status: []ownedStatus{{RoundFieldOwner, st}}}
}

func scheduleOwner() metav1.OwnerReference {
	return *metav1.NewControllerRef(&sweepv1alpha1.TestingSchedule{ObjectMeta: metav1.ObjectMeta{Name: "daily", UID: schedUID}},
		sweepv1alpha1.GroupVersion.WithKind("TestingSchedule"))
}

// roundSummary is what the table compares of a round after the reconcile:
// what the schedule decides (name, window, scheduled time, what it mops
// up, its owner). The rest of the spec is the template's, copied by
// schedule.NewRound and tested there.
type roundSummary struct {
	Name, Scheduled, MopUpOf, Controller string
	Start, Deadline                      time.Time
}

func scheduleRounds(t *testing.T, c client.Client) []roundSummary {
	t.Helper()
	var list sweepv1alpha1.TestingRoundList
	if err := c.List(context.Background(), &list, client.InNamespace(tableNamespace)); err != nil {
		t.Fatal(err)
	}
	var out []roundSummary
	for _, tr := range list.Items {
		s := roundSummary{Name: tr.Name, Scheduled: tr.Annotations[sweepv1alpha1.AnnotationScheduledTime], MopUpOf: tr.Spec.MopUpOf,
			Deadline: tr.Spec.Deadline.UTC()}
		if tr.Spec.Start != nil {
			s.Start = tr.Spec.Start.UTC()
		}
		if ref := metav1.GetControllerOf(&tr); ref != nil {
			s.Controller = ref.Kind + "/" + ref.Name
		}
		out = append(out, s)
	}
	return out
}

// mainRound is the summary of the schedule's round for scheduled time at.
func mainRound(name string, at time.Time) roundSummary {
	return roundSummary{Name: name, Scheduled: at.In(beijingTime).Format(time.RFC3339), Controller: "TestingSchedule/daily",
		Start: at, Deadline: at.Add(12 * time.Hour)}
}

// ready is the schedule's Ready condition as of tableNow.
func ready(status metav1.ConditionStatus, reason, msg string) []metav1.Condition {
	return []metav1.Condition{{Type: sweepv1alpha1.ConditionReady, Status: status, Reason: reason, Message: msg,
		LastTransitionTime: metav1.Time{Time: tableNow}}}
}

// TestScheduleReconcileTable runs one schedule reconcile per case (two
// where it must say something once) and compares the result, the
// schedule's status, its rounds and the events.
func TestScheduleReconcileTable(t *testing.T) {
	invalidTeams := apierrors.NewInvalid(sweepv1alpha1.GroupVersion.WithKind("TestingRound").GroupKind(), roundToday,
		field.ErrorList{field.Invalid(field.NewPath("spec", "teams"), -1, "must be at least 0")})
	cases := map[string]struct {
		schedule *sweepv1alpha1.TestingSchedule // nil: none
		// status is the schedule's stored status, as the controller wrote it.
		status *sweepv1alpha1.TestingScheduleStatus
		rounds []seeded
		funcs  interceptor.Funcs
		// again reconciles a second time, from what the first wrote: it
		// must say nothing more (an event said once, not per reconcile).
		again      bool
		wantRes    ctrl.Result
		wantErr    bool
		wantStatus *sweepv1alpha1.TestingScheduleStatus // nil: no schedule
		wantRounds []roundSummary
		wantEvents []string
	}{
		"today's time passed: its round is created": {
			schedule: tableSchedule(nil),
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Active: []string{roundToday}, LastScheduleTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRounds: []roundSummary{mainRound(roundToday, schedToday)},
			wantEvents: []string{"Normal CreatedRound Created round daily-202604021500 for 2026-04-02T15:00:00+08:00."},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"nothing due since the schedule was made: it says when": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) {
				s.CreationTimestamp = metav1.Time{Time: tableNow.Add(-time.Minute)}
			}),
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				NextScheduleTime: at(schedTomorrow),
				Conditions:       ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRes: ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"Forbid: the due round waits for yesterday's, said once": {
			schedule: tableSchedule(nil),
			status:   &sweepv1alpha1.TestingScheduleStatus{Active: []string{roundYesterday}, LastScheduleTime: at(schedYesterday)},
			rounds:   []seeded{scheduledRound(roundYesterday, schedYesterday, sweepv1alpha1.RoundRunning, time.Time{}, 0)},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Active: []string{roundYesterday}, LastScheduleTime: at(schedYesterday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRounds: []roundSummary{mainRound(roundYesterday, schedYesterday)},
			again:      true,
			wantEvents: []string{"Normal RoundWaiting The round of 2026-04-02T15:00:00+08:00 waits: [daily-202604011500] still running and concurrencyPolicy is Forbid."},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"Replace: yesterday's running round is deleted for today's": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) { s.Spec.ConcurrencyPolicy = sweepv1alpha1.ConcurrencyReplace }),
			status:   &sweepv1alpha1.TestingScheduleStatus{Active: []string{roundYesterday}, LastScheduleTime: at(schedYesterday)},
			rounds:   []seeded{scheduledRound(roundYesterday, schedYesterday, sweepv1alpha1.RoundRunning, time.Time{}, 0)},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Active: []string{roundToday}, LastScheduleTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRounds: []roundSummary{mainRound(roundToday, schedToday)},
			wantEvents: []string{
				"Normal ReplacedRound Deleted round daily-202604011500 to start the next (concurrencyPolicy Replace).",
				"Normal CreatedRound Created round daily-202604021500 for 2026-04-02T15:00:00+08:00.",
			},
			wantRes: ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"Allow: today's round starts beside yesterday's": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) { s.Spec.ConcurrencyPolicy = sweepv1alpha1.ConcurrencyAllow }),
			status:   &sweepv1alpha1.TestingScheduleStatus{Active: []string{roundYesterday}, LastScheduleTime: at(schedYesterday)},
			rounds:   []seeded{scheduledRound(roundYesterday, schedYesterday, sweepv1alpha1.RoundRunning, time.Time{}, 0)},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Active: []string{roundYesterday, roundToday}, LastScheduleTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRounds: []roundSummary{mainRound(roundYesterday, schedYesterday), mainRound(roundToday, schedToday)}, // by name
			wantEvents: []string{"Normal CreatedRound Created round daily-202604021500 for 2026-04-02T15:00:00+08:00."},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"history limits: finished rounds beyond them are deleted, oldest first": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) {
				s.Spec.SuccessfulRoundsHistoryLimit = ptr.To[int32](1)
				s.Spec.FailedRoundsHistoryLimit = ptr.To[int32](0)
			}),
			status: &sweepv1alpha1.TestingScheduleStatus{LastScheduleTime: at(schedToday)},
			rounds: []seeded{
				scheduledRound(roundTwoDaysAgo, schedYesterday.AddDate(0, 0, -1), sweepv1alpha1.RoundCompleted, schedYesterday.AddDate(0, 0, -1).Add(5*time.Hour), 0),
				scheduledRound(roundYesterday, schedYesterday, sweepv1alpha1.RoundDeadlineExceeded, schedYesterday.Add(12*time.Hour), 3),
				scheduledRound(roundToday, schedToday, sweepv1alpha1.RoundCompleted, schedToday.Add(50*time.Minute), 0),
			},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				LastScheduleTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				LastSuccessfulRound: roundToday, LastSuccessfulTime: at(schedToday.Add(50 * time.Minute)),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRounds: []roundSummary{mainRound(roundToday, schedToday)},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"too late for startingDeadlineSeconds: missed, no round": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) { s.Spec.StartingDeadlineSeconds = ptr.To[int64](600) }),
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				LastMissedTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantEvents: []string{"Warning MissedSchedule No round for 2026-04-02T15:00:00+08:00: it is more than startingDeadlineSeconds (600) late."},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"suspended: no round, no timer, Ready says why": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) { s.Spec.Suspend = true }),
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonSuspended, "spec.suspend is set: no round is created until it is cleared."),
			},
			wantRes: ctrl.Result{},
		},
		"mop-up due after a round with residents missed: created": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) {
				s.Spec.MopUp = &sweepv1alpha1.MopUpPolicy{After: sweepv1alpha1.Duration{Duration: 30 * time.Minute}}
			}),
			status: &sweepv1alpha1.TestingScheduleStatus{LastScheduleTime: at(schedToday)},
			rounds: []seeded{scheduledRound(roundToday, schedToday, sweepv1alpha1.RoundDeadlineExceeded, tableNow.Add(-30*time.Minute), 7)},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Active: []string{roundToday + "-mopup-1"}, LastScheduleTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRounds: []roundSummary{mainRound(roundToday, schedToday), {Name: roundToday + "-mopup-1", MopUpOf: roundToday,
				Controller: "TestingSchedule/daily", Start: tableNow, Deadline: tableNow.Add(sweepv1alpha1.DefaultMopUpDuration)}},
			wantEvents: []string{"Normal CreatedMopUpRound Created mop-up round daily-202604021500-mopup-1 for the residents daily-202604021500 missed, from 2026-04-02T16:00:00+08:00 to 2026-04-02T20:00:00+08:00."},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"mop-up whose name another round holds: not adopted, said once": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) {
				s.Spec.MopUp = &sweepv1alpha1.MopUpPolicy{After: sweepv1alpha1.Duration{Duration: 30 * time.Minute}}
			}),
			status: &sweepv1alpha1.TestingScheduleStatus{LastScheduleTime: at(schedToday)},
			rounds: []seeded{
				scheduledRound(roundToday, schedToday, sweepv1alpha1.RoundDeadlineExceeded, tableNow.Add(-30*time.Minute), 7),
				{kind: "TestingRound", obj: &sweepv1alpha1.TestingRound{
					ObjectMeta: metav1.ObjectMeta{Namespace: tableNamespace, Name: roundToday + "-mopup-1"},
					Spec: sweepv1alpha1.TestingRoundSpec{Deadline: metav1.Time{Time: tableNow.Add(time.Hour)},
						Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}}}}},
			},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				LastScheduleTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			wantRounds: []roundSummary{mainRound(roundToday, schedToday), {Name: roundToday + "-mopup-1", Deadline: tableNow.Add(time.Hour)}},
			again:      true,
			wantEvents: []string{"Warning MopUpNameTaken Mop-up round daily-202604021500-mopup-1 of daily-202604021500 is not created: a round of that name not made by this schedule exists."},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"round the API server refuses: said, and its time counted as handled": {
			schedule: tableSchedule(nil),
			funcs: interceptor.Funcs{Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
				return invalidTeams
			}},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				LastScheduleTime: at(schedToday), NextScheduleTime: at(schedTomorrow),
				Conditions: ready(metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, nextRoundTomorrow),
			},
			again:      true,
			wantEvents: []string{"Warning InvalidRound Cannot create round daily-202604021500: " + invalidTeams.Error()},
			wantRes:    ctrl.Result{RequeueAfter: 23 * time.Hour},
		},
		"bad cron: Ready False names the field; no retry, no round": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) { s.Spec.Schedule = "0 25 * * *" }),
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Conditions: ready(metav1.ConditionFalse, sweepv1alpha1.ReasonInvalidSchedule,
					`spec.schedule "0 25 * * *": end of range (25) above maximum (23): 25; no round is created until it is fixed`),
			},
			wantEvents: []string{`Warning InvalidSchedule spec.schedule "0 25 * * *": end of range (25) above maximum (23): 25`},
			wantRes:    ctrl.Result{},
		},
		"unknown time zone: Ready False names the field": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) { s.Spec.TimeZone = "Asia/Harbin-Daoli" }),
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Conditions: ready(metav1.ConditionFalse, sweepv1alpha1.ReasonInvalidSchedule,
					`spec.timeZone "Asia/Harbin-Daoli" is not a known IANA time zone: unknown time zone Asia/Harbin-Daoli; no round is created until it is fixed`),
			},
			wantEvents: []string{`Warning InvalidSchedule spec.timeZone "Asia/Harbin-Daoli" is not a known IANA time zone: unknown time zone Asia/Harbin-Daoli`},
			wantRes:    ctrl.Result{},
		},
		"stored duration that is not one: Ready False names the field, the next time forgotten": {
			schedule: tableSchedule(func(s *sweepv1alpha1.TestingSchedule) {
				s.Spec.RoundTemplate.Spec.Duration = sweepv1alpha1.Duration{InvalidText: "12 hours"}
			}),
			status: &sweepv1alpha1.TestingScheduleStatus{NextScheduleTime: at(schedToday)},
			wantStatus: &sweepv1alpha1.TestingScheduleStatus{
				Conditions: ready(metav1.ConditionFalse, sweepv1alpha1.ReasonInvalidSchedule,
					`spec.roundTemplate.spec.duration: "12 hours" is not a duration such as "30s" or "1h30m"; fix or replace the object; no round is created until it is fixed`),
			},
			wantEvents: []string{`Warning InvalidSchedule spec.roundTemplate.spec.duration: "12 hours" is not a duration such as "30s" or "1h30m"; fix or replace the object`},
			wantRes:    ctrl.Result{},
		},
		"schedule gone: nothing to do, no error": {
			rounds:     []seeded{scheduledRound(roundToday, schedToday, sweepv1alpha1.RoundRunning, time.Time{}, 0)},
			wantRounds: []roundSummary{mainRound(roundToday, schedToday)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var objs []seeded
			if tc.schedule != nil {
				s := seeded{kind: "TestingSchedule", obj: tc.schedule}
				if tc.status != nil {
					s.status = []ownedStatus{{ScheduleFieldOwner, tc.status}}
				}
				objs = append(objs, s)
			}
			c := newTableClient(t, tc.funcs, append(objs, tc.rounds...)...)
			rec := events.NewFakeRecorder(10)
			r := &TestingScheduleReconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(tableNow), Recorder: rec, Memory: &expectations.Store{}}

			req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: tableNamespace, Name: "daily"}}
			res, err := r.Reconcile(context.Background(), req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reconcile error %v, want error: %v", err, tc.wantErr)
			}
			var again []string
			if tc.again {
				first := drainEvents(rec)
				if res, err = r.Reconcile(context.Background(), req); err != nil {
					t.Fatalf("second Reconcile: %v", err)
				}
				if again = drainEvents(rec); len(again) > 0 {
					t.Errorf("the second reconcile said again %q", again)
				}
				again = first
			} else {
				again = drainEvents(rec)
			}
			if diff := cmp.Diff(tc.wantRes, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if tc.wantStatus != nil {
				var got sweepv1alpha1.TestingSchedule
				if err := c.Get(context.Background(), types.NamespacedName{Namespace: tableNamespace, Name: "daily"}, &got); err != nil {
					t.Fatal(err)
				}
				// observedGeneration is the fake client's generation, which
				// it does not count as the API server does; the rest is the
				// fixed clock's and the schedule's.
				if diff := cmp.Diff(*tc.wantStatus, got.Status, cmpopts.IgnoreFields(sweepv1alpha1.TestingScheduleStatus{}, "ObservedGeneration"),
					cmpopts.IgnoreFields(metav1.Condition{}, "ObservedGeneration")); diff != "" {
					t.Errorf("status (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tc.wantRounds, scheduleRounds(t, c)); diff != "" {
				t.Errorf("rounds (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantEvents, again); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}
