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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Plan is what a round knows about the buildings it has no job for yet.
type Plan struct {
	// Unplanned counts the buildings to sweep that have no job yet (a city
	// round is created in batches): a round with any is not complete,
	// however many of its jobs finished.
	Unplanned int
	// Wait, when set, is why the round cannot know its buildings yet: a
	// mop-up round waiting for the round it mops up (MopUpWait). The round
	// stays Pending, its Progressing condition saying why, until the
	// deadline.
	Wait *Wait
	// Fixed is set when no building can join the round any more: a mop-up
	// round, once its buildings are taken from the round it mops up. With
	// none (nobody was missed), it is Completed at once, where a round
	// selecting no Building waits for buildings to match.
	Fixed bool
}

// Phase is where the round is now: PhaseOf with unplanned buildings
// (Plan.Unplanned) and nothing else to wait for.
func Phase(r *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob, unplanned int, now time.Time) sweepv1alpha1.RoundPhase {
	return PhaseOf(r, jobs, Plan{Unplanned: unplanned}, now)
}

// PhaseOf is where the round is now. Completed and DeadlineExceeded are
// final. A round completes when every one of its buildings finished (a
// fixed plan with no building: at once); it exceeds its deadline when the
// deadline comes first. It is Pending before its start and while it waits
// (Plan.Wait).
func PhaseOf(r *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob, plan Plan, now time.Time) sweepv1alpha1.RoundPhase {
	if r.Status.Phase.Finished() {
		return r.Status.Phase
	}
	started := r.Spec.Start == nil || !now.Before(r.Spec.Start.Time)
	if started && plan.Wait == nil && plan.Fixed && len(jobs) == 0 && plan.Unplanned == 0 && now.Before(r.Spec.Deadline.Time) {
		return sweepv1alpha1.RoundCompleted
	}
	if started && len(jobs) > 0 && plan.Unplanned == 0 && allFinished(jobs) {
		// Every building written Expired at the deadline is finished too,
		// and may be seen so before the round's own reconcile at the
		// deadline: such a round exceeded its deadline, it did not complete.
		if anyExpired(jobs) {
			return sweepv1alpha1.RoundDeadlineExceeded
		}
		return sweepv1alpha1.RoundCompleted
	}
	switch {
	case !now.Before(r.Spec.Deadline.Time):
		return sweepv1alpha1.RoundDeadlineExceeded
	case !started, plan.Wait != nil:
		return sweepv1alpha1.RoundPending
	case r.Spec.Suspend:
		return sweepv1alpha1.RoundSuspended
	}
	return sweepv1alpha1.RoundRunning
}

// Expanding reports whether the round still takes in buildings: from its
// creation until it ends. A Building that starts matching during that time
// joins the round.
func Expanding(r *sweepv1alpha1.TestingRound, now time.Time) bool {
	return !r.Status.Phase.Finished() && now.Before(r.Spec.Deadline.Time)
}

// DeadlinePassedAtCreation reports a round created with a deadline already
// past: it sweeps nothing, rather than marking every resident missed.
func DeadlinePassedAtCreation(r *sweepv1alpha1.TestingRound) bool {
	return !r.CreationTimestamp.Before(&r.Spec.Deadline)
}

func anyExpired(jobs []*sweepv1alpha1.CollectionJob) bool {
	for _, j := range jobs {
		if j.Status.Phase == sweepv1alpha1.JobExpired {
			return true
		}
	}
	return false
}

func allFinished(jobs []*sweepv1alpha1.CollectionJob) bool {
	for _, j := range jobs {
		if !j.Status.Phase.Finished() {
			return false
		}
	}
	return true
}

// Status is StatusOf with unplanned buildings (Plan.Unplanned) and nothing
// else to wait for.
func Status(r *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob, unplanned int, now time.Time) sweepv1alpha1.TestingRoundStatus {
	return StatusOf(r, jobs, Plan{Unplanned: unplanned}, now)
}

// StatusOf is the round's status computed from its jobs at time now: every
// count is summed from the jobs, never kept as a tally. Conditions keep
// their transition times from the previous status when unchanged.
func StatusOf(r *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob, plan Plan, now time.Time) sweepv1alpha1.TestingRoundStatus {
	old := &r.Status
	st := sweepv1alpha1.TestingRoundStatus{
		Phase:                   PhaseOf(r, jobs, plan, now),
		StartTime:               old.StartTime,
		CompletionTime:          old.CompletionTime,
		ObservedGeneration:      r.Generation,
		Conditions:              append([]metav1.Condition(nil), old.Conditions...),
		EstimatedCompletionTime: nil,
	}
	b := &st.Buildings
	res := &st.Residents
	// Past the deadline, or past one it had before it was moved later:
	// a round that exceeded its deadline is over for good.
	pastDeadline := st.Phase == sweepv1alpha1.RoundDeadlineExceeded
	for _, j := range jobs {
		b.Total++
		// At the deadline every unfinished job is over, whether or not it
		// has written Expired yet: a building never admitted (no visit, no
		// timer of its own) is counted expired, and its residents missed
		// (JobResidents), at once, not once its job catches up.
		phase := EffectivePhase(j)
		if !j.Status.Phase.Finished() && pastDeadline {
			phase = sweepv1alpha1.JobExpired
		}
		switch phase {
		case sweepv1alpha1.JobQueued:
			b.Queued++
		case sweepv1alpha1.JobActive:
			b.Active++
		case sweepv1alpha1.JobWaiting:
			b.Waiting++
		case sweepv1alpha1.JobCompleted:
			b.Completed++
		case sweepv1alpha1.JobExpired:
			b.Expired++
		case sweepv1alpha1.JobFailed:
			b.Failed++
		}
		jr := JobResidents(j, st.Phase)
		jr.AddTo(res)
		pool := int64(PoolSize(r, j))
		st.Tubes.Forecast += (jr.Expected + pool - 1) / pool
		st.Tubes.Used += int64(max(j.Status.Tubes, 0))
	}
	st.Supplies, st.Communities = suppliesAndCommunities(r, jobs, st.Phase)
	finished := b.Completed + b.Expired + b.Failed
	st.BuildingProgress = fmt.Sprintf("%d/%d", finished, b.Total)
	resolved := res.Expected - res.Outstanding
	switch {
	case res.Expected > 0:
		st.ProgressPercent = int32(resolved * 100 / res.Expected)
	case b.Total > 0 && finished == b.Total:
		st.ProgressPercent = 100
	}

	if st.StartTime == nil && st.Phase == sweepv1alpha1.RoundRunning {
		st.StartTime = &metav1.Time{Time: now}
	}
	if st.CompletionTime == nil && st.Phase.Finished() {
		st.CompletionTime = &metav1.Time{Time: now}
	}
	if st.Phase == sweepv1alpha1.RoundRunning && st.StartTime != nil && resolved > 0 && res.Outstanding > 0 {
		// At the pace so far: resolved residents over the time since start.
		elapsed := now.Sub(st.StartTime.Time)
		if elapsed > 0 {
			rest := time.Duration(float64(elapsed) * float64(res.Outstanding) / float64(resolved))
			st.EstimatedCompletionTime = &metav1.Time{Time: now.Add(rest).Truncate(time.Second)}
		}
	}
	setConditions(r, &st, plan, now)
	return st
}

// EffectivePhase is a job's phase as the round counts it: a job the round
// admitted that has not reported a phase yet is Active, and a job without a
// phase that is not admitted is Queued.
func EffectivePhase(j *sweepv1alpha1.CollectionJob) sweepv1alpha1.JobPhase {
	switch {
	case j.Status.Phase.Finished() || j.Status.Phase == sweepv1alpha1.JobWaiting:
		return j.Status.Phase
	case !Admitted(j):
		return sweepv1alpha1.JobQueued
	}
	return sweepv1alpha1.JobActive
}

func setConditions(r *sweepv1alpha1.TestingRound, st *sweepv1alpha1.TestingRoundStatus, plan Plan, now time.Time) {
	b := st.Buildings
	unfinished := b.Total - b.Completed - b.Expired - b.Failed
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		sweepv1alpha1.SetCondition(&st.Conditions, metav1.Condition{
			Type: t, Status: s, Reason: reason, Message: msg,
			ObservedGeneration: r.Generation, LastTransitionTime: metav1.Time{Time: now},
		})
	}

	switch st.Phase {
	case sweepv1alpha1.RoundPending:
		if r.Spec.Start != nil && now.Before(r.Spec.Start.Time) || plan.Wait == nil {
			set(sweepv1alpha1.ConditionProgressing, metav1.ConditionFalse, sweepv1alpha1.ReasonWaitingForStart,
				fmt.Sprintf("The round starts at %s; no building is swept before then.", r.Spec.Start.UTC().Format(time.RFC3339)))
		} else {
			set(sweepv1alpha1.ConditionProgressing, metav1.ConditionFalse, plan.Wait.Reason, plan.Wait.Message)
		}
	case sweepv1alpha1.RoundRunning:
		if b.Total == 0 && plan.Unplanned == 0 {
			set(sweepv1alpha1.ConditionProgressing, metav1.ConditionFalse, sweepv1alpha1.ReasonNoBuildingsSelected,
				fmt.Sprintf("spec.buildingSelector selects no Building in namespace %s: label the buildings to sweep or fix the selector. Buildings that start matching before the deadline join the round.", r.Namespace))
		} else {
			msg := fmt.Sprintf("%d of %d buildings finished, %d being swept by %d teams; %d of %d residents sampled.",
				b.Total-unfinished, b.Total, b.Active+b.Waiting, r.Spec.Teams, st.Residents.Sampled, st.Residents.Expected)
			if plan.Unplanned > 0 {
				msg += fmt.Sprintf(" %d more buildings' jobs are still to be created.", plan.Unplanned)
			}
			set(sweepv1alpha1.ConditionProgressing, metav1.ConditionTrue, sweepv1alpha1.ReasonSweeping, msg)
		}
	case sweepv1alpha1.RoundSuspended:
		set(sweepv1alpha1.ConditionProgressing, metav1.ConditionFalse, sweepv1alpha1.ReasonSuspended,
			"spec.suspend is set: no new building is admitted; visits under way finish.")
	case sweepv1alpha1.RoundCompleted:
		if b.Total == 0 && r.Spec.MopUpOf != "" {
			set(sweepv1alpha1.ConditionProgressing, metav1.ConditionFalse, sweepv1alpha1.ReasonNothingToMopUp,
				fmt.Sprintf("Round %s missed no resident: nobody to go back for.", r.Spec.MopUpOf))
		} else {
			set(sweepv1alpha1.ConditionProgressing, metav1.ConditionFalse, sweepv1alpha1.ReasonAllBuildingsFinished, "Every building finished.")
		}
	case sweepv1alpha1.RoundDeadlineExceeded:
		set(sweepv1alpha1.ConditionProgressing, metav1.ConditionFalse, sweepv1alpha1.ReasonDeadlinePassed, "The deadline passed; no building is admitted any more.")
	}

	if st.Phase == sweepv1alpha1.RoundSuspended {
		set(sweepv1alpha1.ConditionSuspended, metav1.ConditionTrue, sweepv1alpha1.ReasonSuspended, "spec.suspend is set; clear it to resume where the round stopped.")
	} else if meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionSuspended) != nil {
		set(sweepv1alpha1.ConditionSuspended, metav1.ConditionFalse, sweepv1alpha1.ReasonNotSuspended, "The round is not suspended.")
	}

	if src := r.Spec.Collector.Source; src.Simulated() {
		set(sweepv1alpha1.ConditionSimulated, metav1.ConditionTrue, sweepv1alpha1.ReasonDrillSource,
			"spec.collector.source is drill: every result is simulated for an exercise and its missed households are invented. Do not act on them; a real round names the http or csv source.")
	} else {
		set(sweepv1alpha1.ConditionSimulated, metav1.ConditionFalse, sweepv1alpha1.ReasonRecordedSource,
			fmt.Sprintf("Results come from the %s source: the district's sampling records.", src))
	}

	switch st.Phase {
	case sweepv1alpha1.RoundCompleted:
		set(sweepv1alpha1.ConditionComplete, metav1.ConditionTrue, sweepv1alpha1.ReasonAllBuildingsFinished,
			fmt.Sprintf("All %d buildings finished: %d of %d residents sampled, %d missed.",
				b.Total, st.Residents.Sampled, st.Residents.Expected, st.Residents.Missed))
	case sweepv1alpha1.RoundDeadlineExceeded:
		set(sweepv1alpha1.ConditionComplete, metav1.ConditionFalse, sweepv1alpha1.ReasonDeadlinePassed, "The deadline passed before every building finished.")
	default:
		set(sweepv1alpha1.ConditionComplete, metav1.ConditionFalse, sweepv1alpha1.ReasonBuildingsUnfinished,
			fmt.Sprintf("%d of %d buildings are not finished.", unfinished, b.Total))
	}

	switch {
	case st.Phase == sweepv1alpha1.RoundDeadlineExceeded && DeadlinePassedAtCreation(r):
		set(sweepv1alpha1.ConditionDeadlineExceeded, metav1.ConditionTrue, sweepv1alpha1.ReasonDeadlineAlreadyPassed,
			fmt.Sprintf("spec.deadline %s had already passed when the round was created, so nothing was swept and no resident was marked missed. Create a new round with a deadline in the future.",
				r.Spec.Deadline.UTC().Format(time.RFC3339)))
	case st.Phase == sweepv1alpha1.RoundDeadlineExceeded && plan.Wait != nil && b.Total == 0:
		set(sweepv1alpha1.ConditionDeadlineExceeded, metav1.ConditionTrue, sweepv1alpha1.ReasonDeadlinePassed,
			fmt.Sprintf("The deadline %s passed while the round still waited, so nothing was swept: %s",
				r.Spec.Deadline.UTC().Format(time.RFC3339), plan.Wait.Message))
	case st.Phase == sweepv1alpha1.RoundDeadlineExceeded:
		set(sweepv1alpha1.ConditionDeadlineExceeded, metav1.ConditionTrue, sweepv1alpha1.ReasonDeadlinePassed,
			fmt.Sprintf("The deadline %s passed with %d of %d buildings unfinished (expired); residents not sampled there count as missed.",
				r.Spec.Deadline.UTC().Format(time.RFC3339), b.Expired, b.Total))
	default:
		set(sweepv1alpha1.ConditionDeadlineExceeded, metav1.ConditionFalse, sweepv1alpha1.ReasonBeforeDeadline,
			fmt.Sprintf("The deadline is %s.", r.Spec.Deadline.UTC().Format(time.RFC3339)))
	}
}
