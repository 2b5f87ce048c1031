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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SealingPolicy says what happens to a Building once a retest names
// households to seal in it.
// +kubebuilder:validation:Enum=Approval;Automatic
type SealingPolicy string

const (
	// SealingApproval records the households to seal on the Building and
	// asks for an ops approval (ops set spec.controlLevel) before its control
	// level becomes Sealed.
	SealingApproval SealingPolicy = "Approval"
	// SealingAutomatic sets the Building's control level to Sealed at once,
	// so the next round sweeps it first and door to door.
	SealingAutomatic SealingPolicy = "Automatic"
)

// MaxPoolHouseholds caps the households listed for one pooled tube: a tube
// holds at most 20 swabs, so at most 20 households.
const MaxPoolHouseholds = 20

// LabSpec says where a round's lab results come from and how their
// follow-up runs. A round without it has no lab follow-up.
// +kubebuilder:validation:XValidation:rule="self.source != 'http' || has(self.http)",message="http settings are required when source is http",fieldPath=".http"
// +kubebuilder:validation:XValidation:rule="self.source != 'csv' || has(self.csv)",message="csv settings are required when source is csv",fieldPath=".csv"
type LabSpec struct {
	// source is where the results come from: http (the city's lab
	// information system, API in docs/lab-api.md), csv (an exported result
	// list in a ConfigMap) or drill (simulated, for exercises).
	// +required
	Source SourceType `json:"source"`

	// drill tunes the simulated lab. Ignored unless source is drill.
	// +optional
	Drill *LabDrill `json:"drill,omitempty"`

	// http is the lab information system's API. Required when source is
	// http. The operator polls it itself; a token, when the system needs
	// one, is the operator's (docs/lab-api.md), never the round's.
	// +optional
	HTTP *LabHTTP `json:"http,omitempty"`

	// csv names the exported result list. Required when source is csv.
	// +optional
	CSV *LabCSV `json:"csv,omitempty"`

	// pollInterval is how often the operator asks the lab for new results,
	// as a duration such as "1m": from 10s to 1h.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('10s') && duration(self) <= duration('1h'))",message="pollInterval must be from 10s to 1h"
	PollInterval *Duration `json:"pollInterval,omitempty"`

	// retestWithin is how soon after its pooled result a positive pool
	// should be retested: the SweepPositivePoolNotRetested alert fires when
	// a pool is still open or retesting after it. From 10m to 24h.
	// +optional
	// +kubebuilder:default="4h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('10m') && duration(self) <= duration('24h'))",message="retestWithin must be from 10m to 24h"
	RetestWithin *Duration `json:"retestWithin,omitempty"`

	// retestDeadline is how long after its pooled result a retest may run:
	// its CollectionJob expires then, whatever the round's deadline. From
	// 1h to 72h.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1h') && duration(self) <= duration('72h'))",message="retestDeadline must be from 1h to 72h"
	RetestDeadline *Duration `json:"retestDeadline,omitempty"`

	// sealing decides what a household to seal does to its Building:
	// Approval (the default) records it on the Building and waits for ops
	// (`kubectl patch building`); Automatic sets the Building's control
	// level to Sealed.
	// +optional
	// +kubebuilder:default=Approval
	Sealing SealingPolicy `json:"sealing,omitempty"`
}

// LabDrill tunes the simulated lab used for exercises and demos. The same
// seed, round and building always give the same results.
type LabDrill struct {
	// seed makes the simulation repeatable.
	// +optional
	Seed int64 `json:"seed,omitempty"`
	// positivePermille is the share of pooled tubes that test positive, in
	// tubes per thousand.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	PositivePermille *int32 `json:"positivePermille,omitempty"`
	// turnaround is the simulated time from swab to result, as a duration
	// such as "4h"; demos use seconds.
	// +optional
	// +kubebuilder:default="4h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) <= duration('72h')",message="turnaround must be at most 72h"
	Turnaround *Duration `json:"turnaround,omitempty"`
}

// LabHTTP is the city's lab information system.
type LabHTTP struct {
	// url is the base URL of the lab API, http or https.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="url must start with http:// or https://"
	URL string `json:"url"`
	// timeout bounds one request to the API, as a duration such as "30s":
	// from 1s to 10m.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('10m'))",message="timeout must be from 1s to 10m"
	Timeout *Duration `json:"timeout,omitempty"`
}

// LabCSV is an exported list of tube results (docs/lab-api.md, "CSV
// export") in a ConfigMap of the round's namespace. The operator reads it
// at every poll; replacing it with a longer export adds the new rows.
type LabCSV struct {
	// configMapName is the ConfigMap holding the export.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ConfigMapName string `json:"configMapName"`
	// key is the ConfigMap key holding the CSV text.
	// +optional
	// +kubebuilder:default="results.csv"
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// RetestSpec marks a CollectionJob as the single-tube retest (单采单检) of
// a positive pool: it visits only the pool's households, one swab per tube.
type RetestSpec struct {
	// pool is the name of the PositivePool this job retests.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Pool string `json:"pool"`
	// tube is the lab's id of the positive pooled tube.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Tube string `json:"tube"`
	// households are the unit-room ids whose swabs went into the tube: the
	// households to knock.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`
	Households []string `json:"households"`
}

// PositivePoolPhase is where a positive pool's follow-up stands.
// +kubebuilder:validation:Enum=Open;Retesting;AwaitingResults;Resolved
type PositivePoolPhase string

const (
	// PoolOpen means the pooled result is in; no team is retesting yet.
	PoolOpen PositivePoolPhase = "Open"
	// PoolRetesting means a team is retesting the pool's households.
	PoolRetesting PositivePoolPhase = "Retesting"
	// PoolAwaitingResults means the retest's swabs are taken (or its time is
	// up); the lab has not resulted every single tube yet.
	PoolAwaitingResults PositivePoolPhase = "AwaitingResults"
	// PoolResolved means every single tube taken is resulted; the households
	// whose own tube is positive are listed to seal.
	PoolResolved PositivePoolPhase = "Resolved"
)

// PositivePoolSpec is one positive pooled tube as the lab reported it. The
// operator creates it; it never changes.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a positive pool is the lab's result and never changes"
type PositivePoolSpec struct {
	// round is the TestingRound whose swabs went into the tube.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Round string `json:"round"`
	// building is the Building the tube's swabs came from.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Building string `json:"building"`
	// tube is the lab's id of the pooled tube: an opaque reference, never a
	// person's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9A-Za-z]+([-_.][0-9A-Za-z]+)*$`
	Tube string `json:"tube"`
	// households are the unit-room ids whose swabs went into the tube.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`
	Households []string `json:"households"`
	// swabs is the swabs in the tube: the residents to retest one by one.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Swabs int32 `json:"swabs"`
	// swabTime is when the tube was filled, if the lab knows.
	// +optional
	SwabTime *metav1.Time `json:"swabTime,omitempty"`
	// resultTime is when the lab resulted the tube positive.
	// +required
	ResultTime metav1.Time `json:"resultTime"`
}

// PositivePoolStatus is the follow-up of one positive pool, computed from
// its retest CollectionJob and the lab's single-tube results.
type PositivePoolStatus struct {
	// phase is Open, Retesting, AwaitingResults or Resolved.
	// +optional
	Phase PositivePoolPhase `json:"phase,omitempty"`
	// retestJob is the name of the CollectionJob retesting the pool.
	// +optional
	RetestJob string `json:"retestJob,omitempty"`
	// retested is the residents swabbed one by one so far.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Retested int32 `json:"retested,omitempty"`
	// resulted is the single tubes the lab has resulted.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Resulted int32 `json:"resulted,omitempty"`
	// householdsToSeal are the unit-room ids whose own tube is positive.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=32
	HouseholdsToSeal []string `json:"householdsToSeal,omitempty"`
	// retestStartTime is when the retest's first visit started.
	// +optional
	RetestStartTime *metav1.Time `json:"retestStartTime,omitempty"`
	// retestCompletionTime is when the retest's visits ended.
	// +optional
	RetestCompletionTime *metav1.Time `json:"retestCompletionTime,omitempty"`
	// resolvedTime is when the last single tube was resulted.
	// +optional
	ResolvedTime *metav1.Time `json:"resolvedTime,omitempty"`
	// conditions are the pool's conditions, with reasons and messages for
	// people: Incomplete.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PositivePool is one pooled tube of a round that tested positive (混管阳性)
// and its follow-up: a single-tube retest of exactly the households whose
// swabs went into it, admitted ahead of every queued building, then the
// households whose own tube is positive, to seal. The operator creates one
// per positive tube the round's lab source reports, owned by the round.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ppool,categories=sweep
// +kubebuilder:printcolumn:name="Round",type=string,JSONPath=`.spec.round`
// +kubebuilder:printcolumn:name="Building",type=string,JSONPath=`.spec.building`
// +kubebuilder:printcolumn:name="Tube",type=string,JSONPath=`.spec.tube`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Swabs",type=integer,JSONPath=`.spec.swabs`
// +kubebuilder:printcolumn:name="Retested",type=integer,JSONPath=`.status.retested`
// +kubebuilder:printcolumn:name="To Seal",type=string,JSONPath=`.status.householdsToSeal`
// +kubebuilder:printcolumn:name="Result",type=date,JSONPath=`.spec.resultTime`
type PositivePool struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the positive tube as the lab reported it.
	// +required
	Spec PositivePoolSpec `json:"spec"`

	// status is the pool's follow-up.
	// +optional
	Status PositivePoolStatus `json:"status,omitempty"`
}

// PositivePoolList is a list of PositivePools.
//
// +kubebuilder:object:root=true
type PositivePoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PositivePool `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &PositivePool{}, &PositivePoolList{})
}

// Lab defaults: the CRD sets them on every new round; these cover a value
// stored before the field existed or stored without being a duration.
const (
	DefaultLabPollInterval  = time.Minute
	DefaultRetestWithin     = 4 * time.Hour
	DefaultRetestDeadline   = 24 * time.Hour
	DefaultDrillTurnaround  = 4 * time.Hour
	DefaultPositivePermille = 10
)

// Or is the duration, or def when d is unset, not positive or not a
// duration.
func (d *Duration) Or(def time.Duration) time.Duration {
	if d == nil || d.InvalidText != "" || d.Duration <= 0 {
		return def
	}
	return d.Duration
}

// PollIntervalOrDefault is how often the lab is polled.
func (l *LabSpec) PollIntervalOrDefault() time.Duration {
	return l.PollInterval.Or(DefaultLabPollInterval)
}

// RetestWithinOrDefault is the time a positive pool has to be retested.
func (l *LabSpec) RetestWithinOrDefault() time.Duration {
	return l.RetestWithin.Or(DefaultRetestWithin)
}

// RetestDeadlineOrDefault is how long after its pooled result a retest may
// run.
func (l *LabSpec) RetestDeadlineOrDefault() time.Duration {
	return l.RetestDeadline.Or(DefaultRetestDeadline)
}
