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

package testobjects

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

// Each builder, one full chain against the object written out by hand: a
// setter that wrote the wrong field, or a field it should not, fails here.
func TestBuildersPure(t *testing.T) {
	street := map[string]string{sweepv1alpha1.LabelStreet: "baoguo"}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"building",
			Building("pingfang", "xinjiang-7").WithLabels(street).Label(sweepv1alpha1.LabelCommunity, "xinjiang").
				Street("baoguo").Community("xinjiang").Residents(120).Exempt(3).HomeVisit(2).Households(40).
				Layout(2, 10).Level(sweepv1alpha1.ControlLevelSealed).Obj(),
			&sweepv1alpha1.Building{
				ObjectMeta: metav1.ObjectMeta{Namespace: "pingfang", Name: "xinjiang-7", Labels: map[string]string{
					sweepv1alpha1.LabelStreet: "baoguo", sweepv1alpha1.LabelCommunity: "xinjiang"}},
				Spec: sweepv1alpha1.BuildingSpec{Street: "baoguo", Community: "xinjiang", Residents: 120, Exempt: 3,
					HomeVisit: 2, Households: 40, Units: 2, Floors: 10, ControlLevel: sweepv1alpha1.ControlLevelSealed},
			}},
		{"round",
			Round("pingfang", "baoguo-1126").WithUID("uid").Created(t0.Add(-time.Hour)).
				Label(sweepv1alpha1.LabelSchedule, "daily").Annotation(sweepv1alpha1.AnnotationScheduledTime, "06:00").
				Selector(street).Start(t0).Deadline(t0.Add(12*time.Hour)).Teams(3).Order(sweepv1alpha1.OrderSealedFirst).
				PoolSize(10).Visits(2, time.Hour).Drill().Lab(&sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill}).
				MopUpOf("baoguo-1125").Suspend(true).Phase(sweepv1alpha1.RoundRunning).StartTime(t0).Obj(),
			&sweepv1alpha1.TestingRound{
				ObjectMeta: metav1.ObjectMeta{Namespace: "pingfang", Name: "baoguo-1126", UID: "uid",
					CreationTimestamp: metav1.Time{Time: t0.Add(-time.Hour)},
					Labels:            map[string]string{sweepv1alpha1.LabelSchedule: "daily"},
					Annotations:       map[string]string{sweepv1alpha1.AnnotationScheduledTime: "06:00"}},
				Spec: sweepv1alpha1.TestingRoundSpec{
					BuildingSelector: &metav1.LabelSelector{MatchLabels: street},
					Start:            &metav1.Time{Time: t0}, Deadline: metav1.Time{Time: t0.Add(12 * time.Hour)},
					Teams: 3, Order: sweepv1alpha1.OrderSealedFirst, PoolSize: 10,
					Visits:    sweepv1alpha1.VisitPolicy{Max: 2, Interval: &sweepv1alpha1.Duration{Duration: time.Hour}},
					Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}},
					Lab:       &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill},
					MopUpOf:   "baoguo-1125", Suspend: true,
				},
				Status: sweepv1alpha1.TestingRoundStatus{Phase: sweepv1alpha1.RoundRunning, StartTime: &metav1.Time{Time: t0}},
			}},
		{"job",
			Job("pingfang", "baoguo-1126-xinjiang-7").Label(sweepv1alpha1.LabelRound, "baoguo-1126").
				Round("baoguo-1126").Building("xinjiang-7").Expected(117).Exempt(3).Households(40).Layout(2, 10).
				Level(sweepv1alpha1.ControlLevelControlled).PoolSize(10).Visits(3, 0).Deadline(t0).Drill().Suspend(true).
				Retest("p-1", "P-1", "1-101").MopUp("baoguo-1125", "j", "2-202").
				Phase(sweepv1alpha1.JobWaiting).Sampled(100).Outstanding(17).Missed(1).VisitsMade(2).Tubes(10).
				HomeVisited(2).MissedHouseholds("1-101").Completed(t0).Obj(),
			&sweepv1alpha1.CollectionJob{
				ObjectMeta: metav1.ObjectMeta{Namespace: "pingfang", Name: "baoguo-1126-xinjiang-7",
					Labels: map[string]string{sweepv1alpha1.LabelRound: "baoguo-1126"}},
				Spec: sweepv1alpha1.CollectionJobSpec{Round: "baoguo-1126", Building: "xinjiang-7", Expected: 117, Exempt: 3,
					Households: 40, Units: 2, Floors: 10, ControlLevel: sweepv1alpha1.ControlLevelControlled, PoolSize: 10,
					Visits: sweepv1alpha1.VisitPolicy{Max: 3}, Deadline: metav1.Time{Time: t0},
					Collector: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}, Suspend: true,
					Retest: &sweepv1alpha1.RetestSpec{Pool: "p-1", Tube: "P-1", Households: []string{"1-101"}},
					MopUp:  &sweepv1alpha1.MopUpJobSpec{Round: "baoguo-1125", Job: "j", Households: []string{"2-202"}}},
				Status: sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Sampled: 100, Outstanding: 17,
					Missed: 1, Visits: 2, Tubes: 10, HomeVisited: 2, MissedHouseholds: []string{"1-101"},
					CompletionTime: &metav1.Time{Time: t0}},
			}},
		{"schedule",
			Schedule("pingfang", "daily", "0 6 * * *").Created(t0).TimeZone("Asia/Shanghai").
				Concurrency(sweepv1alpha1.ConcurrencyForbid).StartingDeadline(60).HistoryLimits(3, 1).
				RoundDuration(12*time.Hour).Teams(4).Visits(2, time.Minute).Selector(street).Drill().Obj(),
			&sweepv1alpha1.TestingSchedule{
				ObjectMeta: metav1.ObjectMeta{Namespace: "pingfang", Name: "daily", CreationTimestamp: metav1.Time{Time: t0}},
				Spec: sweepv1alpha1.TestingScheduleSpec{Schedule: "0 6 * * *", TimeZone: "Asia/Shanghai",
					ConcurrencyPolicy: sweepv1alpha1.ConcurrencyForbid, StartingDeadlineSeconds: new(int64(60)),
					SuccessfulRoundsHistoryLimit: new(int32(3)), FailedRoundsHistoryLimit: new(int32(1)),
					RoundTemplate: sweepv1alpha1.RoundTemplate{Spec: sweepv1alpha1.RoundTemplateSpec{
						Duration: sweepv1alpha1.Duration{Duration: 12 * time.Hour}, Teams: 4,
						Visits:           sweepv1alpha1.VisitPolicy{Max: 2, Interval: &sweepv1alpha1.Duration{Duration: time.Minute}},
						BuildingSelector: &metav1.LabelSelector{MatchLabels: street},
						Collector:        sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}},
					}}},
			}},
		{"pool",
			Pool("pingfang", "p-1").ResultTime(t0).Phase(sweepv1alpha1.PoolResolved).HouseholdsToSeal("1-101").Obj(),
			&sweepv1alpha1.PositivePool{
				ObjectMeta: metav1.ObjectMeta{Namespace: "pingfang", Name: "p-1"},
				Spec:       sweepv1alpha1.PositivePoolSpec{ResultTime: metav1.Time{Time: t0}},
				Status:     sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolResolved, HouseholdsToSeal: []string{"1-101"}},
			}},
	} {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

// Objects built from one label map do not share it: a test that edits one
// object's labels leaves the others and the map alone.
func TestLabelsCopiedPure(t *testing.T) {
	street := map[string]string{sweepv1alpha1.LabelStreet: "baoguo"}
	a := Building("ns", "a").WithLabels(street).Obj()
	r := Round("ns", "r").Selector(street).Obj()
	a.Labels["extra"] = "x"
	r.Spec.BuildingSelector.MatchLabels["extra"] = "x"
	if len(street) != 1 {
		t.Errorf("the caller's map was changed: %v", street)
	}
	if b := Building("ns", "b").WithLabels(nil).Obj(); b.Labels != nil {
		t.Errorf("no labels gave %v, want nil", b.Labels)
	}
	if r := Round("ns", "r").Selector(nil).Obj(); r.Spec.BuildingSelector != nil {
		t.Errorf("a nil selector gave %v, want none", r.Spec.BuildingSelector)
	}
}
