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
	"maps"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// ScheduleWrapper builds a TestingSchedule.
type ScheduleWrapper struct{ sweepv1alpha1.TestingSchedule }

// Schedule starts a TestingSchedule with its namespace, name and cron
// expression.
func Schedule(ns, name, cron string) *ScheduleWrapper {
	return &ScheduleWrapper{sweepv1alpha1.TestingSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       sweepv1alpha1.TestingScheduleSpec{Schedule: cron},
	}}
}

// Obj returns the TestingSchedule.
func (s *ScheduleWrapper) Obj() *sweepv1alpha1.TestingSchedule { return &s.TestingSchedule }

// Created sets metadata.creationTimestamp.
func (s *ScheduleWrapper) Created(t time.Time) *ScheduleWrapper {
	s.CreationTimestamp = metav1.Time{Time: t}
	return s
}

// TimeZone sets spec.timeZone.
func (s *ScheduleWrapper) TimeZone(tz string) *ScheduleWrapper {
	s.Spec.TimeZone = tz
	return s
}

// Concurrency sets spec.concurrencyPolicy.
func (s *ScheduleWrapper) Concurrency(p sweepv1alpha1.ConcurrencyPolicy) *ScheduleWrapper {
	s.Spec.ConcurrencyPolicy = p
	return s
}

// StartingDeadline sets spec.startingDeadlineSeconds.
func (s *ScheduleWrapper) StartingDeadline(seconds int64) *ScheduleWrapper {
	s.Spec.StartingDeadlineSeconds = &seconds
	return s
}

// HistoryLimits sets how many succeeded and failed rounds are kept.
func (s *ScheduleWrapper) HistoryLimits(succeeded, failed int32) *ScheduleWrapper {
	s.Spec.SuccessfulRoundsHistoryLimit, s.Spec.FailedRoundsHistoryLimit = &succeeded, &failed
	return s
}

// RoundDuration sets how long each round runs (its deadline after its
// start).
func (s *ScheduleWrapper) RoundDuration(d time.Duration) *ScheduleWrapper {
	s.Spec.RoundTemplate.Spec.Duration = sweepv1alpha1.Duration{Duration: d}
	return s
}

// Teams sets the rounds' teams.
func (s *ScheduleWrapper) Teams(n int32) *ScheduleWrapper {
	s.Spec.RoundTemplate.Spec.Teams = n
	return s
}

// Visits sets the rounds' visit policy (a zero interval stays unset).
func (s *ScheduleWrapper) Visits(max int32, interval time.Duration) *ScheduleWrapper {
	s.Spec.RoundTemplate.Spec.Visits = visitPolicy(max, interval)
	return s
}

// Selector selects the rounds' buildings by these labels (copied).
func (s *ScheduleWrapper) Selector(matchLabels map[string]string) *ScheduleWrapper {
	s.Spec.RoundTemplate.Spec.BuildingSelector = &metav1.LabelSelector{MatchLabels: maps.Clone(matchLabels)}
	return s
}

// Drill makes the drill collector the rounds' source.
func (s *ScheduleWrapper) Drill() *ScheduleWrapper {
	return s.Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill})
}

// Collector sets the rounds' collector source.
func (s *ScheduleWrapper) Collector(src sweepv1alpha1.CollectorSource) *ScheduleWrapper {
	s.Spec.RoundTemplate.Spec.Collector.CollectorSource = src
	return s
}
