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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// JobWrapper builds a CollectionJob.
type JobWrapper struct{ sweepv1alpha1.CollectionJob }

// Job starts a CollectionJob with only its namespace and name. Job names
// follow a rule in internal/round (round.JobName); tests that need a
// real one pass it in.
func Job(ns, name string) *JobWrapper {
	return &JobWrapper{sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}
}

// Obj returns the CollectionJob.
func (j *JobWrapper) Obj() *sweepv1alpha1.CollectionJob { return &j.CollectionJob }

// UID sets the UID, as the API server gives one at creation.
func (j *JobWrapper) UID(uid types.UID) *JobWrapper {
	j.ObjectMeta.UID = uid
	return j
}

// Label sets one label.
func (j *JobWrapper) Label(key, value string) *JobWrapper {
	j.Labels = withEntry(j.Labels, key, value)
	return j
}

// Round sets spec.round (the round label is set with Label).
func (j *JobWrapper) Round(name string) *JobWrapper {
	j.Spec.Round = name
	return j
}

// Building sets spec.building.
func (j *JobWrapper) Building(name string) *JobWrapper {
	j.Spec.Building = name
	return j
}

// Expected sets spec.expected.
func (j *JobWrapper) Expected(n int32) *JobWrapper {
	j.Spec.Expected = n
	return j
}

// Exempt sets spec.exempt.
func (j *JobWrapper) Exempt(n int32) *JobWrapper {
	j.Spec.Exempt = n
	return j
}

// Households sets spec.households.
func (j *JobWrapper) Households(n int32) *JobWrapper {
	j.Spec.Households = n
	return j
}

// Layout sets spec.units and spec.floors.
func (j *JobWrapper) Layout(units, floors int32) *JobWrapper {
	j.Spec.Units, j.Spec.Floors = units, floors
	return j
}

// Level sets spec.controlLevel.
func (j *JobWrapper) Level(l sweepv1alpha1.ControlLevel) *JobWrapper {
	j.Spec.ControlLevel = l
	return j
}

// PoolSize sets spec.poolSize.
func (j *JobWrapper) PoolSize(n int32) *JobWrapper {
	j.Spec.PoolSize = n
	return j
}

// Visits sets spec.visits: at most max visits, interval apart (0 leaves
// the interval unset).
func (j *JobWrapper) Visits(max int32, interval time.Duration) *JobWrapper {
	j.Spec.Visits = visitPolicy(max, interval)
	return j
}

// Deadline sets spec.deadline.
func (j *JobWrapper) Deadline(t time.Time) *JobWrapper {
	j.Spec.Deadline = metav1.Time{Time: t}
	return j
}

// Drill makes the drill collector the job's source.
func (j *JobWrapper) Drill() *JobWrapper {
	return j.Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill})
}

// Collector sets spec.collector.
func (j *JobWrapper) Collector(src sweepv1alpha1.CollectorSource) *JobWrapper {
	j.Spec.Collector = src
	return j
}

// Suspend sets spec.suspend (true: not yet admitted).
func (j *JobWrapper) Suspend(s bool) *JobWrapper {
	j.Spec.Suspend = s
	return j
}

// Retest makes the job the retest of a positive pool's tube.
func (j *JobWrapper) Retest(pool, tube string, households ...string) *JobWrapper {
	j.Spec.Retest = &sweepv1alpha1.RetestSpec{Pool: pool, Tube: tube, Households: households}
	return j
}

// MopUp makes the job the mop-up of an earlier round's job.
func (j *JobWrapper) MopUp(round, job string, households ...string) *JobWrapper {
	j.Spec.MopUp = &sweepv1alpha1.MopUpJobSpec{Round: round, Job: job, Households: households}
	return j
}

// Phase sets status.phase.
func (j *JobWrapper) Phase(p sweepv1alpha1.JobPhase) *JobWrapper {
	j.Status.Phase = p
	return j
}

// Sampled sets status.sampled.
func (j *JobWrapper) Sampled(n int32) *JobWrapper {
	j.Status.Sampled = n
	return j
}

// Outstanding sets status.outstanding.
func (j *JobWrapper) Outstanding(n int32) *JobWrapper {
	j.Status.Outstanding = n
	return j
}

// Missed sets status.missed.
func (j *JobWrapper) Missed(n int32) *JobWrapper {
	j.Status.Missed = n
	return j
}

// VisitsMade sets status.visits, the visits made so far.
func (j *JobWrapper) VisitsMade(n int32) *JobWrapper {
	j.Status.Visits = n
	return j
}

// Tubes sets status.tubes.
func (j *JobWrapper) Tubes(n int32) *JobWrapper {
	j.Status.Tubes = n
	return j
}

// HomeVisited sets status.homeVisited.
func (j *JobWrapper) HomeVisited(n int32) *JobWrapper {
	j.Status.HomeVisited = n
	return j
}

// MissedHouseholds sets status.missedHouseholds.
func (j *JobWrapper) MissedHouseholds(households ...string) *JobWrapper {
	j.Status.MissedHouseholds = households
	return j
}

// Completed sets status.completionTime.
func (j *JobWrapper) Completed(t time.Time) *JobWrapper {
	j.Status.CompletionTime = &metav1.Time{Time: t}
	return j
}
