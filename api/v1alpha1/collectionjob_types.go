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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// JobPhase is where a CollectionJob is in its life.
// +kubebuilder:validation:Enum=Queued;Active;Waiting;Completed;Expired;Failed
type JobPhase string

const (
	// JobQueued means waiting for a team (spec.suspend is set).
	JobQueued JobPhase = "Queued"
	// JobActive means a visit is under way.
	JobActive JobPhase = "Active"
	// JobWaiting means residents were missed; the next visit starts at
	// status.nextVisitTime.
	JobWaiting JobPhase = "Waiting"
	// JobCompleted means everyone was sampled, or the visits ran out.
	JobCompleted JobPhase = "Completed"
	// JobExpired means the round's deadline came first; residents not sampled
	// count as missed.
	JobExpired JobPhase = "Expired"
	// JobFailed means visits kept failing; see the Failed condition.
	JobFailed JobPhase = "Failed"
)

// Finished reports whether a job is done for good: Completed, Expired or
// Failed. Its phase never changes again: no visit of it starts, it holds
// no team, and its residents not sampled count as missed. This is the one
// test of it; the round, the lab, the metrics and `sweep` all use it.
func (p JobPhase) Finished() bool {
	return p == JobCompleted || p == JobExpired || p == JobFailed
}

// MaxMissedHouseholds caps the missed household ids kept per building, so a
// status stays small; the count of missed residents is always exact.
const MaxMissedHouseholds = 500

// CollectionJobSpec is one building within one round. The operator writes it
// when it expands the round, copying the building's counts so that later
// edits of the roster do not change a running round.
// +kubebuilder:validation:XValidation:rule="!has(self.homeVisit) || self.homeVisit <= self.expected",message="homeVisit must not exceed expected",fieldPath=".homeVisit"
// +kubebuilder:validation:XValidation:rule="!has(self.retest) || !has(self.mopUp)",message="a job is a positive pool's retest or a mop-up, not both",fieldPath=".mopUp"
// +kubebuilder:validation:XValidation:rule="!has(self.retest) || (has(self.deadline) && has(self.poolSize))",message="a retest carries its pool's deadline and poolSize",fieldPath=".retest"
type CollectionJobSpec struct {
	// round is the name of the TestingRound this job belongs to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="round is immutable"
	Round string `json:"round"`

	// building is the name of the Building this job sweeps.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="building is immutable"
	Building string `json:"building"`

	// expected is the residents to sample: the building's residents minus
	// exempt, when the round expanded.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	Expected int32 `json:"expected"`

	// exempt is the building's exempt residents when the round expanded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	Exempt int32 `json:"exempt,omitempty"`

	// households is the building's registered households when the round
	// expanded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	Households int32 `json:"households,omitempty"`

	// units is the building's number of stairwells when the round expanded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Units int32 `json:"units,omitempty"`

	// floors is the building's number of floors when the round expanded.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=300
	Floors int32 `json:"floors,omitempty"`

	// homeVisit is how many of the expected residents are sampled at home.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	HomeVisit int32 `json:"homeVisit,omitempty"`

	// controlLevel is the building's control level when the round expanded.
	// +optional
	// +kubebuilder:default=Precaution
	ControlLevel ControlLevel `json:"controlLevel,omitempty"`

	// poolSize is swabs per tube of a retest (1: one swab a tube). A job a
	// round creates for a building leaves it unset and pools at its round's
	// spec.poolSize, read from the round.
	// +optional
	// +kubebuilder:validation:Enum=1;5;10;20
	PoolSize int32 `json:"poolSize,omitempty"`

	// supplies is the building's supply forecast, fixed when the round
	// expanded: tubes for the expected residents at poolSize and swabs for
	// each, both with the round's spare share, and the bags for the tubes.
	// +optional
	Supplies *SupplyCounts `json:"supplies,omitempty"`

	// visits is not read: a job follows its round's spec.visits as the
	// round says it now. Jobs created by an earlier Sweep carry a copy here;
	// new ones leave it unset.
	// +optional
	Visits VisitPolicy `json:"visits,omitzero"`

	// deadline is a retest's own deadline (its pool's, which may fall after
	// the round's). A job a round creates for a building leaves it unset:
	// it expires at its round's spec.deadline as the round says it now.
	// +optional
	Deadline metav1.Time `json:"deadline,omitzero"`

	// collector is not read: a job's visits use its round's
	// spec.collector as the round says it now. Jobs created by an earlier Sweep
	// carry a copy here; new ones leave it unset.
	// +optional
	Collector CollectorSource `json:"collector,omitzero"`

	// suspend holds the job in the queue. The round admits a job by clearing
	// it when a team is free.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// retest, when set, makes this job the single-tube retest of a positive
	// pool: it visits only the pool's households (expected is the pool's
	// swabs, poolSize is 1) and is admitted ahead of every building. Its
	// deadline is the pool's, not the round's. Not counted in the round's
	// buildings or residents: the pool's status shows it.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="retest is immutable"
	Retest *RetestSpec `json:"retest,omitempty"`

	// mopUp, when set, makes this job a building's share of a mop-up round
	// (补采): expected is the residents the earlier round missed in the
	// building, and the team knocks only the households it missed. Counted
	// in its round like any building.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="mopUp is immutable"
	MopUp *MopUpJobSpec `json:"mopUp,omitempty"`
}

// MopUpJobSpec is what a mop-up round's job goes back for: the missed
// residents of one building of an earlier round. It is the retest's way of
// knocking a fixed list of doors (RetestSpec.households), with the list
// taken from the earlier round's missed households instead of a pooled
// tube.
type MopUpJobSpec struct {
	// round is the earlier round whose missed residents this job goes back
	// for.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Round string `json:"round"`
	// job is the earlier round's CollectionJob of the building: its missed
	// residents are this job's expected ones.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Job string `json:"job"`
	// households is the knock list: the unit-room ids the earlier job
	// listed as missed, at most 500. Empty when it listed none (a building
	// never visited before the deadline, or a source that names no
	// households): the team then knocks every door of the building.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`
	Households []string `json:"households,omitempty"`
}

// VisitReport is what the collector reported about one visit.
type VisitReport struct {
	// visit is the number of the visit reported on, from 1.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Visit int32 `json:"visit"`

	// sampled is the residents sampled in this round so far, this visit
	// included.
	// +required
	// +kubebuilder:validation:Minimum=0
	Sampled int32 `json:"sampled"`

	// missed is the expected residents not sampled so far: expected =
	// sampled + missed.
	// +required
	// +kubebuilder:validation:Minimum=0
	Missed int32 `json:"missed"`

	// extraSampled is the residents the source counts as sampled beyond the
	// expected ones: people the registry knows and the roster does not
	// (moved in, or exempt and sampled anyway). They are not in sampled.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ExtraSampled int32 `json:"extraSampled,omitempty"`

	// homeVisited is the sampled residents who were sampled at home.
	// +optional
	// +kubebuilder:validation:Minimum=0
	HomeVisited int32 `json:"homeVisited,omitempty"`

	// tubes is the tubes filled so far.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Tubes int32 `json:"tubes,omitempty"`

	// missedHouseholds is the knock list: the unit-room ids (such as
	// "2-1203") of households with residents the source has not sampled, at
	// most 500. Empty when missed is 0. A household may hold several missed
	// residents, and exempt residents the source cannot tell apart, so the
	// list may be longer or shorter than missed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`
	MissedHouseholds []string `json:"missedHouseholds,omitempty"`

	// missedByReason counts the missed residents by the reason the source
	// gave for their household, fitted to missed: the fields add up to
	// missed, residents without a reason are unknown
	// (docs/collector-api.md, "Missed reasons"). Absent when missed is 0,
	// and from an older collector, which knows no reasons: the operator
	// then counts them all unknown.
	// +optional
	MissedByReason *MissedReasonCounts `json:"missedByReason,omitempty"`

	// missedHouseholdReasons is the reason of each household on
	// missedHouseholds that got one from the source, in the same order;
	// households without a reason (unknown) are not listed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=500
	MissedHouseholdReasons []HouseholdReason `json:"missedHouseholdReasons,omitempty"`

	// final is true when the collector finished the visit; a report without
	// it is progress only.
	// +optional
	Final bool `json:"final,omitempty"`

	// time is when the collector made the report.
	// +required
	Time metav1.Time `json:"time"`
}

// CollectionJobStatus is the building's results in this round.
type CollectionJobStatus struct {
	// phase is Queued, Active, Waiting, Completed, Expired or Failed.
	// +optional
	Phase JobPhase `json:"phase,omitempty"`

	// visits is the number of visits started.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Visits int32 `json:"visits,omitempty"`

	// failedAttempts counts the failed attempts of the current visit. A
	// visit is tried at most three times, with growing pauses between.
	// +optional
	// +kubebuilder:validation:Minimum=0
	FailedAttempts int32 `json:"failedAttempts,omitempty"`

	// activeJob is the name of the Job running the current visit.
	// +optional
	ActiveJob string `json:"activeJob,omitempty"`

	// sampled is the residents sampled.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Sampled int32 `json:"sampled,omitempty"`

	// outstanding is the expected residents not sampled yet while the job
	// runs: a re-knock may still find them. 0 once the job finished, when
	// they are counted in missed instead.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Outstanding int32 `json:"outstanding,omitempty"`

	// missed is the expected residents not sampled once the job finished
	// (漏检): no visit is left for them in this round. 0 while the job runs;
	// sampled + outstanding + missed is the expected count of an admitted
	// job.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Missed int32 `json:"missed,omitempty"`

	// extraSampled is the residents the source counted as sampled beyond
	// the expected ones: people the registry knows and the roster does not.
	// Not in sampled; above 0 it says the building's roster needs updating.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ExtraSampled int32 `json:"extraSampled,omitempty"`

	// homeVisited is the sampled residents sampled at home.
	// +optional
	// +kubebuilder:validation:Minimum=0
	HomeVisited int32 `json:"homeVisited,omitempty"`

	// tubes is the tubes filled.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Tubes int32 `json:"tubes,omitempty"`

	// missedHouseholds is the knock list: unit-room ids (such as "2-1203")
	// of households with residents not sampled (outstanding or missed),
	// at most 500; empty when everyone expected is sampled. Exempt
	// residents' households may be on it while anyone is not sampled: the
	// registry does not know who is exempt.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`
	MissedHouseholds []string `json:"missedHouseholds,omitempty"`

	// notSampledByReason counts the residents not sampled by the reason
	// the source gave for their household: outstanding ones while visits
	// remain, missed ones once the job finished. Its fields add up to
	// outstanding + missed; residents without a reason (the source gave
	// none, or no report came yet) are unknown. Absent when everyone
	// expected is sampled and before the job is admitted.
	// +optional
	NotSampledByReason *MissedReasonCounts `json:"notSampledByReason,omitempty"`

	// missedHouseholdReasons is the reason of each household on
	// missedHouseholds that got one from the source, in the same order,
	// at most 500; households without a reason are not listed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=500
	MissedHouseholdReasons []HouseholdReason `json:"missedHouseholdReasons,omitempty"`

	// report is the collector's latest report. The collector writes it
	// through the status subresource with its own field manager.
	// +optional
	Report *VisitReport `json:"report,omitempty"`

	// startTime is when the first visit started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the job finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// nextVisitTime is when the next re-knock starts, while Waiting, or
	// when a failed visit is tried again.
	// +optional
	NextVisitTime *metav1.Time `json:"nextVisitTime,omitempty"`

	// conditions are the job's conditions, with reasons and messages for
	// people: Failed and ReportIgnored.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// CollectionJob is one building within one round: the operator creates it,
// named from the round and the building, runs visits (each a Job running the
// collector), and re-knocks until everyone is sampled or the deadline passes.
//
// Short name `coljob`, not `cj`: `cj` is batch/v1 CronJob's, and kubectl
// picks the built-in, so `kubectl get cj` answered with CronJobs. In the
// `sweep` category with rounds and schedules.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=coljob,categories=sweep
// +kubebuilder:selectablefield:JSONPath=`.spec.round`
// +kubebuilder:selectablefield:JSONPath=`.spec.building`
// +kubebuilder:selectablefield:JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Round",type=string,JSONPath=`.spec.round`
// +kubebuilder:printcolumn:name="Building",type=string,JSONPath=`.spec.building`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Visits",type=integer,JSONPath=`.status.visits`
// +kubebuilder:printcolumn:name="Sampled",type=integer,JSONPath=`.status.sampled`
// +kubebuilder:printcolumn:name="Outstanding",type=integer,JSONPath=`.status.outstanding`
// +kubebuilder:printcolumn:name="Missed",type=integer,JSONPath=`.status.missed`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CollectionJob struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the building's share of the round, fixed at expansion.
	// +required
	Spec CollectionJobSpec `json:"spec"`

	// status is the building's results in this round.
	// +optional
	Status CollectionJobStatus `json:"status,omitempty"`
}

// CollectionJobList is a list of CollectionJobs.
//
// +kubebuilder:object:root=true
type CollectionJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CollectionJob `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &CollectionJob{}, &CollectionJobList{})
}
