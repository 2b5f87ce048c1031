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

package round

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/event"
)

// Observed is what the round controller read for one reconcile.
type Observed struct {
	// Round is the round as the cache shows it (read-only).
	Round *sweepv1alpha1.TestingRound
	// Jobs are every job the round controls, retests included: the
	// cache's, the ones created or being created that the cache does not
	// show yet, and those admitted in memory as admitted copies
	// (spec.suspend false).
	Jobs []*sweepv1alpha1.CollectionJob
	// Creating are the names of the Jobs whose create is in flight. They
	// count for the team bound (one created admitted holds a team) and are
	// not planned again, but the status counts only jobs that exist, and the
	// round is not complete while any is in flight.
	Creating sets.Set[string]
	// Pools are the round's positive pools.
	Pools []*sweepv1alpha1.PositivePool
	// Buildings are the Buildings spec.buildingSelector selects, read when
	// ReadsBuildings says so.
	Buildings []*sweepv1alpha1.Building
	// SelectorError is why spec.buildingSelector could not be read.
	SelectorError error
	// Earlier is the round a mop-up round mops up (spec.mopUpOf), nil when
	// it does not exist or is being deleted; EarlierJobs are its jobs.
	Earlier     *sweepv1alpha1.TestingRound
	EarlierJobs []*sweepv1alpha1.CollectionJob
	// Room bounds the jobs one decision creates: what the manager's create
	// pipeline takes from this round now. 0 creates none; the pipeline
	// wakes the round when it has room again.
	Room int
	// NamesTaken are the buildings whose job could not be created because
	// another object holds its name: they stay without a job, are not
	// planned again while the manager holds them, and the round looks again
	// after NameTakenRetry.
	NamesTaken sets.Set[string]
	// Refused are the buildings whose job the API server refused as
	// invalid: the round does not wait for them while they are held (an
	// InvalidCollectionJob event names each).
	Refused sets.Set[string]
	Now     time.Time
}

// Decision is what the round controller does in one reconcile.
type Decision struct {
	// Create are the jobs to create. Those a team is free for are created
	// admitted (spec.suspend false): no later write admits them.
	Create []*sweepv1alpha1.CollectionJob
	// Admit are the queued jobs to admit now, in memory: the collection
	// controller starts them, and their first status write records it.
	Admit []*sweepv1alpha1.CollectionJob
	// Status is the round's status once the creates and admissions are
	// done, computed from the jobs.
	Status sweepv1alpha1.TestingRoundStatus
	// Events are the transitions from the stored status to Status, to
	// publish with the status write (not when the write is held back).
	Events []event.Event
	// Warnings are bad input the schema could not catch, to publish now.
	Warnings []event.Event
	// RequeueAfter is the latest time to look again, for what no watch
	// reports: the start, the deadline, the next batch of creates, a
	// name held by another object, an earlier round's last jobs.
	RequeueAfter time.Duration
}

// NameTakenRetry is how often a round looks again at a job name another
// object holds.
const NameTakenRetry = 30 * time.Second

// EarlierJobsRetry is how often a mop-up round looks again at an earlier
// round that finished while some of its jobs are not written finished:
// their events wake the earlier round, not this one.
const EarlierJobsRetry = 5 * time.Second

// ReadsBuildings says whether a decision needs the Buildings the round
// selects: a round that takes in buildings, by a selector. Listing them is
// the costliest read of a city round; a finished round does not.
func ReadsBuildings(r *sweepv1alpha1.TestingRound, now time.Time) bool {
	return r.Spec.MopUpOf == "" && Expanding(r, now) && !DeadlinePassedAtCreation(r) && r.Spec.InvalidDurations() == nil
}

// Decide is the round controller's decision for one reconcile: which jobs
// to create, which to admit, the round's status and events, and when to
// look again. It is a pure function of what the controller observed.
func Decide(o Observed) Decision {
	r, now := o.Round, o.Now
	var d Decision
	var wake Wakeup
	all := o.Jobs
	jobs := SweepJobs(all)

	// A mop-up round takes its buildings from the round it mops up, once
	// that round and its buildings finished; until then it waits.
	var plan Plan
	if r.Spec.MopUpOf != "" {
		plan.Wait = MopUpWait(r, o.Earlier, o.EarlierJobs, jobs)
		plan.Fixed = plan.Wait == nil
		if plan.Wait != nil && plan.Wait.Reason == sweepv1alpha1.ReasonEarlierBuildingsFinishing {
			wake.At(EarlierJobsRetry)
		}
	}

	// Expand: one job per building (a round created after its deadline
	// sweeps nothing).
	if Expanding(r, now) && !DeadlinePassedAtCreation(r) && plan.Wait == nil {
		missing, left, warning := plannedJobs(o, jobs)
		if warning != nil {
			d.Warnings = append(d.Warnings, *warning)
		}
		d.Create = missing
		plan.Unplanned = max(left-len(missing)-o.Refused.Len(), 0)
		switch {
		case plan.Unplanned > o.NamesTaken.Len() || o.Creating.Len() > 0:
			// The create pipeline wakes the round when it has room and
			// when its creates are answered; this is the latest time to
			// look again if it does not.
			wake.At(time.Second)
		case o.NamesTaken.Len() > 0:
			wake.At(NameTakenRetry) // until the objects in the way are gone
		}
		if len(missing) > 0 {
			all = append(all[:len(all):len(all)], missing...)
			jobs = append(jobs[:len(jobs):len(jobs)], missing...)
		}
	}

	// Admit as many queued jobs as there are free teams, new and existing
	// alike, so the order and the bound are one rule: the retests of
	// positive pools first, also once the round's own sweep is over.
	// Creates come before admissions: while buildings are still to be
	// planned or creates are in flight, nobody is admitted, because the
	// visits' status writes would take the API server's time from the
	// creates (docs/performance.md). An admission costs no API write, so
	// the queue is admitted at once when the last creates are answered (or
	// created admitted, when they are planned with none in flight).
	moreToCreate := plan.Unplanned > o.NamesTaken.Len() || o.Creating.Len() > 0
	if phase := PhaseOf(r, jobs, plan, now); phase == sweepv1alpha1.RoundRunning && !moreToCreate ||
		phase.Finished() && !r.Spec.Suspend && RetestsWaiting(all) {
		admitted := sets.New[string]()
		created := sets.New[string]()
		for _, j := range d.Create {
			created.Insert(j.Name)
		}
		for _, j := range Admit(r, all) {
			admitted.Insert(j.Name)
			if !created.Has(j.Name) {
				d.Admit = append(d.Admit, j)
			}
		}
		for _, j := range d.Create {
			if admitted.Has(j.Name) {
				j.Spec.Suspend = false // a new object: the decision's own
			}
		}
		all = AsAdmitted(all, admitted)
		jobs = SweepJobs(all)
	}

	// Roll the jobs up into the round's status: those that exist. The ones
	// being created, now or before, are buildings still without a job.
	existing := jobs
	if o.Creating.Len() > 0 || len(d.Create) > 0 {
		creating := o.Creating.Clone()
		for _, j := range d.Create {
			creating = sets.Insert(creating, j.Name)
		}
		existing = make([]*sweepv1alpha1.CollectionJob, 0, len(jobs))
		for _, j := range jobs {
			if creating.Has(j.Name) {
				plan.Unplanned++
			} else {
				existing = append(existing, j)
			}
		}
	}
	st := StatusOf(r, existing, plan, now)
	st.PositivePools = PoolCounts(o.Pools)
	st.RetestSupplies = RetestSupplies(r, &st, all, o.Pools)
	d.Status = st
	d.Events = Events(r, &r.Status, &st)

	// Wake up for the next change of phase that no watch reports.
	switch st.Phase {
	case sweepv1alpha1.RoundPending:
		if r.Spec.Start != nil && now.Before(r.Spec.Start.Time) {
			wake.At(r.Spec.Start.Sub(now))
		}
		// A mop-up round waiting for its earlier round ends at its
		// deadline all the same.
		wake.At(r.Spec.Deadline.Sub(now))
	case sweepv1alpha1.RoundRunning, sweepv1alpha1.RoundSuspended:
		wake.At(r.Spec.Deadline.Sub(now))
	}
	d.RequeueAfter = wake.After
	return d
}

// plannedJobs are the next jobs to create, at most o.Room, none of a held
// building, and how many buildings are without a job in all (held ones
// included); or the bad input that stops the round from taking in
// buildings until its spec changes.
func plannedJobs(o Observed, jobs []*sweepv1alpha1.CollectionJob) ([]*sweepv1alpha1.CollectionJob, int, *event.Event) {
	missing, left, warning := plannedWithHeld(o, jobs, o.Room+o.NamesTaken.Len()+o.Refused.Len())
	out := missing[:0]
	for _, j := range missing {
		if len(out) < o.Room && !o.NamesTaken.Has(j.Spec.Building) && !o.Refused.Has(j.Spec.Building) {
			out = append(out, j)
		}
	}
	return out, left, warning
}

// plannedWithHeld are the first limit jobs to create, held buildings'
// included.
func plannedWithHeld(o Observed, jobs []*sweepv1alpha1.CollectionJob, limit int) ([]*sweepv1alpha1.CollectionJob, int, *event.Event) {
	r := o.Round
	if err := r.Spec.InvalidDurations(); err != nil {
		// Stored before the schema checked it: the jobs would carry it.
		return nil, 0, &event.Event{Type: corev1.EventTypeWarning, Reason: "InvalidSpec",
			Message: fmt.Sprintf("No building is swept until this is fixed: %v", err)}
	}
	if r.Spec.MopUpOf != "" {
		missing, left := MopUpJobs(r, o.Earlier, o.EarlierJobs, jobs, limit)
		return missing, left, nil
	}
	if o.SelectorError != nil {
		// The schema catches most bad selectors; one it cannot waits for
		// the spec to change.
		return nil, 0, &event.Event{Type: corev1.EventTypeWarning, Reason: "InvalidSelector",
			Message: fmt.Sprintf("spec.buildingSelector is invalid: %v", o.SelectorError)}
	}
	missing, left := MissingJobs(r, o.Buildings, jobs, limit)
	return missing, left, nil
}

// AsAdmitted puts in place of the named jobs their admitted copies
// (spec.suspend false), so that what is decided next counts them; the
// jobs themselves (the cache's) are never changed.
func AsAdmitted(jobs []*sweepv1alpha1.CollectionJob, names sets.Set[string]) []*sweepv1alpha1.CollectionJob {
	if names.Len() == 0 {
		return jobs
	}
	out := make([]*sweepv1alpha1.CollectionJob, len(jobs))
	for i, j := range jobs {
		out[i] = j
		if j.Spec.Suspend && names.Has(j.Name) {
			// A shallow copy: decisions never change a job they are given,
			// and a deep copy of every job admitted in memory, at every
			// reconcile, was a fifth of a city round's manager CPU.
			c := *j
			c.Spec.Suspend = false
			out[i] = &c
		}
	}
	return out
}

// Wakeup keeps the soonest positive delay asked for: when to look again.
type Wakeup struct{ After time.Duration }

// At asks to look again after d; a time already past is a second from now.
func (w *Wakeup) At(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	if w.After == 0 || d < w.After {
		w.After = d
	}
}
