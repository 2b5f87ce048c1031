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

// ConcurrencyPolicy says what a TestingSchedule does when a round is due
// while an earlier round of the schedule is still running.
// +kubebuilder:validation:Enum=Forbid;Replace;Allow
type ConcurrencyPolicy string

const (
	// ConcurrencyForbid skips the new round while an earlier one runs; it
	// starts late if the earlier round ends within startingDeadlineSeconds.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyReplace deletes the running round and starts the new one.
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
	// ConcurrencyAllow starts the new round alongside the running one.
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
)

// RoundTemplateSpec is a TestingRound's spec with a window relative to the
// scheduled time: each round starts at its scheduled time and its deadline
// is duration later.
type RoundTemplateSpec struct {
	// buildingSelector picks the Buildings of each round by label. Empty or
	// absent selects every Building in the namespace.
	// +optional
	BuildingSelector *metav1.LabelSelector `json:"buildingSelector,omitempty"`

	// duration is how long each round runs: its deadline is the scheduled
	// time plus duration, e.g. "12h" for a round from 06:00 to 18:00. From
	// 1m to 168h (7 days).
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('168h'))",message="duration must be from 1m to 168h"
	Duration Duration `json:"duration"`

	// teams is how many buildings each round sweeps at once. Default 10.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Teams int32 `json:"teams,omitempty"`

	// order is the order in which buildings are admitted: SealedFirst
	// (default) or Name.
	// +optional
	// +kubebuilder:default=SealedFirst
	Order RoundOrder `json:"order,omitempty"`

	// poolSize is swabs per tube: 1, 5, 10 (default) or 20.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Enum=1;5;10;20
	PoolSize int32 `json:"poolSize,omitempty"`

	// visits is the re-knock policy of each round.
	// +optional
	// +kubebuilder:default={}
	Visits VisitPolicy `json:"visits,omitempty"`

	// supplies is how each round forecasts tubes, swabs and tube bags.
	// +optional
	// +kubebuilder:default={}
	Supplies SuppliesPolicy `json:"supplies,omitempty"`

	// collector is what runs each visit of each round; its source is
	// required (http, csv, or drill for an exercise).
	// +required
	Collector CollectorSpec `json:"collector"`

	// ttlSecondsAfterFinished deletes each round this many seconds after it
	// finished. Usually left unset: the history limits keep the last rounds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// RoundTemplate is the round a TestingSchedule creates at each scheduled
// time.
type RoundTemplate struct {
	// metadata holds labels and annotations copied to each round.
	// +optional
	Metadata RoundTemplateMetadata `json:"metadata,omitempty"`

	// spec is each round's spec, with a relative window.
	// +required
	Spec RoundTemplateSpec `json:"spec"`
}

// RoundTemplateMetadata is the metadata copied to each round.
type RoundTemplateMetadata struct {
	// labels are added to each round.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations are added to each round.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// TestingScheduleSpec is when rounds run and what each round is.
type TestingScheduleSpec struct {
	// schedule is when rounds start, in cron format ("minute hour day-of-month
	// month day-of-week", e.g. "0 6 * * *" for 06:00 every day), read in
	// timeZone. Descriptors such as "@daily" work too. Set the time zone in
	// timeZone, not with CRON_TZ= or TZ= here.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.contains('TZ=')",message="set the time zone in spec.timeZone, not with TZ= or CRON_TZ= in spec.schedule"
	Schedule string `json:"schedule"`

	// timeZone is the IANA time zone the schedule is read in, e.g.
	// "Asia/Shanghai". Default UTC. An unknown zone stops the schedule, with
	// the Ready condition saying why, until it is fixed.
	// +optional
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`
	TimeZone string `json:"timeZone,omitempty"`

	// startingDeadlineSeconds is how late a round may still start after its
	// scheduled time: when the operator was down, or a round was forbidden
	// while the previous one ran. A round missed by more is skipped and
	// recorded in status.lastMissedTime. Unset: no limit.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// concurrencyPolicy is what happens when a round is due while an earlier
	// round of this schedule still runs: Forbid (default) skips the new
	// round, Replace deletes the running one and starts the new one, Allow
	// runs both.
	// +optional
	// +kubebuilder:default=Forbid
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// suspend stops the schedule from creating rounds. Rounds already
	// created are not affected.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// successfulRoundsHistoryLimit is how many Completed rounds to keep.
	// Default 3.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	SuccessfulRoundsHistoryLimit *int32 `json:"successfulRoundsHistoryLimit,omitempty"`

	// failedRoundsHistoryLimit is how many DeadlineExceeded rounds to keep.
	// Default 3: their missed lists are what the health-code office follows
	// up.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	FailedRoundsHistoryLimit *int32 `json:"failedRoundsHistoryLimit,omitempty"`

	// roundTemplate is the round created at each scheduled time, named
	// "<schedule>-<yyyymmddhhmm>" from the scheduled time in timeZone and
	// owned by this schedule.
	// +required
	RoundTemplate RoundTemplate `json:"roundTemplate"`

	// mopUp, when set, sends teams back for the residents a round missed
	// (补采): mopUp.after past the end of the schedule's latest round, if
	// it missed anyone, the schedule creates that round's mop-up round
	// (spec.mopUpOf), and so on up to mopUp.rounds times while residents
	// are still missed. Unset: no mop-up.
	// +optional
	MopUp *MopUpPolicy `json:"mopUp,omitempty"`
}

// MopUpPolicy is when and how long a TestingSchedule mops up its rounds.
//
// Mop-up rounds are named "<round>-mopup-<n>" (n from 1) after the round
// they follow up, start mopUp.after past the end of the round before them
// (the round, or mop-up n-1), and run for mopUp.duration; the rest of
// their spec is the round template's. Only the schedule's latest round is
// mopped up: once the next round is created, it sweeps everyone again. A
// mop-up whose window has already passed when it falls due (the operator
// was down) is not created. Mop-ups do not count against the concurrency
// policy nor the history limits: they are deleted with their round.
type MopUpPolicy struct {
	// after is how long after a round ends its mop-up round starts, as a
	// duration such as "2h": time for the missed list to reach the teams
	// and for residents told to stay in to be home. From 0s to 72h.
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) <= duration('72h')",message="after must be at most 72h"
	After Duration `json:"after"`

	// duration is how long each mop-up round runs: its deadline is its
	// start plus duration. From 1m to 168h. Default 4h.
	// +optional
	// +kubebuilder:default="4h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('168h'))",message="duration must be from 1m to 168h"
	Duration *Duration `json:"duration,omitempty"`

	// rounds is how many mop-up rounds at most follow one round, each going
	// back for the residents the one before it missed, until nobody is
	// left. From 1 to 5. Default 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	Rounds int32 `json:"rounds,omitempty"`
}

// DefaultMopUpDuration is mopUp.duration when it is unset.
const DefaultMopUpDuration = 4 * time.Hour

// DurationOrDefault is how long each mop-up round runs.
func (p *MopUpPolicy) DurationOrDefault() time.Duration {
	return p.Duration.Or(DefaultMopUpDuration)
}

// RoundsOrDefault is how many mop-up rounds at most follow one round.
func (p *MopUpPolicy) RoundsOrDefault() int {
	if p.Rounds < 1 {
		return 1
	}
	return int(min(p.Rounds, 5))
}

// TestingScheduleStatus is what the schedule did last and what it runs now.
type TestingScheduleStatus struct {
	// active are the names of this schedule's rounds that have not finished.
	// +optional
	// +listType=set
	Active []string `json:"active,omitempty"`

	// lastScheduleTime is the scheduled time of the last round created.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// lastSuccessfulRound is the name of the last round that Completed.
	// +optional
	LastSuccessfulRound string `json:"lastSuccessfulRound,omitempty"`

	// lastSuccessfulTime is when that round completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// lastMissedTime is the latest scheduled time whose round was not
	// created because it was later than startingDeadlineSeconds.
	// +optional
	LastMissedTime *metav1.Time `json:"lastMissedTime,omitempty"`

	// nextScheduleTime is when the next round is due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// nextMopUpTime is when the next mop-up round (spec.mopUp) is due:
	// mopUp.after past the end of the round it mops up. Empty when none is.
	// +optional
	NextMopUpTime *metav1.Time `json:"nextMopUpTime,omitempty"`

	// conditions: Ready is False with a reason when the schedule or time
	// zone cannot be used.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation this status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// TestingSchedule runs rounds on a schedule, the CronJob pattern for rounds:
// a daily round at 06:00 in Asia/Shanghai, kept for a few days.
//
// Short name `roundsched`, not `ts`: two letters are too easily taken by
// other operators' CRDs, and a short name that another resource also has
// makes kubectl pick one of them silently. In the `sweep` category.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=roundsched,categories=sweep
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="TimeZone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last",type=date,JSONPath=`.status.lastScheduleTime`,description="scheduled time of the last round"
// +kubebuilder:printcolumn:name="Next",type=string,JSONPath=`.status.nextScheduleTime`
// +kubebuilder:printcolumn:name="LastSuccessful",type=string,JSONPath=`.status.lastSuccessfulRound`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.roundTemplate.spec.collector.source`,description="where results come from; drill results are simulated"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TestingSchedule struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is when rounds run and what each round is.
	// +required
	Spec TestingScheduleSpec `json:"spec"`

	// status is what the schedule did last.
	// +optional
	Status TestingScheduleStatus `json:"status,omitempty"`
}

// TestingScheduleList is a list of TestingSchedules.
//
// +kubebuilder:object:root=true
type TestingScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TestingSchedule `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &TestingSchedule{}, &TestingScheduleList{})
}
