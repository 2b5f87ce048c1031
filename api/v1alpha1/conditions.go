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

package v1alpha1

import (
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The condition types and reasons Sweep writes, as `kubectl describe` and
// `kubectl get -o jsonpath='{.status.conditions}'` show them. They are part
// of the API: alerts, scripts and other tools may match on them. Each
// message says the rest for people.

// TestingRound condition types.
const (
	// ConditionProgressing is True while buildings are being swept. When it
	// is False its reason says why not: the round waits for its start
	// (ReasonWaitingForStart), selects no building (ReasonNoBuildingsSelected),
	// is suspended (ReasonSuspended), waits for the round it mops up (the
	// ReasonEarlier... reasons, ReasonMopUpOfItself), or is over
	// (ReasonAllBuildingsFinished, ReasonNothingToMopUp, ReasonDeadlinePassed).
	ConditionProgressing = "Progressing"
	// ConditionComplete is True when every building finished before the
	// deadline; the round's results are final.
	ConditionComplete = "Complete"
	// ConditionDeadlineExceeded is True once the deadline passed with
	// buildings unfinished: their residents not sampled count as missed. A
	// mop-up round (spec.mopUpOf) goes back for them.
	ConditionDeadlineExceeded = "DeadlineExceeded"
	// ConditionSuspended is True while spec.suspend holds the round. It is
	// written False (ReasonNotSuspended) once a suspended round resumes.
	ConditionSuspended = "Suspended"
	// ConditionSimulated is True while the round's results come from the
	// drill source: nobody was sampled and its missed households are
	// invented, so no health code may follow from them.
	ConditionSimulated = "Simulated"
)

// TestingRound condition reasons.
const (
	// ReasonSweeping (Progressing=True): buildings are being swept; the
	// message counts them.
	ReasonSweeping = "Sweeping"
	// ReasonWaitingForStart (Progressing=False): spec.start has not come
	// yet. Nothing to do; move spec.start to start earlier.
	ReasonWaitingForStart = "WaitingForStart"
	// ReasonNoBuildingsSelected (Progressing=False): spec.buildingSelector
	// selects no Building in the round's namespace. Label the buildings or
	// fix the selector; buildings matching before the deadline join.
	ReasonNoBuildingsSelected = "NoBuildingsSelected"
	// ReasonSuspended (a round's Progressing=False and Suspended=True, a
	// schedule's Ready=True): spec.suspend is set by a person. A round
	// admits no new building (visits under way finish), a schedule creates
	// no round. Clear spec.suspend to resume.
	ReasonSuspended = "Suspended"
	// ReasonNotSuspended (Suspended=False): the round was suspended and is
	// not any more.
	ReasonNotSuspended = "NotSuspended"
	// ReasonAllBuildingsFinished (Progressing=False, Complete=True): every
	// building finished before the deadline.
	ReasonAllBuildingsFinished = "AllBuildingsFinished"
	// ReasonBuildingsUnfinished (Complete=False): the round is not over;
	// the message counts the buildings left.
	ReasonBuildingsUnfinished = "BuildingsUnfinished"
	// ReasonDeadlinePassed (Progressing=False, Complete=False,
	// DeadlineExceeded=True): spec.deadline passed with buildings
	// unfinished. Their missed residents are final; run a mop-up round.
	ReasonDeadlinePassed = "DeadlinePassed"
	// ReasonDeadlineAlreadyPassed (DeadlineExceeded=True): spec.deadline had
	// passed when the round was created, so nothing was swept. Create a new
	// round with a deadline in the future.
	ReasonDeadlineAlreadyPassed = "DeadlineAlreadyPassed"
	// ReasonBeforeDeadline (DeadlineExceeded=False): the deadline is still
	// to come; the message gives it.
	ReasonBeforeDeadline = "BeforeDeadline"
	// ReasonDrillSource (Simulated=True): spec.collector.source is drill.
	// Do not act on the results.
	ReasonDrillSource = "DrillSource"
	// ReasonRecordedSource (Simulated=False): results come from the
	// district's sampling records (the http or csv source).
	ReasonRecordedSource = "RecordedSource"
)

// Reasons of a mop-up round's (spec.mopUpOf) Progressing=False condition
// while it waits for the round it mops up, and when that round missed
// nobody.
const (
	// ReasonEarlierRoundNotFound: the round named in spec.mopUpOf does not
	// exist in the namespace. Fix the name (create a new round) or create
	// that round; the mop-up waits until its deadline.
	ReasonEarlierRoundNotFound = "EarlierRoundNotFound"
	// ReasonEarlierRoundNotFinished: the round mopped up is still running;
	// its missed residents are known once it finishes. Nothing to do.
	ReasonEarlierRoundNotFinished = "EarlierRoundNotFinished"
	// ReasonEarlierBuildingsFinishing: the round mopped up finished but
	// some of its buildings are not written finished yet (a moment after
	// its deadline). Nothing to do.
	ReasonEarlierBuildingsFinishing = "EarlierBuildingsFinishing"
	// ReasonMopUpOfItself: spec.mopUpOf names the round itself. Create a
	// new round naming the round to mop up.
	ReasonMopUpOfItself = "MopUpOfItself"
	// ReasonNothingToMopUp: the round mopped up missed no resident; the
	// mop-up is Completed at once.
	ReasonNothingToMopUp = "NothingToMopUp"
)

// CollectionJob condition types and reasons.
const (
	// ConditionFailed is True when the job gave up: every attempt of a
	// visit failed (MaxAttempts). Its residents not sampled count as
	// missed. The message ends with the last attempt's cause (the visit
	// Job's failure, the collector's last words): fix the collector or its
	// source, then a mop-up round goes back.
	ConditionFailed = "Failed"
	// ConditionReportIgnored is True while the collector's last report was
	// ignored (ReasonImpossibleReport, ReasonReportForAnotherVisit); results
	// reported earlier are kept. It turns False (ReasonReportAccepted) when
	// a report is taken again. A collector bug: see docs/collector-api.md.
	ConditionReportIgnored = "ReportIgnored"

	// ReasonVisitFailed (Failed=True, and the Warning event of each failed
	// attempt): the visit's collector crashed or its Job failed.
	ReasonVisitFailed = "VisitFailed"
	// ReasonNoFinalReport (Failed=True): the collector exited without a
	// final report for the visit.
	ReasonNoFinalReport = "NoFinalReport"
	// ReasonImpossibleReport (ReportIgnored=True): the report's numbers
	// break the report's contract (more sampled than expected, say).
	ReasonImpossibleReport = "ImpossibleReport"
	// ReasonReportForAnotherVisit (ReportIgnored=True): the report names a
	// visit other than the one under way.
	ReasonReportForAnotherVisit = "ReportForAnotherVisit"
	// ReasonReportAccepted (ReportIgnored=False): a report was taken after
	// one was ignored.
	ReasonReportAccepted = "ReportAccepted"
)

// PositivePool condition types and reasons.
const (
	// ConditionIncomplete is True on a resolved pool whose retest did not
	// swab every resident of the tube: those residents are missed; find
	// them with `sweep missed`.
	ConditionIncomplete = "Incomplete"
	// ReasonResidentsNotRetested (Incomplete=True): the retest ended with
	// residents of the tube not retested.
	ReasonResidentsNotRetested = "ResidentsNotRetested"
)

// TestingSchedule condition types and reasons.
const (
	// ConditionReady is True while the schedule creates rounds as planned
	// (ReasonScheduled, or ReasonSuspended while spec.suspend is set), False
	// with ReasonInvalidSchedule when it cannot.
	ConditionReady = "Ready"
	// ReasonScheduled (Ready=True): the message gives the next round's time.
	ReasonScheduled = "Scheduled"
	// ReasonInvalidSchedule (Ready=False): the cron line, the time zone or
	// a duration of the round template cannot be used; the message names
	// the field. No round is created until the spec is fixed.
	ReasonInvalidSchedule = "InvalidSchedule"
)

// MaxConditionMessageLength is the longest condition message the API
// server stores (metav1.Condition's message, in bytes).
const MaxConditionMessageLength = 32768

// conditionMessageCut ends a message shortened to fit.
const conditionMessageCut = " ..."

// TruncateConditionMessage cuts msg to MaxConditionMessageLength, ending
// it with " ..." when cut, as Kueue does: a message that embeds an error or
// a collector's output could be longer, and the API server would reject
// the whole status write. It never splits a UTF-8 character.
func TruncateConditionMessage(msg string) string {
	if len(msg) <= MaxConditionMessageLength {
		return msg
	}
	cut := MaxConditionMessageLength - len(conditionMessageCut)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return strings.ToValidUTF8(msg[:cut], "") + conditionMessageCut
}

// SetCondition sets c in conds as meta.SetStatusCondition does (its
// LastTransitionTime kept unless the status changes), with its message
// truncated to fit (TruncateConditionMessage). It reports whether conds
// changed. Every condition Sweep writes goes through it.
func SetCondition(conds *[]metav1.Condition, c metav1.Condition) bool {
	c.Message = TruncateConditionMessage(c.Message)
	return meta.SetStatusCondition(conds, c)
}
