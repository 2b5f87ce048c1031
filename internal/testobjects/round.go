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
	"k8s.io/apimachinery/pkg/types"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// RoundWrapper builds a TestingRound.
type RoundWrapper struct{ sweepv1alpha1.TestingRound }

// Round starts a TestingRound with only its namespace and name. The API
// server requires a deadline and a collector source; set them with
// Deadline and Drill (or Collector) for a round that is to be created.
func Round(ns, name string) *RoundWrapper {
	return &RoundWrapper{sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}
}

// Obj returns the TestingRound.
func (r *RoundWrapper) Obj() *sweepv1alpha1.TestingRound { return &r.TestingRound }

// WithUID sets metadata.uid, which job names hash, for rounds that never
// reach an API server.
func (r *RoundWrapper) WithUID(uid types.UID) *RoundWrapper {
	r.UID = uid
	return r
}

// Created sets metadata.creationTimestamp.
func (r *RoundWrapper) Created(t time.Time) *RoundWrapper {
	r.CreationTimestamp = metav1.Time{Time: t}
	return r
}

// Label sets one label.
func (r *RoundWrapper) Label(key, value string) *RoundWrapper {
	r.Labels = withEntry(r.Labels, key, value)
	return r
}

// Annotation sets one annotation.
func (r *RoundWrapper) Annotation(key, value string) *RoundWrapper {
	r.Annotations = withEntry(r.Annotations, key, value)
	return r
}

// Selector selects the buildings with these labels (copied); nil leaves
// spec.buildingSelector unset, which selects every building.
func (r *RoundWrapper) Selector(matchLabels map[string]string) *RoundWrapper {
	if matchLabels == nil {
		r.Spec.BuildingSelector = nil
		return r
	}
	r.Spec.BuildingSelector = &metav1.LabelSelector{MatchLabels: maps.Clone(matchLabels)}
	return r
}

// Start sets spec.start.
func (r *RoundWrapper) Start(t time.Time) *RoundWrapper {
	r.Spec.Start = &metav1.Time{Time: t}
	return r
}

// Deadline sets spec.deadline.
func (r *RoundWrapper) Deadline(t time.Time) *RoundWrapper {
	r.Spec.Deadline = metav1.Time{Time: t}
	return r
}

// Teams sets spec.teams.
func (r *RoundWrapper) Teams(n int32) *RoundWrapper {
	r.Spec.Teams = n
	return r
}

// Order sets spec.order.
func (r *RoundWrapper) Order(o sweepv1alpha1.RoundOrder) *RoundWrapper {
	r.Spec.Order = o
	return r
}

// PoolSize sets spec.poolSize.
func (r *RoundWrapper) PoolSize(n int32) *RoundWrapper {
	r.Spec.PoolSize = n
	return r
}

// Visits sets spec.visits: at most max visits a building, interval apart
// (0 leaves the interval to the API's default).
func (r *RoundWrapper) Visits(max int32, interval time.Duration) *RoundWrapper {
	r.Spec.Visits = visitPolicy(max, interval)
	return r
}

// Drill makes the drill collector the round's source, with the drill's
// defaults.
func (r *RoundWrapper) Drill() *RoundWrapper {
	return r.Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill})
}

// Collector sets spec.collector's source (its pod template is left as is).
func (r *RoundWrapper) Collector(src sweepv1alpha1.CollectorSource) *RoundWrapper {
	r.Spec.Collector.CollectorSource = src
	return r
}

// Lab sets spec.lab.
func (r *RoundWrapper) Lab(lab *sweepv1alpha1.LabSpec) *RoundWrapper {
	r.Spec.Lab = lab
	return r
}

// MopUpOf makes the round a mop-up of the named round.
func (r *RoundWrapper) MopUpOf(round string) *RoundWrapper {
	r.Spec.MopUpOf = round
	return r
}

// Suspend sets spec.suspend.
func (r *RoundWrapper) Suspend(s bool) *RoundWrapper {
	r.Spec.Suspend = s
	return r
}

// Phase sets status.phase.
func (r *RoundWrapper) Phase(p sweepv1alpha1.RoundPhase) *RoundWrapper {
	r.Status.Phase = p
	return r
}

// StartTime sets status.startTime.
func (r *RoundWrapper) StartTime(t time.Time) *RoundWrapper {
	r.Status.StartTime = &metav1.Time{Time: t}
	return r
}

// visitPolicy is max visits interval apart; a zero interval stays unset.
func visitPolicy(max int32, interval time.Duration) sweepv1alpha1.VisitPolicy {
	p := sweepv1alpha1.VisitPolicy{Max: max}
	if interval != 0 {
		p.Interval = sweepv1alpha1.NewDuration(interval)
	}
	return p
}
