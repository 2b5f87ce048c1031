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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RoundOrder is the order in which a round admits its buildings.
// +kubebuilder:validation:Enum=SealedFirst;Name
type RoundOrder string

const (
	// OrderSealedFirst admits Sealed buildings first, then Controlled, then
	// Precaution; by name within a level.
	OrderSealedFirst RoundOrder = "SealedFirst"
	// OrderName admits buildings by name only.
	OrderName RoundOrder = "Name"
)

// RoundPhase is where a round is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Suspended;Completed;DeadlineExceeded
type RoundPhase string

const (
	// RoundPending means the round's start has not come yet; nothing is admitted.
	RoundPending RoundPhase = "Pending"
	// RoundRunning means buildings are being swept.
	RoundRunning RoundPhase = "Running"
	// RoundSuspended means spec.suspend is set; no new building is admitted.
	RoundSuspended RoundPhase = "Suspended"
	// RoundCompleted means every building finished before the deadline.
	RoundCompleted RoundPhase = "Completed"
	// RoundDeadlineExceeded means the deadline passed with buildings unfinished;
	// their residents who were not sampled count as missed.
	RoundDeadlineExceeded RoundPhase = "DeadlineExceeded"
)

// Finished reports whether a round is over for good: Completed or
// DeadlineExceeded. Its phase never changes again (a deadline moved later
// reopens nothing), its missed residents are final, and a mop-up round may
// take its buildings.
func (p RoundPhase) Finished() bool {
	return p == RoundCompleted || p == RoundDeadlineExceeded
}

// CollectorSpec is the collector a round runs for every visit: where it learns
// who has been sampled and, optionally, the pod it runs in.
type CollectorSpec struct {
	CollectorSource `json:",inline"`

	// template is the pod template of each visit's Job. When empty the
	// operator runs its own image as `sweep collect` with a restricted
	// security context. The operator sets the collector's environment
	// (round, building, visit, expected counts) on every container. Visit
	// pods always run as the ServiceAccount sweep-collector: its token is
	// what lets a visit pod write its own building's report and nothing else,
	// so a template cannot name another identity.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.spec) || ((!has(self.spec.serviceAccountName) || self.spec.serviceAccountName == 'sweep-collector') && (!has(self.spec.serviceAccount) || self.spec.serviceAccount == 'sweep-collector'))",message="template.spec.serviceAccountName must be empty or sweep-collector: visit pods always run as the collector's ServiceAccount, which may write only its own building's report",fieldPath=".spec.serviceAccountName"
	Template *corev1.PodTemplateSpec `json:"template,omitempty"`
}

// TestingRoundSpec is one round of mass testing (一轮全员核酸检测) over the
// buildings its selector picks.
// +kubebuilder:validation:XValidation:rule="!has(self.start) || timestamp(self.deadline) > timestamp(self.start)",message="deadline must be after start",fieldPath=".deadline"
// +kubebuilder:validation:XValidation:rule="has(self.mopUpOf) == has(oldSelf.mopUpOf) && (!has(self.mopUpOf) || self.mopUpOf == oldSelf.mopUpOf)",message="mopUpOf cannot change once the round exists: its buildings were taken from the round it names. Create a new round instead.",fieldPath=".mopUpOf"
// +kubebuilder:validation:XValidation:rule="!has(self.mopUpOf) || !has(self.buildingSelector)",message="a mop-up round sweeps the buildings where its earlier round missed residents: leave buildingSelector out when mopUpOf is set",fieldPath=".buildingSelector"
type TestingRoundSpec struct {
	// mopUpOf makes this round a mop-up round (补采): the name of an
	// earlier round in the same namespace whose missed residents it goes
	// back for, and nobody else. Its buildings are those where the earlier
	// round missed residents; each building's expected residents are the
	// ones missed there, and its team knocks only the households the
	// earlier round listed as missed (all of the building when it listed
	// none, such as a building never visited before its deadline). Its
	// buildings are taken once the earlier round has finished (Completed
	// or DeadlineExceeded) and every one of its buildings has: until then
	// the round waits, and its Progressing condition says why. A mop-up
	// round's own missed residents may be mopped up again by another.
	// `sweep missed <earlier round>` shows who is still missing after all
	// of them. Fixed once the round exists.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	MopUpOf string `json:"mopUpOf,omitempty"`

	// buildingSelector picks the Buildings of this round by label. Empty or
	// absent selects every Building in the round's namespace. A mop-up round
	// (mopUpOf) has none.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="matchExpressions operator must be one of In, NotIn, Exists, DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, (e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0))",message="matchExpressions values must be non-empty for In and NotIn and empty for Exists and DoesNotExist"
	BuildingSelector *metav1.LabelSelector `json:"buildingSelector,omitempty"`

	// start is when the round begins admitting buildings. Empty means at once.
	// +optional
	Start *metav1.Time `json:"start,omitempty"`

	// deadline is when the round ends. Buildings not finished by then stop
	// and their residents not sampled count as missed. Must be after start.
	// It may be moved while the round runs: every unfinished building and
	// its visit under way follow at once; a building already expired stays
	// expired.
	// +required
	Deadline metav1.Time `json:"deadline"`

	// teams is how many buildings are swept at once: the number of collection
	// teams. Each admitted, unfinished building holds one team.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Teams int32 `json:"teams,omitempty"`

	// order is the order in which buildings are admitted: SealedFirst
	// (default: Sealed, then Controlled, then Precaution, by name within each)
	// or Name.
	// +optional
	// +kubebuilder:default=SealedFirst
	Order RoundOrder `json:"order,omitempty"`

	// poolSize is how many swabs go into one tube (混管): 1 (single tubes), 5,
	// 10 (default) or 20. Tubes are forecast as ceil(sampled / poolSize) per
	// building.
	// Fixed once the round exists: every building's tube forecast is taken
	// from it when the round expands.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Enum=1;5;10;20
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="poolSize cannot change once the round exists: each building's tube forecast was fixed from it when the round expanded. Create a new round with the pool size you want."
	PoolSize int32 `json:"poolSize,omitempty"`

	// visits is the re-knock policy: how many visits a building gets and how
	// far apart.
	// +optional
	// +kubebuilder:default={}
	Visits VisitPolicy `json:"visits,omitempty"`

	// supplies is how the round forecasts tubes, swabs and tube bags: the
	// spare share and the tubes per bag. Each building's forecast is fixed
	// in its CollectionJob when the round expands, so it cannot change once
	// the round exists.
	// +optional
	// +kubebuilder:default={}
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="supplies cannot change once the round exists: each building's supply forecast was fixed from it when the round expanded. Create a new round with the policy you want."
	Supplies SuppliesPolicy `json:"supplies,omitempty"`

	// collector is what runs each visit: its source of sampling records
	// (required: http, csv, or drill for an exercise) and an optional pod
	// template.
	// +required
	Collector CollectorSpec `json:"collector"`

	// lab names where the round's lab results come from, and how positive
	// pools are followed up: each positive pooled tube gets a PositivePool
	// and a single-tube retest of its households, ahead of every queued
	// building. Without it the round has no lab follow-up.
	// +optional
	Lab *LabSpec `json:"lab,omitempty"`

	// suspend holds the round: no building is admitted and no visit starts
	// (first visits, re-knocks and retries). A visit under way finishes;
	// admitted buildings keep their teams, and clearing it resumes where
	// the round stopped.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// ttlSecondsAfterFinished deletes the round, and with it its collection
	// jobs, this many seconds after it finished. Unset keeps it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// PoolCounts counts a round's positive pools by phase.
type PoolCounts struct {
	// open pools wait for a team to retest them.
	Open int32 `json:"open"`
	// retesting pools have a team retesting their households.
	Retesting int32 `json:"retesting"`
	// awaitingResults pools are retested and wait for single-tube results.
	AwaitingResults int32 `json:"awaitingResults"`
	// resolved pools have every single tube resulted.
	Resolved int32 `json:"resolved"`
	// householdsToSeal is the households whose own tube was positive, over
	// all resolved pools.
	HouseholdsToSeal int32 `json:"householdsToSeal"`
	// oldestOpenResultTime is the pooled result time of the oldest pool
	// not retested yet (open or retesting): the alert on pools not retested
	// in time reads it.
	// +optional
	OldestOpenResultTime *metav1.Time `json:"oldestOpenResultTime,omitempty"`
}

// BuildingCounts counts a round's buildings by the phase of their
// CollectionJob.
type BuildingCounts struct {
	// total is the number of buildings in the round.
	Total int32 `json:"total"`
	// queued buildings wait for a team.
	Queued int32 `json:"queued"`
	// active buildings are being swept now.
	Active int32 `json:"active"`
	// waiting buildings wait for their next re-knock.
	Waiting int32 `json:"waiting"`
	// completed buildings finished with every visit they needed.
	Completed int32 `json:"completed"`
	// expired buildings were still unfinished at the deadline.
	Expired int32 `json:"expired"`
	// failed buildings stopped because their visits kept failing.
	Failed int32 `json:"failed"`
}

// ResidentCounts counts a round's residents. expected = sampled +
// outstanding + missed always holds.
type ResidentCounts struct {
	// expected is the residents to be sampled: registered minus exempt.
	Expected int64 `json:"expected"`
	// sampled residents have been swabbed in this round.
	Sampled int64 `json:"sampled"`
	// outstanding residents are not sampled yet in buildings that have not
	// finished.
	Outstanding int64 `json:"outstanding"`
	// missed residents were not sampled in buildings that finished (漏检):
	// their health codes turn yellow until they test.
	Missed int64 `json:"missed"`
	// exempt residents are not expected (away, in hospital, in central
	// quarantine); not part of expected.
	Exempt int64 `json:"exempt"`
	// homeVisited residents were sampled at home; part of sampled.
	HomeVisited int64 `json:"homeVisited"`
	// extraSampled is what the sources counted as sampled beyond the
	// buildings' expected residents: people the roster does not have
	// (moved in) or exempt residents sampled anyway. Not part of sampled;
	// above zero, the roster needs updating.
	// +optional
	ExtraSampled int64 `json:"extraSampled,omitempty"`
	// missedByReason counts the missed residents by the reason their
	// buildings' sources gave: the fields add up to missed. Residents
	// without a reason are unknown, such as everyone of a building never
	// visited before the deadline. Retests are not counted, as in missed.
	// +optional
	MissedByReason MissedReasonTotals `json:"missedByReason,omitempty"`
}

// TubeCounts counts sample tubes.
type TubeCounts struct {
	// forecast is the tubes the round needs: ceil(expected / poolSize) per
	// building, summed.
	Forecast int64 `json:"forecast"`
	// used is the tubes the collectors reported filled.
	Used int64 `json:"used"`
}

// TestingRoundStatus is computed by the operator from the round's
// CollectionJobs; it is never a running tally.
type TestingRoundStatus struct {
	// phase is where the round is: Pending, Running, Suspended, Completed or
	// DeadlineExceeded.
	// +optional
	Phase RoundPhase `json:"phase,omitempty"`

	// buildings counts the round's buildings by phase.
	// +optional
	Buildings BuildingCounts `json:"buildings,omitempty"`

	// buildingProgress is "finished/total" buildings, for kubectl's table.
	// +optional
	BuildingProgress string `json:"buildingProgress,omitempty"`

	// progressPercent is the share of expected residents no longer
	// outstanding (sampled or finally missed), in percent.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	ProgressPercent int32 `json:"progressPercent,omitempty"`

	// residents counts the round's residents by state.
	// +optional
	Residents ResidentCounts `json:"residents,omitempty"`

	// tubes is the round's tube forecast and use.
	// +optional
	Tubes TubeCounts `json:"tubes,omitempty"`

	// supplies is the round's tubes, swabs and tube bags: forecast (spare
	// share included) against used, summed from its CollectionJobs.
	// +optional
	Supplies Supplies `json:"supplies,omitempty"`

	// retestSupplies are the single tubes and swabs the round's positive
	// pools need: forecast from the round's positivity so far (positive
	// pooled tubes per tube used, applied to every tube the round
	// forecasts, each needing poolSize single tubes and swabs), and used by
	// the retests. Empty without a lab source.
	// +optional
	RetestSupplies *Supplies `json:"retestSupplies,omitempty"`

	// positivePools counts the round's positive pools by phase, and the
	// households their retests found to seal. Empty without a lab source.
	// +optional
	PositivePools *PoolCounts `json:"positivePools,omitempty"`

	// communities is the round's progress and supplies per community, by
	// name, at most 200; a commander reads it to move supplies before a
	// community runs out.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=200
	Communities []CommunityStatus `json:"communities,omitempty"`

	// startTime is when the round started admitting buildings.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the round finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// estimatedCompletionTime is when the round will finish at the pace so
	// far. Empty until there is a pace to go by.
	// +optional
	EstimatedCompletionTime *metav1.Time `json:"estimatedCompletionTime,omitempty"`

	// conditions are the round's conditions, with reasons and messages for
	// people: Progressing, Complete, DeadlineExceeded, Suspended and
	// Simulated.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// observedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// TestingRound is one round of mass testing over a district's buildings. The
// operator creates one CollectionJob per selected building, admits as many at
// once as the round has teams, and rolls their results up into this status.
//
// Short name `round` only: `tr` is Tekton's TaskRun, which a cluster running
// Tekton would answer instead. In the `sweep` category.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=round,categories=sweep
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Buildings",type=string,JSONPath=`.status.buildingProgress`,description="finished/total buildings"
// +kubebuilder:printcolumn:name="Sampled",type=integer,JSONPath=`.status.residents.sampled`
// +kubebuilder:printcolumn:name="Missed",type=integer,JSONPath=`.status.residents.missed`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.progressPercent`,description="percent of expected residents sampled or finally missed"
// +kubebuilder:printcolumn:name="Deadline",type=string,JSONPath=`.spec.deadline`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.collector.source`,description="where results come from; drill results are simulated"
// +kubebuilder:printcolumn:name="Mop-up of",type=string,JSONPath=`.spec.mopUpOf`,description="the earlier round whose missed residents this mop-up round goes back for"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TestingRound struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the round as ops wants it.
	// +required
	Spec TestingRoundSpec `json:"spec"`

	// status is the round as its CollectionJobs report it.
	// +optional
	Status TestingRoundStatus `json:"status,omitempty"`
}

// TestingRoundList is a list of TestingRounds.
//
// +kubebuilder:object:root=true
type TestingRoundList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TestingRound `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &TestingRound{}, &TestingRoundList{})
}
