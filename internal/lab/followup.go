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

package lab

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/event"
	"github.com/masstesting/sweep/internal/round"
)

// PoolName is the name of the PositivePool (and of its retest
// CollectionJob) for a tube of a round: the round and tube cut to fit, and
// a hash of the round's UID and the tube, so that names never collide with
// another round's, with a building's job (whose hash input has no "/pool/")
// nor with another tube's.
func PoolName(roundName string, roundUID string, tube string) string {
	readable := strings.ToLower(roundName + "-" + strings.NewReplacer("_", "-", ".", "-").Replace(tube))
	return round.WithHash(readable, round.MaxJobNameLength, roundUID+"/pool/"+tube)
}

// Event is something people should hear about a pool.
type Event struct {
	// Pool is the pool's name.
	Pool string
	event.Event
}

// Observed is what the lab controller saw of one round.
type Observed struct {
	Round *sweepv1alpha1.TestingRound
	Tally *Tally
	// Pools are the round's PositivePools, Retests its retest jobs, Jobs
	// its buildings' jobs (for the buildings' labels and roster counts).
	Pools   []*sweepv1alpha1.PositivePool
	Retests []*sweepv1alpha1.CollectionJob
	Jobs    []*sweepv1alpha1.CollectionJob
	Now     time.Time
}

// Decision is what the lab controller must do for the round.
type Decision struct {
	// NewPools are positive tubes with no PositivePool yet.
	NewPools []*sweepv1alpha1.PositivePool
	// NewRetests are pools with no retest job yet (new pools' included).
	NewRetests []*sweepv1alpha1.CollectionJob
	// Statuses are the pools whose status changed, by name.
	Statuses map[string]sweepv1alpha1.PositivePoolStatus
	// Resolved are the pools that resolved in this decision.
	Resolved []*sweepv1alpha1.PositivePool
	Events   []Event
}

// Decide is the lab controller's one decision function: from what the lab
// said and the round's pools and retests, the pools and retests to create
// and each pool's status.
func Decide(o Observed) Decision {
	d := Decision{Statuses: map[string]sweepv1alpha1.PositivePoolStatus{}}
	r := o.Round
	byTube := map[string]*sweepv1alpha1.PositivePool{}
	for _, p := range o.Pools {
		byTube[p.Spec.Tube] = p
	}
	retests := map[string]*sweepv1alpha1.CollectionJob{}
	for _, j := range o.Retests {
		if j.Spec.Retest != nil {
			retests[j.Spec.Retest.Pool] = j
		}
	}
	sweepJob := map[string]*sweepv1alpha1.CollectionJob{}
	for _, j := range o.Jobs {
		sweepJob[j.Spec.Building] = j
	}

	tubes := make([]string, 0, len(o.Tally.Positive))
	for t := range o.Tally.Positive {
		tubes = append(tubes, t)
	}
	sort.Strings(tubes)
	for _, t := range tubes {
		if byTube[t] != nil {
			continue
		}
		res := o.Tally.Positive[t]
		p := NewPool(r, res)
		byTube[t] = p
		d.NewPools = append(d.NewPools, p)
		d.Events = append(d.Events, Event{p.Name, event.Warning("PositivePool",
			fmt.Sprintf("Pooled tube %s of building %s is positive: %d swabs from %d households to retest one by one.",
				t, res.Building, res.Swabs, len(res.Households)))})
	}

	names := make([]string, 0, len(byTube))
	for t := range byTube {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		p := byTube[t]
		job := retests[p.Name]
		// A pool whose retest ended keeps what it has: a retest job
		// deleted after that is not run again.
		if job == nil && !retestEnded(p.Status.Phase) {
			if sj := sweepJob[p.Spec.Building]; sj != nil && p.DeletionTimestamp == nil {
				d.NewRetests = append(d.NewRetests, NewRetest(r, p, sj))
			}
		}
		st, events := PoolStatus(p, job, o.Tally, o.Now)
		d.Events = append(d.Events, events...)
		if !equality.Semantic.DeepEqual(st, p.Status) {
			d.Statuses[p.Name] = st
			if st.Phase == sweepv1alpha1.PoolResolved && p.Status.Phase != sweepv1alpha1.PoolResolved {
				d.Resolved = append(d.Resolved, p)
			}
		}
	}
	return d
}

// NewPool is the PositivePool of a positive pooled tube, owned by the round.
func NewPool(r *sweepv1alpha1.TestingRound, res TubeResult) *sweepv1alpha1.PositivePool {
	p := &sweepv1alpha1.PositivePool{
		ObjectMeta: metav1.ObjectMeta{
			Name:      PoolName(r.Name, string(r.UID), res.Tube),
			Namespace: r.Namespace,
			Labels: map[string]string{
				sweepv1alpha1.LabelRound:    round.LabelValue(r.Name),
				sweepv1alpha1.LabelBuilding: round.LabelValue(res.Building),
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(r, sweepv1alpha1.GroupVersion.WithKind("TestingRound"))},
		},
		Spec: sweepv1alpha1.PositivePoolSpec{
			Round: r.Name, Building: res.Building, Tube: res.Tube,
			Households: slices.Clone(res.Households), Swabs: res.Swabs,
			ResultTime: metav1.Time{Time: res.ResultTime},
		},
	}
	if res.SwabTime != nil {
		p.Spec.SwabTime = &metav1.Time{Time: *res.SwabTime}
	}
	return p
}

// NewRetest is the retest CollectionJob of pool p: the pool's households
// only, one swab per tube, queued ahead of every building (round.Admit),
// with the round's re-knock policy and collector and the pool's own
// deadline. sweep is the building's job in the round, whose labels and
// roster counts it copies.
func NewRetest(r *sweepv1alpha1.TestingRound, p *sweepv1alpha1.PositivePool, sweep *sweepv1alpha1.CollectionJob) *sweepv1alpha1.CollectionJob {
	labels := map[string]string{}
	for k, v := range sweep.Labels {
		labels[k] = v
	}
	labels[sweepv1alpha1.LabelPool] = round.LabelValue(p.Name)
	deadline := p.Spec.ResultTime.Add(r.Spec.Lab.RetestDeadlineOrDefault())
	return &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{
			Name:            p.Name,
			Namespace:       r.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(r, sweepv1alpha1.GroupVersion.WithKind("TestingRound"))},
		},
		Spec: sweepv1alpha1.CollectionJobSpec{
			Round:        r.Name,
			Building:     p.Spec.Building,
			Expected:     p.Spec.Swabs,
			Households:   int32(len(p.Spec.Households)),
			Units:        sweep.Spec.Units,
			Floors:       sweep.Spec.Floors,
			ControlLevel: sweep.Spec.ControlLevel,
			PoolSize:     1,
			Supplies:     ptr.To(round.Forecast(p.Spec.Swabs, 1, r.Spec.Supplies)),
			Deadline:     metav1.Time{Time: deadline},
			Suspend:      true,
			Retest: &sweepv1alpha1.RetestSpec{
				Pool: p.Name, Tube: p.Spec.Tube, Households: slices.Clone(p.Spec.Households),
			},
		},
	}
}

// PoolStatus is a pool's status from its retest job and the single-tube
// results the lab gave for it:
//   - Open until a team is on it, Retesting while its visits run;
//   - once they end, AwaitingResults until every single tube taken is
//     resulted, then Resolved, with the households whose own tube is
//     positive listed to seal.
//
// Results only add up: a tally read again after a restart starts empty,
// and what the status already says is kept.
func PoolStatus(p *sweepv1alpha1.PositivePool, job *sweepv1alpha1.CollectionJob, t *Tally, now time.Time) (sweepv1alpha1.PositivePoolStatus, []Event) {
	old := p.Status
	st := *old.DeepCopy()
	if old.Phase == sweepv1alpha1.PoolResolved {
		return st, nil
	}
	var events []Event
	st.Phase = sweepv1alpha1.PoolOpen
	if job != nil {
		st.RetestJob = job.Name
		st.Retested = max(st.Retested, job.Status.Sampled)
		if job.Status.StartTime != nil {
			st.RetestStartTime = job.Status.StartTime.DeepCopy()
		}
		switch {
		case job.Status.Phase.Finished():
			st.Phase = sweepv1alpha1.PoolAwaitingResults
			st.RetestCompletionTime = job.Status.CompletionTime.DeepCopy()
		case job.Status.Phase != "" && job.Status.Phase != sweepv1alpha1.JobQueued:
			st.Phase = sweepv1alpha1.PoolRetesting
		}
	}
	// The phase never goes back: a retest job that is gone (deleted after
	// it ended) or seen late in the cache leaves the pool where it was.
	if poolPhaseRank(st.Phase) < poolPhaseRank(old.Phase) {
		st.Phase = old.Phase
	}
	singles := t.Singles[p.Spec.Tube]
	seal := map[string]bool{}
	for _, h := range st.HouseholdsToSeal {
		seal[h] = true
	}
	var last time.Time
	for _, s := range singles {
		if s.Positive {
			seal[s.Household] = true
		}
		if s.ResultTime.After(last) {
			last = s.ResultTime
		}
	}
	st.Resulted = max(st.Resulted, int32(len(singles)))
	st.HouseholdsToSeal = nil
	for h := range seal {
		st.HouseholdsToSeal = append(st.HouseholdsToSeal, h)
	}
	sort.Strings(st.HouseholdsToSeal)

	if st.Phase == sweepv1alpha1.PoolAwaitingResults && st.Resulted >= st.Retested {
		st.Phase = sweepv1alpha1.PoolResolved
		if last.IsZero() {
			last = now
		}
		st.ResolvedTime = &metav1.Time{Time: last}
		msg := fmt.Sprintf("All %d single tubes resulted: %d households to seal (%s).", st.Resulted, len(st.HouseholdsToSeal), strings.Join(st.HouseholdsToSeal, " "))
		if len(st.HouseholdsToSeal) == 0 {
			msg = fmt.Sprintf("All %d single tubes resulted: none positive.", st.Resulted)
		}
		events = append(events, Event{p.Name, event.Normal("PoolResolved", msg)})
		if st.Retested < p.Spec.Swabs {
			sweepv1alpha1.SetCondition(&st.Conditions, metav1.Condition{Type: sweepv1alpha1.ConditionIncomplete, Status: metav1.ConditionTrue,
				Reason: sweepv1alpha1.ReasonResidentsNotRetested, ObservedGeneration: p.Generation, LastTransitionTime: metav1.Time{Time: now},
				Message: fmt.Sprintf("%d of the tube's %d residents were not retested before the retest ended; they are missed.", p.Spec.Swabs-st.Retested, p.Spec.Swabs)})
		}
	}
	if st.Phase != old.Phase {
		switch st.Phase {
		case sweepv1alpha1.PoolRetesting:
			events = append(events, Event{p.Name, event.Normal("RetestStarted",
				fmt.Sprintf("A team is retesting households %s one by one.", strings.Join(p.Spec.Households, " ")))})
		case sweepv1alpha1.PoolAwaitingResults:
			events = append(events, Event{p.Name, event.Normal("RetestDone",
				fmt.Sprintf("Retest done: %d of %d residents swabbed; waiting for their single-tube results.", st.Retested, p.Spec.Swabs))})
		}
	}
	return st, events
}

// poolPhaseRank orders a pool's phases: a pool only moves forward.
func poolPhaseRank(p sweepv1alpha1.PositivePoolPhase) int {
	switch p {
	case sweepv1alpha1.PoolRetesting:
		return 1
	case sweepv1alpha1.PoolAwaitingResults:
		return 2
	case sweepv1alpha1.PoolResolved:
		return 3
	}
	return 0
}

// retestEnded says whether a pool in phase p is past its retest.
func retestEnded(p sweepv1alpha1.PositivePoolPhase) bool {
	return poolPhaseRank(p) >= poolPhaseRank(sweepv1alpha1.PoolAwaitingResults)
}
