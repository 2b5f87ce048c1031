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

// Package collection holds the decisions the collection controller makes
// about one CollectionJob, as a pure function of the job, what its executor
// observes of the current visit, and the time: start a visit, accept a
// report, re-knock, retry a failed visit, expire at the deadline. The
// reconciler in controllers/ reads, calls Decide, and writes.
package collection

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/event"
	"github.com/masstesting/sweep/internal/round"
)

// How a visit attempt ended (Decision.VisitResult, and the result label of
// sweep_visits_total).
const (
	// ResultComplete means the visit ended with everyone sampled.
	ResultComplete = "complete"
	// ResultMissed means the visit ended with residents still missed.
	ResultMissed = "missed"
	// ResultFailed means the attempt failed (crash, or no final report).
	ResultFailed = "failed"
)

// MaxAttempts is how many times one visit is tried before the job fails.
const MaxAttempts = 3

// RetryBackoff is the pause after the first failed attempt of a visit; it
// doubles after each further failure.
const RetryBackoff = 10 * time.Second

// VisitState is what the executor sees of a visit attempt.
type VisitState int

const (
	// VisitUnknown means the executor has no record of the attempt (not created
	// yet, not in the cache yet, or lost in a restart).
	VisitUnknown VisitState = iota
	// VisitRunning means the attempt is under way.
	VisitRunning
	// VisitSucceeded means the attempt's collector exited successfully.
	VisitSucceeded
	// VisitFailed means the attempt's collector failed.
	VisitFailed
)

// Observed is the executor's view of the current visit attempt.
type Observed struct {
	State VisitState
	// Cause says why a failed attempt failed, for people.
	Cause string
	// Started is when the attempt began (zero when unknown).
	Started time.Time
	// Report is a final report the executor holds itself instead of
	// writing it to the API (the local executor runs the collector in the
	// manager's process): it is taken as if it were status.report, and its
	// numbers reach the status in the same write that ends the visit.
	Report *sweepv1alpha1.VisitReport
	// RoundSuspended is the job's round's spec.suspend: while it is set no
	// new visit starts (a first visit, a re-knock, or another attempt of a
	// failed one); a visit under way finishes.
	RoundSuspended bool
}

// FollowRound sets on cj, a reconcile's own copy, what its round says now:
// the deadline, the re-knock policy and the collector source. The job's
// spec holds them as they were when the round expanded; read from the round
// at every reconcile instead, an edit of a running round (a deadline moved
// by the commander, a registry URL or token fixed) reaches every unfinished
// job at once, without a write per job.
// A round that already exceeded its deadline is over: a deadline moved
// later after that reopens none of its jobs (they end at the moment the
// round ended). The round may be the cache's own object: what is taken is
// copied.
func FollowRound(cj *sweepv1alpha1.CollectionJob, r *sweepv1alpha1.TestingRound) {
	// A retest keeps its pool's deadline: a positive pool is chased after
	// the round's own deadline too.
	if cj.Spec.Retest == nil {
		cj.Spec.Deadline = *r.Spec.Deadline.DeepCopy()
		if ended := r.Status.CompletionTime; r.Status.Phase == sweepv1alpha1.RoundDeadlineExceeded && ended != nil && ended.Before(&cj.Spec.Deadline) {
			cj.Spec.Deadline = *ended.DeepCopy()
		}
	}
	cj.Spec.PoolSize = round.PoolSize(r, cj)
	cj.Spec.Visits = *r.Spec.Visits.DeepCopy()
	cj.Spec.Collector = *r.Spec.Collector.CollectorSource.DeepCopy()
}

// Decision is what the reconciler must do.
type Decision struct {
	// Status is the job's new status (without the collector's report).
	Status sweepv1alpha1.CollectionJobStatus
	// Start names a visit attempt to start (idempotent: an executor that
	// already runs it does nothing).
	Start string
	// Visit is the visit number Start runs.
	Visit int32
	// Stop names a visit attempt to stop.
	Stop string
	// RequeueAfter asks to be called again after this long (0: no timer).
	RequeueAfter time.Duration
	// VisitResult says how a visit attempt ended in this decision, for the
	// metrics: ResultComplete, ResultMissed or ResultFailed; empty when none
	// ended.
	VisitResult string
	Events      []event.Event
}

// VisitName is the name of a visit attempt's Job: "<job>-v<N>", and
// "<job>-v<N>-r<K>" for the K-th retry.
func VisitName(job string, visit, failedAttempts int32) string {
	if failedAttempts == 0 {
		return fmt.Sprintf("%s-v%d", job, visit)
	}
	return fmt.Sprintf("%s-v%d-r%d", job, visit, failedAttempts)
}

// Decide is the collection controller's one decision function.
func Decide(cj *sweepv1alpha1.CollectionJob, obs Observed, now time.Time) Decision {
	d := decide(cj, obs, now)
	splitNotSampled(cj, &d.Status)
	return d
}

// splitNotSampled puts the residents not sampled where their name says:
// outstanding while the job runs (a re-knock may still find them), missed
// once it finished. A job not admitted yet has neither. Their counts by
// reason are fitted to them, so they add up whatever happened: no report
// yet, a report without reasons (an older collector), or the deadline
// (everyone the accepted reports did not give a reason is unknown).
func splitNotSampled(cj *sweepv1alpha1.CollectionJob, st *sweepv1alpha1.CollectionJobStatus) {
	if st.Phase == "" || st.Phase == sweepv1alpha1.JobQueued {
		return
	}
	n := notSampled(cj, st)
	st.NotSampledByReason = st.NotSampledByReason.Fitted(n)
	if st.Phase.Finished() {
		st.Outstanding, st.Missed = 0, n
		return
	}
	st.Outstanding, st.Missed = n, 0
}

func notSampled(cj *sweepv1alpha1.CollectionJob, st *sweepv1alpha1.CollectionJobStatus) int32 {
	return max(cj.Spec.Expected-st.Sampled, 0)
}

func decide(cj *sweepv1alpha1.CollectionJob, obs Observed, now time.Time) Decision {
	d := Decision{Status: *cj.Status.DeepCopy()}
	st := &d.Status
	st.Report = nil // the collector's field, never written by the operator
	if st.Phase.Finished() {
		return d
	}
	exp := cj.Spec.Expected

	visitDone := acceptReport(cj, st, obs, now, &d)

	// The deadline ends everything: keep what was reported, the rest is
	// missed.
	if !now.Before(cj.Spec.Deadline.Time) {
		d.Stop = st.ActiveJob
		st.ActiveJob, st.NextVisitTime = "", nil
		st.Phase = sweepv1alpha1.JobExpired
		st.CompletionTime = &metav1.Time{Time: now}
		d.Events = append(d.Events, event.Normal("Expired",
			fmt.Sprintf("Deadline reached after %d visits: %d of %d residents sampled, %d missed.", st.Visits, st.Sampled, exp, notSampled(cj, st))))
		return d
	}

	switch st.Phase {
	case "", sweepv1alpha1.JobQueued:
		if cj.Spec.Suspend {
			// A job waiting for a team keeps the status it has: none, for
			// a job never admitted. The round counts a job with no phase
			// and spec.suspend as Queued (round.EffectivePhase), and so do
			// `sweep status` and the metrics; writing "Queued" into every
			// waiting job would cost one API write per building, tens of
			// thousands in a city round. `kubectl get collectionjobs`
			// shows such a job with an empty PHASE.
			return d
		}
		if obs.RoundSuspended {
			return d // admitted, holding its team, but no visit starts
		}
		st.StartTime = &metav1.Time{Time: now}
		startVisit(cj, st, &d, 1)

	case sweepv1alpha1.JobWaiting:
		if st.NextVisitTime != nil && now.Before(st.NextVisitTime.Time) {
			d.RequeueAfter = st.NextVisitTime.Sub(now)
			return d
		}
		if obs.RoundSuspended {
			// The re-knock is due but held; resuming the round wakes the
			// job (the controller watches its round).
			return d
		}
		startVisit(cj, st, &d, st.Visits+1)

	case sweepv1alpha1.JobActive:
		switch {
		case visitDone:
			endVisit(cj, st, &d, now)
		case st.ActiveJob == "":
			// Paused after a failed attempt.
			if st.NextVisitTime != nil && now.Before(st.NextVisitTime.Time) {
				d.RequeueAfter = st.NextVisitTime.Sub(now)
				return d
			}
			if obs.RoundSuspended {
				return d // another attempt is a new visit pod: held
			}
			st.NextVisitTime = nil
			st.ActiveJob = VisitName(cj.Name, st.Visits, st.FailedAttempts)
			d.Start, d.Visit = st.ActiveJob, st.Visits
		case obs.State == VisitUnknown:
			// Started but not seen yet, or lost in a restart: start it
			// (again). Reports are cumulative, so a rerun counts nobody
			// twice.
			d.Start, d.Visit = st.ActiveJob, st.Visits
		case obs.State == VisitSucceeded:
			failAttempt(cj, st, &d, now, sweepv1alpha1.ReasonNoFinalReport,
				fmt.Sprintf("visit %d: %s finished without a final report from the collector", st.Visits, st.ActiveJob))
		case obs.State == VisitFailed:
			failAttempt(cj, st, &d, now, sweepv1alpha1.ReasonVisitFailed,
				fmt.Sprintf("visit %d: %s failed: %s", st.Visits, st.ActiveJob, obs.Cause))
		}
	}
	return d
}

func startVisit(cj *sweepv1alpha1.CollectionJob, st *sweepv1alpha1.CollectionJobStatus, d *Decision, visit int32) {
	st.Phase = sweepv1alpha1.JobActive
	st.Visits = visit
	st.FailedAttempts = 0
	st.NextVisitTime = nil
	st.ActiveJob = VisitName(cj.Name, visit, 0)
	d.Start, d.Visit = st.ActiveJob, visit
}

// endVisit follows a visit's final report: re-knock later if residents are
// missed and a visit is left that can start before the deadline, else done.
func endVisit(cj *sweepv1alpha1.CollectionJob, st *sweepv1alpha1.CollectionJobStatus, d *Decision, now time.Time) {
	st.ActiveJob = ""
	d.VisitResult = ResultComplete
	if notSampled(cj, st) > 0 {
		d.VisitResult = ResultMissed
	}
	interval := cj.Spec.Visits.IntervalOrDefault()
	next := now.Add(interval)
	if notSampled(cj, st) > 0 && st.Visits < max(cj.Spec.Visits.Max, 1) && next.Before(cj.Spec.Deadline.Time) {
		st.Phase = sweepv1alpha1.JobWaiting
		st.NextVisitTime = &metav1.Time{Time: next}
		d.RequeueAfter = interval
		return
	}
	st.Phase = sweepv1alpha1.JobCompleted
	st.NextVisitTime = nil
	st.CompletionTime = &metav1.Time{Time: now}
}

// failAttempt records a failed attempt: retry after a growing pause, or
// fail the job once MaxAttempts are used up.
func failAttempt(cj *sweepv1alpha1.CollectionJob, st *sweepv1alpha1.CollectionJobStatus, d *Decision, now time.Time, reason, cause string) {
	d.Stop = st.ActiveJob
	d.VisitResult = ResultFailed
	st.ActiveJob = ""
	st.FailedAttempts++
	if st.FailedAttempts >= MaxAttempts {
		st.Phase = sweepv1alpha1.JobFailed
		st.NextVisitTime = nil
		st.CompletionTime = &metav1.Time{Time: now}
		msg := fmt.Sprintf("Gave up after %d attempts of visit %d; last: %s. Residents not sampled (%d) count as missed.", st.FailedAttempts, st.Visits, cause, notSampled(cj, st))
		sweepv1alpha1.SetCondition(&st.Conditions, metav1.Condition{Type: sweepv1alpha1.ConditionFailed, Status: metav1.ConditionTrue,
			Reason: reason, Message: msg, ObservedGeneration: cj.Generation, LastTransitionTime: metav1.Time{Time: now}})
		d.Events = append(d.Events, event.Warning("Failed", msg))
		return
	}
	backoff := RetryBackoff << (st.FailedAttempts - 1)
	st.NextVisitTime = &metav1.Time{Time: now.Add(backoff)}
	d.RequeueAfter = backoff
	d.Events = append(d.Events, event.Warning(reason,
		fmt.Sprintf("Attempt %d of %s; trying again in %s.", st.FailedAttempts, cause, backoff)))
}

// acceptReport takes the collector's report into the status when it is for
// the current visit and possible; it says whether the report ends the visit.
// A report that is impossible, or for another visit and written while this
// one runs, is ignored with a Warning, once.
func acceptReport(cj *sweepv1alpha1.CollectionJob, st *sweepv1alpha1.CollectionJobStatus, obs Observed, now time.Time, d *Decision) bool {
	r := cj.Status.Report
	if r == nil || st.Phase != sweepv1alpha1.JobActive {
		return false
	}
	ignore := func(reason, msg string) bool {
		if c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionReportIgnored); c == nil || c.Message != msg || c.Status != metav1.ConditionTrue {
			d.Events = append(d.Events, event.Warning(reason, msg))
		}
		sweepv1alpha1.SetCondition(&st.Conditions, metav1.Condition{Type: sweepv1alpha1.ConditionReportIgnored, Status: metav1.ConditionTrue,
			Reason: reason, Message: msg, ObservedGeneration: cj.Generation, LastTransitionTime: metav1.Time{Time: now}})
		return false
	}
	if r.Visit != st.Visits {
		// A report left from the previous visit is normal; one written
		// after this visit started, or for a visit not begun, is not.
		if r.Visit > st.Visits || (!obs.Started.IsZero() && r.Time.After(obs.Started)) {
			return ignore(sweepv1alpha1.ReasonReportForAnotherVisit, fmt.Sprintf("Ignored a report for visit %d written at %s: the current visit is %d.",
				r.Visit, r.Time.UTC().Format(time.RFC3339), st.Visits))
		}
		return false
	}
	if problem := impossible(cj, r, st); problem != "" {
		return ignore(sweepv1alpha1.ReasonImpossibleReport, fmt.Sprintf("Ignored the report for visit %d: %s. Results reported earlier are kept.", r.Visit, problem))
	}
	st.Sampled = r.Sampled
	st.ExtraSampled = r.ExtraSampled
	st.HomeVisited = r.HomeVisited
	st.Tubes = r.Tubes
	st.MissedHouseholds = append([]string(nil), r.MissedHouseholds...)
	// Fitted to what is not sampled by splitNotSampled; nil (an older
	// collector's report) counts everyone unknown.
	st.NotSampledByReason = r.MissedByReason.DeepCopy()
	st.MissedHouseholdReasons = append([]sweepv1alpha1.HouseholdReason(nil), r.MissedHouseholdReasons...)
	if c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionReportIgnored); c != nil && c.Status == metav1.ConditionTrue {
		sweepv1alpha1.SetCondition(&st.Conditions, metav1.Condition{Type: sweepv1alpha1.ConditionReportIgnored, Status: metav1.ConditionFalse,
			Reason: sweepv1alpha1.ReasonReportAccepted, Message: fmt.Sprintf("The report for visit %d was accepted.", r.Visit),
			ObservedGeneration: cj.Generation, LastTransitionTime: metav1.Time{Time: now}})
	}
	return r.Final
}

// impossible says what is wrong with a report's numbers, or "". The rules
// are the report's contract in docs/collector-api.md: counts are against the
// roster (expected = sampled + missed), and missed households are the knock
// list, empty once nobody is missed. Their number is not compared with
// missed or with the roster's households: a household may hold several
// missed residents or exempt ones, and a registry may know households the
// roster does not.
func impossible(cj *sweepv1alpha1.CollectionJob, r *sweepv1alpha1.VisitReport, st *sweepv1alpha1.CollectionJobStatus) string {
	exp := cj.Spec.Expected
	switch {
	case r.Sampled < 0 || r.Missed < 0 || r.ExtraSampled < 0 || r.HomeVisited < 0 || r.Tubes < 0:
		return "negative counts"
	case r.Sampled > exp:
		return fmt.Sprintf("%d sampled but only %d residents are expected (count the surplus in extraSampled)", r.Sampled, exp)
	case int64(r.Sampled)+int64(r.Missed) != int64(exp):
		return fmt.Sprintf("sampled %d + missed %d is not the %d expected", r.Sampled, r.Missed, exp)
	case r.HomeVisited > r.Sampled:
		return fmt.Sprintf("%d sampled at home but only %d sampled", r.HomeVisited, r.Sampled)
	case len(r.MissedHouseholds) > sweepv1alpha1.MaxMissedHouseholds:
		return fmt.Sprintf("%d missed households, more than the %d a report holds", len(r.MissedHouseholds), sweepv1alpha1.MaxMissedHouseholds)
	case r.Missed == 0 && len(r.MissedHouseholds) > 0:
		return fmt.Sprintf("%d missed households but no missed residents", len(r.MissedHouseholds))
	case r.MissedByReason != nil && r.MissedByReason.FitTo(r.Missed) != *r.MissedByReason:
		// A collector fits them (collector.ReportFor); counts that are
		// negative or do not add up come from something else.
		return fmt.Sprintf("missed by reason adds up to %d, not the %d missed", r.MissedByReason.Total(), r.Missed)
	case len(r.MissedHouseholdReasons) > len(r.MissedHouseholds):
		return fmt.Sprintf("%d household reasons for %d missed households", len(r.MissedHouseholdReasons), len(r.MissedHouseholds))
	case badHouseholdReason(r.MissedHouseholdReasons):
		return "a household reason is not one of the known reasons"
	case r.Sampled < st.Sampled:
		return fmt.Sprintf("%d sampled is fewer than the %d already reported; sampled counts are for the whole round", r.Sampled, st.Sampled)
	}
	return ""
}

// badHouseholdReason says whether a household's reason is one the status
// does not take: not in the list, or unknown (households without a reason
// are not listed).
func badHouseholdReason(reasons []sweepv1alpha1.HouseholdReason) bool {
	for _, hr := range reasons {
		if !hr.Reason.Valid() || hr.Reason == sweepv1alpha1.MissedUnknown {
			return true
		}
	}
	return false
}
